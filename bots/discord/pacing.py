"""Per-channel pacing of message posts and edits, so many streaming replies in one channel
stay inside Discord's shared per-channel bucket instead of running into 429s.

``SlotPacer`` is pure: a sliding window of at most ``count`` sends per ``per`` seconds for each
key, with slots reserved first come, first served; the clock is injected. ``Pacer`` wraps it
for asyncio (waits until the reserved slot).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Budget:
    count: int
    per: float
    margin: float = 0.1
    """Extra seconds per window, for clock skew between us and Discord."""


class SlotPacer:
    """Reserves send slots per key; ``reserve`` returns how long to wait before sending."""

    def __init__(self, budget: Budget, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget = budget
        self.clock = clock
        self._slots: dict[Hashable, deque[float]] = {}

    def reserve(self, key: Hashable) -> float:
        now = self.clock()
        window = self.budget.per + self.budget.margin
        slots = self._slots.setdefault(key, deque())
        while slots and slots[0] <= now - window:
            slots.popleft()
        at = now
        if len(slots) >= self.budget.count:
            at = max(now, slots[-self.budget.count] + window)
        slots.append(at)
        return at - now

    def pending(self, key: Hashable) -> int:
        """Reserved slots still inside the window (for tests and metrics)."""
        now = self.clock()
        window = self.budget.per + self.budget.margin
        return sum(1 for t in self._slots.get(key, ()) if t > now - window)

    def forget_idle(self) -> None:
        """Drop keys whose window has passed, so the table doesn't grow forever."""
        now = self.clock()
        window = self.budget.per + self.budget.margin
        for key in [k for k, s in self._slots.items() if not s or s[-1] <= now - window]:
            del self._slots[key]


class Pacer:
    """Asyncio front of :class:`SlotPacer`."""

    def __init__(self, budget: Budget) -> None:
        self.slots = SlotPacer(budget)
        self._uses = 0

    async def wait(self, key: Hashable) -> float:
        delay = self.slots.reserve(key)
        self._uses += 1
        if self._uses % 1024 == 0:
            self.slots.forget_idle()
        if delay > 0:
            await asyncio.sleep(delay)
        return delay


# Discord's per-channel buckets for creating and editing messages, and per interaction token.
CHANNEL_POSTS = Budget(5, 5.0)
CHANNEL_EDITS = Budget(5, 5.0)
WEBHOOK_CALLS = Budget(5, 2.0)


@dataclass(slots=True)
class Pacers:
    """The pacers one bot shares across all its replies."""

    posts: Pacer
    edits: Pacer
    webhooks: Pacer

    @classmethod
    def discord_defaults(cls) -> Pacers:
        return cls(Pacer(CHANNEL_POSTS), Pacer(CHANNEL_EDITS), Pacer(WEBHOOK_CALLS))
