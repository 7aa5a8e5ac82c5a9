"""The app-wide pacing state shared by every reply: one workspace budget per rate-limited
method (``chat.update``, ``chat.startStream``, ``chat.appendStream``, ``chat.stopStream``,
``conversations.replies``), one ``chat.postMessage`` budget per channel, and the per-message
intervals (budgets declared in :mod:`bots.slack.limits` on the shared primitive of
:mod:`bots.common.pacing`, timed with the event loop's clock).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable

from bots.common import pacing_wait
from bots.common.pacing import PerKey, Slots
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
)


class Budget(Slots):
    """A budget for one Web API method, workspace-wide or for one channel: ``try_take`` a
    slot for an optional write, ``book`` (or ``reserve`` and wait for) one for a write that
    must happen; ``deferred`` counts the writes refused or postponed."""

    def __init__(self, rate: Rate, clock: Callable[[], float], *, keep: int = 0) -> None:
        super().__init__(rate.limit, clock, keep=keep)
        self.rate = rate

    def wait_hint(self) -> float:
        """Seconds until ``try_take`` can succeed."""
        return self.wait()

    async def reserve(self) -> None:
        """Book a slot and wait until it is due."""
        await pacing_wait.reserve(self)


class ChannelBudgets(PerKey[Budget]):
    """A budget per channel, for a method Slack limits per channel (``chat.postMessage``).
    Budgets that are idle again are forgotten once many channels were seen."""

    def __init__(self, rate: Rate, clock: Callable[[], float]) -> None:
        super().__init__(lambda: Budget(rate, clock))
        self.rate = rate

    def book(self, channel: Hashable) -> float:
        """See :meth:`Budget.book`."""
        return self[channel].book()

    async def reserve(self, channel: Hashable) -> None:
        await self[channel].reserve()


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
        """Without a slot, a reply message is posted and updated instead of streamed."""
        self.stream_appends = Budget(stream_appends, self.clock)
        self.stream_stops = Budget(stream_stops, self.clock)
        self.history_reads = Budget(history_reads, self.clock)
        """Without a slot, a mid-thread mention starts without the thread's history."""
        self.posts = ChannelBudgets(channel_posts, self.clock)
        """chat.postMessage per channel: a post waits for its channel's turn."""
        self.message_edit_interval = message_edit_interval
        self.stream_flush_interval = stream_flush_interval

    def now(self) -> float:
        return self.clock()
