"""Pure pacing logic with an injected clock: a workspace-wide token bucket for ``chat.update``
(kept below Slack's Tier 3, about 50 per minute) and per-message edit spacing.

Intermediate edits only ``try_take`` a token and are deferred otherwise; final edits
``reserve`` one (going into debt, FIFO), so finals are never starved and intermediate edits
wait until the debt is paid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

UPDATES_PER_MINUTE = 40.0
"""Workspace-wide chat.update budget: below Tier 3 (50+/min) with headroom."""
UPDATE_BURST = 8
MESSAGE_EDIT_INTERVAL = 1.0
"""At most about one chat.update per second per message."""
STREAM_FLUSH_INTERVAL = 0.5
"""Pending streamed text is appended at least this often (the SDK helper has no timer)."""


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

    def try_take(self, now: float) -> bool:
        """Take a token if one is free (never while finals are waiting in debt)."""
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def reserve(self, now: float) -> float:
        """Reserve the next token; returns how long to wait before using it."""
        self._refill(now)
        self.tokens -= 1.0
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def wait_hint(self, now: float) -> float:
        """How long until ``try_take`` can succeed."""
        self._refill(now)
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate


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
