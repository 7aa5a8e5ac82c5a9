"""Pacing of the bot's Discord requests, so many streaming replies stay out of 429s.

``SlotPacer`` is pure: a sliding window of at most ``count`` sends per ``per`` seconds for each
key, with slots reserved first come, first served; the clock is injected. ``Pacer`` wraps it
for asyncio (waits until the reserved slot). ``Pacers`` are the ones a bot shares: message
posts and edits per channel (Discord buckets all of a channel's edits together), interaction
webhook calls per token, and every REST request of the bot together (the global limit).

Why fixed budgets are safe: they start at (or under) what Discord reports for these routes,
and they only ever tighten, from the ``X-RateLimit-Limit`` / ``X-RateLimit-Reset-After``
headers of the responses (:mod:`bots.discord.http_pacing`). Should Discord's real limit still
be lower than a budget, discord.py itself tracks those headers and waits before sending into
an exhausted bucket, and retries a 429 that carries ``Via``: a reply is delayed, never lost,
and the renderer's final edit always goes out. Budgets are never loosened from headers: a
generous budget would only move the queueing from our pacer (fair, coalescing) to
discord.py's bucket (blind).
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

    @property
    def budget(self) -> Budget:
        return self.slots.budget

    def tighten(self, count: int, per: float) -> bool:
        """Adopt a stricter budget (fewer sends, or a longer window) than the current one;
        never a looser one. True if the budget changed."""
        old = self.slots.budget
        new = Budget(max(1, min(old.count, count)), min(MAX_WINDOW, max(old.per, per)), old.margin)
        if new == old:
            return False
        self.slots.budget = new
        return True

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
GLOBAL_REQUESTS = Budget(45, 1.0)
"""Discord allows a bot 50 requests per second in all (interaction endpoints excepted)."""
GLOBAL_KEY = "global"
MAX_WINDOW = 60.0
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
    """Every REST request of the bot except interaction responses, under one key."""

    @classmethod
    def discord_defaults(cls) -> Pacers:
        return cls(Pacer(CHANNEL_POSTS), Pacer(CHANNEL_EDITS), Pacer(WEBHOOK_CALLS))
