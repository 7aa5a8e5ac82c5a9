"""The app-wide pacing state shared by every reply: one workspace budget per rate-limited
method (``chat.update``, ``chat.startStream``, ``chat.appendStream``, ``chat.stopStream``,
``conversations.replies``; pure logic in :mod:`bots.slack.limits`, timed with the event
loop's clock) and the per-message intervals.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bots.slack.limits import (
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
    """A workspace-wide budget for one Web API method."""

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

    async def reserve(self) -> None:
        """Wait for a token for a write that must happen (these queue ahead of optional
        writes)."""
        delay = self._bucket.reserve(self._clock())
        if delay > 0:
            self.deferred += 1
            await asyncio.sleep(delay)


class SlackPacing:
    def __init__(
        self,
        *,
        updates: Rate = UPDATES,
        stream_starts: Rate = STREAM_STARTS,
        stream_appends: Rate = STREAM_APPENDS,
        stream_stops: Rate = STREAM_STOPS,
        history_reads: Rate = HISTORY_READS,
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
        self.message_edit_interval = message_edit_interval
        self.stream_flush_interval = stream_flush_interval

    def now(self) -> float:
        return self.clock()

    @property
    def deferred_updates(self) -> int:
        """chat.update calls postponed by the workspace budget."""
        return self.updates.deferred
