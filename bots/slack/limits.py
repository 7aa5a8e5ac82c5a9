"""Slack's budgets, declared on the shared pacing primitive (:mod:`bots.common.pacing`): a
drip limit (a token bucket) per write method below its Slack rate limit (workspace-wide tiers,
and chat.postMessage per channel), and per-message write spacing (a one-slot window).

| Method               | Slack tier         | Our budget (per minute, burst) |
|----------------------|--------------------|--------------------------------|
| ``chat.update``      | Tier 3, 50+/min    | 40, 8                          |
| ``chat.startStream`` | Tier 2, 20+/min    | 16, 3                          |
| ``chat.appendStream``| Tier 4, 100+/min   | 80, 16                         |
| ``chat.stopStream``  | Tier 2, 20+/min    | 16, 3                          |
| ``conversations.replies`` | about 1/min for non-Marketplace apps | 1, 1      |
| ``chat.postMessage`` | about 1/s per channel, short bursts | 50, 3 per channel |

A budget of ``per_minute`` with ``burst`` is ``Limit(burst, burst * 60 / per_minute,
drip=True)``: ``burst`` at once, then one slot back every ``60 / per_minute`` seconds, as
Slack's "N+ per minute, bursts tolerated" wants (see :mod:`bots.common.pacing` for why not a
sliding window). Intermediate writes (edits, appends) only ``try_take`` a slot and are
deferred otherwise, their text coalescing meanwhile; intermediate edits leave half the update
burst for final edits. A stream start without a slot becomes a posted message. Writes that
must happen (final edits, stream stops) ``reserve`` a slot, booked behind earlier bookings
(FIFO), so they are never starved and intermediate writes wait until the booked slots are
used. Posts book their channel's next slot when they are asked for and go out when it is due
(see :mod:`bots.slack.reply_message`).
"""

from __future__ import annotations

from dataclasses import dataclass

from bots.common.pacing import Clock, Limit, Slots


@dataclass(frozen=True, slots=True)
class Rate:
    """A budget: ``per_minute`` sustained, ``burst`` at once."""

    per_minute: float
    burst: int

    def __post_init__(self) -> None:
        if self.per_minute <= 0 or self.burst < 1:
            raise ValueError("a budget needs a positive rate and burst")

    def faster(self, speedup: float) -> Rate:
        """The same burst at ``speedup`` times the rate (tests and benchmarks compress time)."""
        return Rate(self.per_minute * speedup, self.burst)

    @property
    def limit(self) -> Limit:
        """``burst`` at once, then one more every ``60 / per_minute`` seconds."""
        return Limit(self.burst, self.burst * 60.0 / self.per_minute, drip=True)


UPDATES = Rate(40.0, 8)
"""Workspace-wide chat.update budget: below Tier 3 (50+/min) with headroom."""
STREAM_STARTS = Rate(16.0, 3)
"""Workspace-wide chat.startStream budget: below Tier 2 (20+/min)."""
STREAM_APPENDS = Rate(80.0, 16)
"""Workspace-wide chat.appendStream budget: below Tier 4 (100+/min)."""
STREAM_STOPS = Rate(16.0, 3)
"""Workspace-wide chat.stopStream budget: below Tier 2 (20+/min)."""
CHANNEL_POSTS = Rate(50.0, 3)
"""Per-channel chat.postMessage budget: a burst of a few, then below Slack's ~1 per second."""
HISTORY_READS = Rate(1.0, 1)
"""conversations.replies budget (the optional missed-history read of a mid-thread mention)."""
MESSAGE_EDIT_INTERVAL = 1.0
"""At most about one chat.update per second per message."""
STREAM_FLUSH_INTERVAL = 0.5
"""Pending streamed text is appended this often, budget permitting (the SDK helper has no
timer)."""


def message_pacer(interval: float, clock: Clock) -> Slots:
    """Spacing of writes to one message: one per ``interval`` seconds (``take`` marks a
    write, ``wait`` is the time until the next one is allowed)."""
    return Slots(Limit(1, interval), clock)
