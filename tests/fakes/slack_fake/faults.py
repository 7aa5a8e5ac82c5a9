"""Scriptable fault injection and workspace-wide rate limits for the fake Slack Web API.

``Fault.error("code")`` answers ``{"ok": false, "error": code}``; ``Fault.rate_limited(n)``
answers HTTP 429 with ``Retry-After: n``; ``Fault.status(500)`` an HTTP error;
``Fault.delay(s)`` only slows the call down. A :class:`RateLimit` models a Slack rate limit
with a token bucket, shared by the whole workspace (a tier) or by one channel;
:data:`SLACK_TIERS` lists the documented tiers of the methods a reply uses and
:data:`SLACK_CHANNEL_LIMITS` the per-channel ones.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SLACK_TIERS: dict[str, tuple[float, int]] = {
    "chat.update": (50.0, 10),  # Tier 3
    "chat.startStream": (20.0, 4),  # Tier 2
    "chat.appendStream": (100.0, 20),  # Tier 4
    "chat.stopStream": (20.0, 4),  # Tier 2
    "conversations.replies": (1.0, 1),  # non-Marketplace apps, since 2025
}
"""(per minute, burst) by method. Slack documents each tier's sustained rate ("20+ per
minute") and only says occasional bursts are tolerated, so the fake allows a fifth of a
minute's calls at once."""

SLACK_CHANNEL_LIMITS: dict[str, tuple[float, int]] = {
    "chat.postMessage": (60.0, 4),
}
"""(per minute, burst) by method, per channel. chat.postMessage is documented as about one
message per second per channel, "short bursts" allowed; the fake allows four at once."""


@dataclass(frozen=True)
class Fault:
    kind: str
    code: str = ""
    status: int = 200
    retry_after: int = 1
    seconds: float = 0.0

    @classmethod
    def error(cls, code: str) -> Fault:
        """Answer HTTP 200 with ``{"ok": false, "error": code}``."""
        return cls("error", code=code)

    @classmethod
    def rate_limited(cls, retry_after: int = 1) -> Fault:
        """Answer HTTP 429 with ``Retry-After``."""
        return cls("ratelimited", status=429, retry_after=retry_after)

    @classmethod
    def http_status(cls, status: int) -> Fault:
        """Answer a bare HTTP error status."""
        return cls("status", status=status)

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Slow the call down, then answer normally."""
        return cls("delay", seconds=seconds)


@dataclass
class Injection:
    """A fault for one API method, fired ``times`` times (None: forever) after ``after``
    matching calls went through, for calls whose arguments satisfy ``when``."""

    method: str
    fault: Fault
    times: int | None = 1
    after: int = 0
    when: Callable[[dict[str, Any]], bool] | None = None
    seen: int = 0
    fired: int = 0

    def take(self, method: str, args: dict[str, Any]) -> Fault | None:
        if method != self.method or (self.when is not None and not self.when(args)):
            return None
        self.seen += 1
        if self.seen <= self.after:
            return None
        if self.times is not None and self.fired >= self.times:
            return None
        self.fired += 1
        return self.fault


@dataclass
class RateLimit:
    """A token bucket (for the workspace or one channel): ``per_minute`` sustained, ``burst``
    at once."""

    per_minute: float
    burst: int = 1
    clock: Callable[[], float] = time.monotonic
    tokens: float = field(init=False)
    stamp: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)
        self.stamp = self.clock()

    def take(self) -> int | None:
        """Consume one token; if none is left, return the Retry-After seconds instead."""
        now = self.clock()
        rate = self.per_minute / 60.0
        self.tokens = min(float(self.burst), self.tokens + (now - self.stamp) * rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - self.tokens) / rate))
