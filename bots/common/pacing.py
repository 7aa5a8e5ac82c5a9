"""The one pacing primitive both platforms' budgets are built from: :class:`Slots`, one key's
use of a :class:`Limit` ("``count`` sends per ``per`` seconds"), pure logic with an injected
clock (the async waiting lives in :mod:`bots.common.pacing_wait`), and :class:`PerKey`, a
table of them per channel or token that forgets the idle ones.

A used slot comes back at its *release time*; a send fits while fewer than ``count`` slots are
held (released later than now). ``Slots`` keeps the release times, oldest first, and that one
log answers everything: ``due`` (when one more send fits, keeping ``keep`` slots free for
writes that must happen), ``try_take(keep)``, ``book`` (a FIFO reservation: the earliest time
a send fits behind every booking already made, appended to the log, so later optional takes
see the booked slots as held and can never eat them), ``idle`` and ``held``.

How a used slot comes back is the one thing a limit chooses, because the two platforms count
differently:

- ``Limit(count, per)``, a **sliding window**: each slot comes back ``per`` seconds after its
  own send, so no window of ``per`` seconds ever holds more than ``count`` sends. Discord's
  limits are strict counts per fixed window (5 per 5 s per channel, 50 per second in all,
  resetting at times we don't know); a sliding window of the same length is safe whatever the
  phase, at full throughput. A token bucket can't be: burst ``count`` plus refill
  ``count/per`` lets up to ``2·count - 1`` through in one window, and would 429.
- ``Limit(count, per, drip=True)``, a **drip**: the slots come back one at a time, one every
  ``per/count`` seconds (a release is the previous release or the send, whichever is later,
  plus ``per/count``). That is exactly a token bucket with burst ``count`` and rate
  ``count/per``, and what Slack's tiers need: "N+ per minute, bursts tolerated", which Slack
  (and our fake) measure like a bucket. A sliding window can't keep both the burst and the
  pace there: a window is only safe under a bucket if it holds no more than the bucket's
  burst and ``count/per`` is no more than its rate, so "40 a minute, 8 at once" becomes
  8 per 12 s, whose eighth send stalls the rest of the 12 s (a streamed reply would freeze for
  seconds where today it keeps flowing); and a kept share of a window is a share of the
  throughput (intermediate ``chat.update`` edits would drop to half the rate), where keeping
  tokens in a bucket only keeps part of the burst.

Everything else (the log, FIFO bookings, ``keep``, waiting hints, idleness, retiming from
Discord's headers, forgetting idle keys) is one implementation for both.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Limit:
    """``count`` sends per ``per`` seconds: in any window of ``per`` seconds (a sliding
    window), or ``count`` at once then one every ``per / count`` seconds (``drip``)."""

    count: int
    per: float
    drip: bool = False

    def __post_init__(self) -> None:
        if self.count < 1 or not self.per > 0:
            raise ValueError("a limit needs at least one send per a positive time")

    @property
    def spacing(self) -> float:
        """Seconds between slots coming back, at the sustained rate."""
        return self.per / self.count


class Slots:
    """One key's slots under a limit: the release times of the held ones, oldest first."""

    def __init__(self, limit: Limit, clock: Clock, *, keep: int = 0) -> None:
        self.limit = limit
        self.clock = clock
        self.keep = keep
        """Slots optional writes (``try_take``, ``wait``) leave free by default."""
        self.deferred = 0
        """Writes refused (``try_take``) or booked for later (``book``): for logs and
        benchmarks."""
        self._releases: deque[float] = deque()

    def _prune(self, now: float) -> deque[float]:
        """The release times, without those past except the newest one (kept so
        :meth:`retime` still knows when the last slot was used)."""
        releases = self._releases
        while len(releases) > 1 and releases[0] <= now:
            releases.popleft()
        return releases

    def held(self) -> int:
        """Slots in use now (bookings included)."""
        now = self.clock()
        releases = self._prune(now)
        return len(releases) - (1 if releases and releases[0] <= now else 0)

    def _due(self, now: float, keep: int | None) -> float:
        need = self.limit.count - (self.keep if keep is None else keep)
        if need < 1:
            return math.inf
        releases = self._prune(now)
        return max(now, releases[-need]) if len(releases) >= need else now

    def due(self, keep: int | None = None) -> float:
        """The clock time from which one more send fits while ``keep`` slots stay free
        (``inf`` when ``keep`` leaves none)."""
        return self._due(self.clock(), keep)

    def wait(self, keep: int | None = None) -> float:
        """Seconds until one more send fits while ``keep`` slots stay free (0: now)."""
        now = self.clock()
        return max(0.0, self._due(now, keep) - now)

    def try_take(self, keep: int | None = None) -> bool:
        """Take a slot now if one is free beyond ``keep`` (never one a booking holds)."""
        now = self.clock()
        if self._due(now, keep) > now:
            self.deferred += 1
            return False
        self._record(now, now)
        return True

    def take(self) -> None:
        """Record a send now, room or not (callers check ``wait`` first)."""
        now = self.clock()
        self._record(now, now)

    def book(self) -> float:
        """Reserve the earliest slot behind every booking made before (first come first
        served); returns the clock time from which it may be used."""
        now = self.clock()
        at = self._due(now, 0)
        if at > now:
            self.deferred += 1
        self._record(at, now)
        return at

    def idle(self) -> bool:
        """Nothing held: forgetting these slots and starting afresh changes nothing."""
        now = self.clock()
        releases = self._prune(now)
        return not releases or releases[-1] <= now

    def retime(self, limit: Limit) -> None:
        """Adopt ``limit``; slots already held come back as much later (or sooner) as its
        ``per`` is longer (or shorter)."""
        shift = limit.per - self.limit.per
        self._releases = deque(r + shift for r in self._releases)
        self.limit = limit

    def _record(self, at: float, now: float) -> None:
        releases = self._prune(now)
        if self.limit.drip:
            last = releases[-1] if releases else at
            releases.append(max(at, last) + self.limit.spacing)
        else:
            bisect.insort(releases, at + self.limit.per)


S = TypeVar("S", bound=Slots)


class PerKey(Generic[S]):
    """Slots per key (a channel, a token, the one global key), made on first use; once
    ``KEEP`` keys are known, idle ones are forgotten before a new one is added."""

    KEEP = 1000

    def __init__(self, make: Callable[[], S]) -> None:
        self._make = make
        self._slots: dict[Hashable, S] = {}
        self._forgotten_deferred = 0

    def __getitem__(self, key: Hashable) -> S:
        slots = self._slots.get(key)
        if slots is None:
            if len(self._slots) >= self.KEEP:
                self.forget_idle()
            slots = self._slots[key] = self._make()
        return slots

    def __len__(self) -> int:
        return len(self._slots)

    def __iter__(self) -> Iterator[S]:
        return iter(list(self._slots.values()))

    def forget_idle(self) -> None:
        for key, slots in list(self._slots.items()):
            if slots.idle():
                self._forgotten_deferred += slots.deferred
                del self._slots[key]

    @property
    def deferred(self) -> int:
        """Writes deferred, over all keys (forgotten ones included)."""
        return self._forgotten_deferred + sum(s.deferred for s in self._slots.values())
