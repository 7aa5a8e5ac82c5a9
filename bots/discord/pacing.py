"""The budgets of the bot's Discord requests, so many streaming replies stay out of 429s:
Discord's per-route limits declared as sliding windows of the shared pacing primitive
(:mod:`bots.common.pacing`), and the :class:`Pacer` that learns stricter ones from headers.

``Pacers`` are the ones a bot shares: message posts and edits per channel (Discord buckets all
of a channel's edits together), interaction webhook calls per token, and every REST request
of the bot together (the global limit). :mod:`bots.discord.http_pacing` applies them to each
request discord.py sends, with :func:`bots.common.pacing_wait.acquire`: it waits until
*every* given pacer has room for its key, then takes the slot in all of them at once, right
before the request goes out, so a request never holds a slot in one window while it waits
for another, and what Discord counts is what we counted.

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

import time
from collections.abc import Hashable
from dataclasses import dataclass, field

from bots.common.pacing import Clock, Limit, PerKey, Slots


@dataclass(frozen=True, slots=True)
class Budget:
    """``count`` requests per ``per`` seconds, as Discord states its limits."""

    count: int
    per: float
    margin: float = 0.1
    """Extra seconds per window, for clock skew and network jitter between us and Discord."""

    @property
    def window(self) -> float:
        return self.per + self.margin

    @property
    def limit(self) -> Limit:
        """The sliding window that keeps to this budget."""
        return Limit(self.count, self.window)


class Pacer(PerKey[Slots]):
    """One budget, applied per key (a channel, a token, or the one global key)."""

    def __init__(self, budget: Budget, clock: Clock = time.monotonic) -> None:
        super().__init__(lambda: Slots(self.budget.limit, clock))
        self.budget = budget

    def tighten(self, count: int, per: float) -> bool:
        """Adopt a stricter budget (fewer sends, or a longer window) than the current one;
        never a looser one. True if the budget changed."""
        old = self.budget
        new = Budget(
            max(1, min(old.count, count)), min(WINDOW_LIMIT, max(old.per, per)), old.margin
        )
        if new == old:
            return False
        self.budget = new
        for slots in self:
            slots.retime(new.limit)
        return True

    def has_room(self, key: Hashable, share: float = 1.0) -> bool:
        """Fewer than ``share`` of the budget's sends used in the current window."""
        return self[key].held() < self.budget.count * share


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
