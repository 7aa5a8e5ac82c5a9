"""The assistant pane's thread-context store (ours, not Bolt's default, which calls
conversations.replies that Slack rate-limits hard) and the pane title helper."""

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
    """Pane thread contexts (the channel the user was viewing), newest kept, bounded."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._items: OrderedDict[tuple[str, str], dict[str, str]] = OrderedDict()

    async def save(self, *, channel_id: str, thread_ts: str, context: dict[str, str]) -> None:
        key = (channel_id, thread_ts)
        self._items[key] = dict(context)
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    async def find(self, *, channel_id: str, thread_ts: str) -> AssistantThreadContext | None:
        context = self._items.get((channel_id, thread_ts))
        if not context or not context.get("channel_id"):
            return None
        return AssistantThreadContext(context)


def title_from(text: str) -> str:
    """A pane thread title from the first message: its first line, shortened."""
    first = (text or "").strip().splitlines()[0] if (text or "").strip() else "New chat"
    return first if len(first) <= TITLE_CHARS else first[: TITLE_CHARS - 1].rstrip() + "…"
