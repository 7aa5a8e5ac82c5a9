"""Pure pacing logic with an injected clock: token buckets that keep each write method below
its Slack rate limit (workspace-wide tiers, and chat.postMessage per channel), and per-message
write spacing.

| Method               | Slack tier         | Our budget (per minute, burst) |
|----------------------|--------------------|--------------------------------|
| ``chat.update``      | Tier 3, 50+/min    | 40, 8                          |
| ``chat.startStream`` | Tier 2, 20+/min    | 16, 3                          |
| ``chat.appendStream``| Tier 4, 100+/min   | 80, 16                         |
| ``chat.stopStream``  | Tier 2, 20+/min    | 16, 3                          |
| ``conversations.replies`` | about 1/min for non-Marketplace apps | 1, 1      |
| ``chat.postMessage`` | about 1/s per channel, short bursts | 50, 3 per channel |

Intermediate writes (edits, appends) only ``try_take`` a token and are deferred otherwise,
their text coalescing meanwhile; intermediate edits leave half the update burst for final
edits. A stream start without a token becomes a posted message. Writes that must happen
(final edits, stream stops) ``reserve`` a token, going into debt (FIFO), so they are never
starved and intermediate writes wait until the debt is paid. Posts book their channel's next
token when they are asked for and go out when it is due (see :mod:`bots.slack.reply_message`).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Rate:
    """A budget: ``per_minute`` sustained, ``burst`` at once."""

    per_minute: float
    burst: int

    def faster(self, speedup: float) -> Rate:
        """The same burst at ``speedup`` times the rate (tests and benchmarks compress time)."""
        return Rate(self.per_minute * speedup, self.burst)


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


@dataclass
class TokenBucket:
    rate_per_minute: float
    burst: int
    now: float
    tokens: float = field(init=False)

    def __post_init__(self) -> None:
        if self.rate_per_minute <= 0 or self.burst < 1:
            raise ValueError("a token bucket needs a positive rate and burst")
        self.tokens = float(self.burst)
        self._stamp = self.now

    @property
    def rate(self) -> float:
        return self.rate_per_minute / 60.0

    def _refill(self, now: float) -> None:
        if now > self._stamp:
            self.tokens = min(float(self.burst), self.tokens + (now - self._stamp) * self.rate)
            self._stamp = now

    def try_take(self, now: float, keep: float = 0.0) -> bool:
        """Take a token if one is free beyond ``keep`` tokens left for reservations (never
        while reservations are waiting in debt)."""
        self._refill(now)
        if self.tokens >= 1.0 + keep:
            self.tokens -= 1.0
            return True
        return False

    def reserve(self, now: float) -> float:
        """Reserve the next token; returns how long to wait before using it."""
        self._refill(now)
        self.tokens -= 1.0
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def idle(self, now: float) -> bool:
        """Full again: forgetting this bucket and starting a new one changes nothing."""
        self._refill(now)
        return self.tokens >= self.burst

    def wait_hint(self, now: float, keep: float = 0.0) -> float:
        """How long until ``try_take(keep=keep)`` can succeed."""
        self._refill(now)
        need = 1.0 + keep
        return 0.0 if self.tokens >= need else (need - self.tokens) / self.rate


@dataclass
class MessagePacer:
    """Spacing of writes to one message."""

    interval: float
    last: float | None = None

    def wait(self, now: float) -> float:
        """Seconds until the next write is allowed."""
        if self.last is None:
            return 0.0
        return max(0.0, self.last + self.interval - now)

    def mark(self, now: float) -> None:
        self.last = now
