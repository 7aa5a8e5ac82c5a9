"""Quotas on what one user can make the bot do, as pure bookkeeping with an injected clock:
today, how many new conversations a user may start per hour (each Discord mention opens a
thread, each top-level Slack mention a new conversation)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

HOUR = 3600.0


class NewConversations:
    """At most ``per_hour`` new conversations per user in any sliding hour (0: no limit)."""

    def __init__(self, per_hour: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_hour = per_hour
        self.clock = clock
        self._started: dict[str, deque[float]] = {}

    def allow(self, user: str) -> bool:
        """Count one new conversation for ``user`` if the quota has room; False if not."""
        if self.per_hour <= 0:
            return True
        now = self.clock()
        started = self._started.setdefault(user, deque())
        while started and started[0] <= now - HOUR:
            started.popleft()
        if len(started) >= self.per_hour:
            return False
        started.append(now)
        if len(self._started) > 10_000:  # forget users with nothing in the last hour
            self._started = {u: d for u, d in self._started.items() if d and d[-1] > now - HOUR}
        return True
