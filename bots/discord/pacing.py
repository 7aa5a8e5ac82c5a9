"""Pacing of the bot's Discord requests, so many streaming replies stay out of 429s.

``SendWindow`` is pure: the times requests were actually sent, per key, and how long until one
more fits in a sliding window of ``count`` per ``per`` (+ ``margin``) seconds; the clock is
injected. ``acquire`` waits until *every* given pacer has room for its key, then records the
send in all of them at once, right before the request goes out: a request never holds a slot
in one window while it waits for another, so what Discord counts is what we counted.

``Pacers`` are the ones a bot shares: message posts and edits per channel (Discord buckets all
of a channel's edits together), interaction webhook calls per token, and every REST request
of the bot together (the global limit). :mod:`bots.discord.http_pacing` applies them to each
request discord.py sends.

Why fixed budgets are safe: they start at (or under) what Discord reports for these routes,
and they only ever tighten, from the ``X-RateLimit-Limit`` / ``X-RateLimit-Reset-After``
headers of the responses. Should Discord's real limit still be lower than a budget, discord.py
itself tracks those headers and waits before sending into an exhausted bucket, and retries a
429 that carries ``Via``: a reply is delayed, never lost, and the renderer's final edit always
goes out. Budgets are never loosened from headers: a generous budget would only move the
queueing from our pacer to discord.py's bucket, and would be wrong for limits Discord doesn't
report in headers.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Budget:
    count: int
    per: float
    margin: float = 0.1
    """Extra seconds per window, for clock skew and network jitter between us and Discord."""

    @property
    def window(self) -> float:
        return self.per + self.margin


class SendWindow:
    """Send times per key within the budget's sliding window."""

    def __init__(self, budget: Budget, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget = budget
        self.clock = clock
        self._sent: dict[Hashable, deque[float]] = {}

    def _recent(self, key: Hashable, now: float) -> deque[float]:
        sent = self._sent.get(key)
        if sent is None:
            return deque()
        while sent and sent[0] <= now - self.budget.window:
            sent.popleft()
        return sent

    def wait_time(self, key: Hashable, now: float | None = None) -> float:
        """Seconds until one more send for ``key`` fits the window (0: it fits now)."""
        now = self.clock() if now is None else now
        sent = self._recent(key, now)
        count = self.budget.count
        if len(sent) < count:
            return 0.0
        return max(0.0, sent[-count] + self.budget.window - now)

    def record(self, key: Hashable, now: float | None = None) -> None:
        now = self.clock() if now is None else now
        self._recent(key, now)
        self._sent.setdefault(key, deque()).append(now)

    def used(self, key: Hashable) -> int:
        """Sends for ``key`` inside the current window."""
        return len(self._recent(key, self.clock()))

    def forget_idle(self) -> None:
        """Drop keys whose window has passed, so the table doesn't grow forever."""
        now = self.clock()
        for key in [k for k, s in self._sent.items() if not s or s[-1] <= now - 60.0]:
            del self._sent[key]


class Pacer:
    """One budget, applied per key (a channel, a token, or the one global key)."""

    def __init__(self, budget: Budget, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = SendWindow(budget, clock)
        self._uses = 0

    @property
    def budget(self) -> Budget:
        return self.window.budget

    def tighten(self, count: int, per: float) -> bool:
        """Adopt a stricter budget (fewer sends, or a longer window) than the current one;
        never a looser one. True if the budget changed."""
        old = self.window.budget
        new = Budget(
            max(1, min(old.count, count)), min(WINDOW_LIMIT, max(old.per, per)), old.margin
        )
        if new == old:
            return False
        self.window.budget = new
        return True

    def has_room(self, key: Hashable, share: float = 1.0) -> bool:
        """Fewer than ``share`` of the budget's sends used in the current window."""
        return self.window.used(key) < self.budget.count * share

    def _record(self, key: Hashable, now: float) -> None:
        self.window.record(key, now)
        self._uses += 1
        if self._uses % 1024 == 0:
            self.window.forget_idle()


async def acquire(*holds: tuple[Pacer, Hashable]) -> float:
    """Wait until each ``(pacer, key)`` has room, then record one send in all of them at once.
    Returns the seconds waited."""
    if not holds:
        return 0.0
    clock = holds[0][0].window.clock
    start = clock()
    waited = False
    while True:
        now = clock()
        wait = max(pacer.window.wait_time(key, now) for pacer, key in holds)
        if wait <= 0:
            for pacer, key in holds:
                pacer._record(key, now)
            return now - start if waited else 0.0
        waited = True
        await asyncio.sleep(wait)  # rate limiting: room appears when the window moves on


async def wait_for_room(*holds: tuple[Pacer, Hashable]) -> None:
    """Wait until each ``(pacer, key)`` has room, recording nothing (the request itself is
    recorded by :func:`acquire` when it goes out)."""
    while holds:
        wait = max(pacer.window.wait_time(key) for pacer, key in holds)
        if wait <= 0:
            return
        await asyncio.sleep(wait)


# Discord's per-channel buckets for creating and editing messages, and per interaction token.
CHANNEL_POSTS = Budget(5, 5.0)
CHANNEL_EDITS = Budget(5, 5.0)
WEBHOOK_CALLS = Budget(5, 2.0)
GLOBAL_REQUESTS = Budget(45, 1.0)
"""Discord allows a bot 50 requests per second in all (interaction endpoints excepted)."""
GLOBAL_KEY = "global"
WINDOW_LIMIT = 60.0
"""A learned window longer than this is taken for a glitch and capped."""


def _global_pacer() -> Pacer:
    return Pacer(GLOBAL_REQUESTS)


@dataclass(slots=True)
class Pacers:
    """The pacers one bot shares across all its replies."""

    posts: Pacer
    edits: Pacer
    webhooks: Pacer
    requests: Pacer = field(default_factory=_global_pacer)
    """Every REST request of the bot except interaction endpoints, under one key."""

    @classmethod
    def discord_defaults(cls) -> Pacers:
        return cls(Pacer(CHANNEL_POSTS), Pacer(CHANNEL_EDITS), Pacer(WEBHOOK_CALLS))
