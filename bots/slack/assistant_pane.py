"""The assistant pane's thread-context store (ours, not Bolt's default, which calls
conversations.replies that Slack rate-limits hard), the note that tells the model which
channel the user is viewing, and the pane title helper.

The store is in memory and bounded: after a restart, a pane thread's context is known again
from its next ``assistant_thread_context_changed`` event. (Keeping it across restarts would
need a storage table.)"""

from __future__ import annotations

import logging
from collections import OrderedDict

from slack_bolt.context.assistant.thread_context import AssistantThreadContext
from slack_bolt.context.assistant.thread_context_store.async_store import (
    AsyncAssistantThreadContextStore,
)

log = logging.getLogger(__name__)

TITLE_CHARS = 80


class MemoryThreadContextStore(AsyncAssistantThreadContextStore):
    """Pane thread contexts (the channel the user was viewing), newest kept, bounded; and,
    per pane thread, the viewed channel the model was last told about."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._items: OrderedDict[tuple[str, str], dict[str, str]] = OrderedDict()
        self._told: OrderedDict[tuple[str, str], str] = OrderedDict()

    async def save(self, *, channel_id: str, thread_ts: str, context: dict[str, str]) -> None:
        key = (channel_id, thread_ts)
        self._items[key] = dict(context)
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    async def viewing_news(self, channel_id: str, thread_ts: str) -> str | None:
        """The channel the user is viewing, if the model has not been told about it yet."""
        found = await self.find(channel_id=channel_id, thread_ts=thread_ts)
        viewing = found.channel_id if found is not None else None
        if not viewing or self._told.get((channel_id, thread_ts)) == viewing:
            return None
        return viewing

    def mark_told(self, channel_id: str, thread_ts: str, viewing: str) -> None:
        key = (channel_id, thread_ts)
        self._told[key] = viewing
        self._told.move_to_end(key)
        while len(self._told) > self.capacity:
            self._told.popitem(last=False)

    async def find(self, *, channel_id: str, thread_ts: str) -> AssistantThreadContext | None:
        context = self._items.get((channel_id, thread_ts))
        if not context or not context.get("channel_id"):
            return None
        return AssistantThreadContext(context)


def with_viewing(viewing: str, text: str) -> str:
    """The user's message with a note on the channel they are looking at."""
    return f"(The user is viewing <#{viewing}>.)\n\n{text}"


def title_from(text: str) -> str:
    """A pane thread title from the first message: its first line, shortened."""
    first = (text or "").strip().splitlines()[0] if (text or "").strip() else "New chat"
    return first if len(first) <= TITLE_CHARS else first[: TITLE_CHARS - 1].rstrip() + "…"
