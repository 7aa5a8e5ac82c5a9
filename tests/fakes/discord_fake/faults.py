"""Fault injection and Discord-style rate-limit buckets for the fake Discord.

``Fault`` describes one bad response (a status, a 429 with or without ``Via``); ``Injection``
matches requests by method and path substring. ``Hold`` delays matching responses after the
request took effect (the gateway already echoed it) until the test releases them.
``Buckets`` enforces fixed-window limits per (bucket, major parameter) and produces Discord's
``X-RateLimit-*`` headers.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Fault:
    http_status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def rate_limit(
        cls, retry_after: float = 0.05, *, via: bool = True, global_: bool = False
    ) -> Fault:
        headers = {"X-RateLimit-Scope": "global" if global_ else "user"}
        if via:
            headers["Via"] = "1.1 google"
        body = {"message": "You are being rate limited.", "retry_after": retry_after}
        body["global"] = global_
        return cls(429, body, headers)

    @classmethod
    def status(cls, status: int, code: int = 0, message: str = "injected error") -> Fault:
        return cls(status, {"message": message, "code": code})


@dataclass(slots=True)
class Injection:
    fault: Fault
    method: str | None
    path: str | None
    times: int

    def matches(self, method: str, path: str) -> bool:
        if self.times <= 0:
            return False
        if self.method is not None and self.method != method:
            return False
        return self.path is None or self.path in path


@dataclass(eq=False)
class Hold:
    """Holds the responses of the next ``times`` matching requests until :meth:`release`."""

    method: str | None
    path: str | None
    times: int
    held: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once a response is being held (the request itself has already taken effect)."""
    _released: asyncio.Event = field(default_factory=asyncio.Event)

    def matches(self, method: str, path: str) -> bool:
        if self.times <= 0:
            return False
        if self.method is not None and self.method != method:
            return False
        return self.path is None or self.path in path

    async def wait_released(self) -> None:
        self.held.set()
        await self._released.wait()

    def release(self) -> None:
        self._released.set()


@dataclass(slots=True)
class Limit:
    count: int
    per: float


@dataclass(slots=True)
class _Window:
    reset_at: float
    used: int = 0


@dataclass(slots=True)
class RateLimitHit:
    bucket: str
    major: str
    method: str
    path: str
    injected: bool
    at: float


class Buckets:
    """Fixed-window buckets keyed by (name, major parameter), like Discord's per-route limits."""

    def __init__(self, limits: dict[str, Limit]) -> None:
        self.limits = limits
        self._windows: dict[tuple[str, str], _Window] = {}

    def take(self, name: str, major: str) -> tuple[bool, dict[str, str], float]:
        """Use one request; returns (allowed, headers, retry_after)."""
        limit = self.limits.get(name)
        if limit is None:
            return True, {}, 0.0
        now = time.monotonic()
        win = self._windows.get((name, major))
        if win is None or now >= win.reset_at:
            win = self._windows[(name, major)] = _Window(reset_at=now + limit.per)
        reset_after = max(0.0, win.reset_at - now)
        allowed = win.used < limit.count
        if allowed:
            win.used += 1
        headers = {
            "X-RateLimit-Limit": str(limit.count),
            "X-RateLimit-Remaining": str(max(0, limit.count - win.used)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": f"fake-{name}",
        }
        return allowed, headers, reset_after
