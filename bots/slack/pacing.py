"""The app-wide pacing state shared by every reply: the workspace budget for ``chat.update``
(pure logic in :mod:`bots.slack.limits`, timed with the event loop's clock)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bots.slack.limits import (
    MESSAGE_EDIT_INTERVAL,
    STREAM_FLUSH_INTERVAL,
    UPDATE_BURST,
    UPDATES_PER_MINUTE,
    TokenBucket,
)


class SlackPacing:
    def __init__(
        self,
        *,
        updates_per_minute: float = UPDATES_PER_MINUTE,
        update_burst: int = UPDATE_BURST,
        message_edit_interval: float = MESSAGE_EDIT_INTERVAL,
        stream_flush_interval: float = STREAM_FLUSH_INTERVAL,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.clock = clock or asyncio.get_running_loop().time
        self.updates = TokenBucket(updates_per_minute, update_burst, self.clock())
        self.message_edit_interval = message_edit_interval
        self.stream_flush_interval = stream_flush_interval
        self.deferred_updates = 0
        """Intermediate edits postponed by the workspace budget (for logs and benchmarks)."""

    def now(self) -> float:
        return self.clock()

    def try_update(self) -> bool:
        """A token for an intermediate edit, if one is free right now."""
        ok = self.updates.try_take(self.clock())
        if not ok:
            self.deferred_updates += 1
        return ok

    def update_wait_hint(self) -> float:
        return self.updates.wait_hint(self.clock())

    async def reserve_update(self) -> None:
        """Wait for a token for a final edit (finals queue ahead of intermediate edits)."""
        delay = self.updates.reserve(self.clock())
        if delay > 0:
            await asyncio.sleep(delay)
