"""The app-wide pacing state shared by every reply: one workspace budget per rate-limited
method (``chat.update``, ``chat.startStream``, ``chat.appendStream``, ``chat.stopStream``,
``conversations.replies``), one ``chat.postMessage`` budget per channel, and the per-message
intervals (pure logic in :mod:`bots.slack.limits`, timed with the event loop's clock).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bots.slack.limits import (
    CHANNEL_POSTS,
    HISTORY_READS,
    MESSAGE_EDIT_INTERVAL,
    STREAM_APPENDS,
    STREAM_FLUSH_INTERVAL,
    STREAM_STARTS,
    STREAM_STOPS,
    UPDATES,
    Rate,
    TokenBucket,
)


class Budget:
    """A budget for one Web API method, workspace-wide or for one channel."""

    def __init__(self, rate: Rate, clock: Callable[[], float], *, keep: float = 0.0) -> None:
        self.rate = rate
        self.keep = keep
        """Tokens optional writes leave for the writes that must happen."""
        self._clock = clock
        self._bucket = TokenBucket(rate.per_minute, rate.burst, clock())
        self.deferred = 0
        """Writes this budget refused or postponed (for logs and benchmarks)."""

    def try_take(self) -> bool:
        """A token for an optional write, if one is free right now."""
        ok = self._bucket.try_take(self._clock(), self.keep)
        if not ok:
            self.deferred += 1
        return ok

    def wait_hint(self) -> float:
        """Seconds until ``try_take`` can succeed."""
        return self._bucket.wait_hint(self._clock(), self.keep)

    def book(self) -> float:
        """Reserve the next token for a write that must happen (these queue ahead of optional
        writes, first come first served); returns the clock time from which it may be used."""
        now = self._clock()
        delay = self._bucket.reserve(now)
        if delay > 0:
            self.deferred += 1
        return now + delay

    async def reserve(self) -> None:
        """Book a token and wait until it is due."""
        delay = self.book() - self._clock()
        if delay > 0:
            await asyncio.sleep(delay)

    def idle(self) -> bool:
        return self._bucket.idle(self._clock())


class ChannelBudgets:
    """A budget per channel, for a method Slack limits per channel (``chat.postMessage``).
    Budgets that are full again are forgotten once many channels were seen."""

    KEEP = 1000

    def __init__(self, rate: Rate, clock: Callable[[], float]) -> None:
        self.rate = rate
        self._clock = clock
        self._budgets: dict[str, Budget] = {}
        self._forgotten_deferred = 0

    def __getitem__(self, channel: str) -> Budget:
        budget = self._budgets.get(channel)
        if budget is None:
            if len(self._budgets) >= self.KEEP:
                self._forget_idle()
            budget = self._budgets[channel] = Budget(self.rate, self._clock)
        return budget

    def book(self, channel: str) -> float:
        """See :meth:`Budget.book`."""
        return self[channel].book()

    async def reserve(self, channel: str) -> None:
        await self[channel].reserve()

    @property
    def deferred(self) -> int:
        """Writes postponed, over all channels."""
        return self._forgotten_deferred + sum(b.deferred for b in self._budgets.values())

    def __len__(self) -> int:
        return len(self._budgets)

    def _forget_idle(self) -> None:
        for channel, budget in list(self._budgets.items()):
            if budget.idle():
                self._forgotten_deferred += budget.deferred
                del self._budgets[channel]


class SlackPacing:
    def __init__(
        self,
        *,
        updates: Rate = UPDATES,
        stream_starts: Rate = STREAM_STARTS,
        stream_appends: Rate = STREAM_APPENDS,
        stream_stops: Rate = STREAM_STOPS,
        history_reads: Rate = HISTORY_READS,
        channel_posts: Rate = CHANNEL_POSTS,
        message_edit_interval: float = MESSAGE_EDIT_INTERVAL,
        stream_flush_interval: float = STREAM_FLUSH_INTERVAL,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.clock = clock or asyncio.get_running_loop().time
        self.updates = Budget(updates, self.clock, keep=updates.burst // 2)
        """Intermediate edits leave half the burst for final edits."""
        self.stream_starts = Budget(stream_starts, self.clock)
        """Without a token, a reply message is posted and updated instead of streamed."""
        self.stream_appends = Budget(stream_appends, self.clock)
        self.stream_stops = Budget(stream_stops, self.clock)
        self.history_reads = Budget(history_reads, self.clock)
        """Without a token, a mid-thread mention starts without the thread's history."""
        self.posts = ChannelBudgets(channel_posts, self.clock)
        """chat.postMessage per channel: a post waits for its channel's turn."""
        self.message_edit_interval = message_edit_interval
        self.stream_flush_interval = stream_flush_interval

    def now(self) -> float:
        return self.clock()

    @property
    def deferred_updates(self) -> int:
        """chat.update calls postponed by the workspace budget."""
        return self.updates.deferred
