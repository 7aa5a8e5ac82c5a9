"""The assistant pane's thread-context store (ours, not Bolt's default, which calls
conversations.replies that Slack rate-limits hard), the note that tells the model which
channel the user is viewing, and the pane title helper.

The store keeps a bounded in-memory cache and writes through to the engine's persisted
adapter state, so a pane thread's context survives restarts."""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any, Protocol

from slack_bolt.context.assistant.thread_context import AssistantThreadContext
from slack_bolt.context.assistant.thread_context_store.async_store import (
    AsyncAssistantThreadContextStore,
)

log = logging.getLogger(__name__)

TITLE_CHARS = 80


class StateKeeper(Protocol):
    """Where small values survive restarts (the Engine: ``remember`` / ``recall``)."""

    async def remember(self, namespace: str, key: str, value: Any) -> None: ...
    async def recall(self, namespace: str, key: str) -> Any | None: ...


CONTEXTS = "slack.pane.context"
TOLD = "slack.pane.told"


class PaneContextStore(AsyncAssistantThreadContextStore):
    """Pane thread contexts (the channel the user was viewing) and, per pane thread, the
    viewed channel the model was last told about: cached (bounded, newest kept) and, given a
    ``state`` keeper, persisted."""

    def __init__(self, capacity: int = 10_000, state: StateKeeper | None = None) -> None:
        self.capacity = capacity
        self.state = state
        self._items: OrderedDict[tuple[str, str], dict[str, str]] = OrderedDict()
        self._told: OrderedDict[tuple[str, str], str] = OrderedDict()

    def _cache(
        self, table: OrderedDict[tuple[str, str], Any], key: tuple[str, str], value: Any
    ) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > self.capacity:
            table.popitem(last=False)

    async def _load(self, namespace: str, key: tuple[str, str]) -> Any | None:
        if self.state is None:
            return None
        try:
            return await self.state.recall(namespace, f"{key[0]}:{key[1]}")
        except Exception:
            log.warning("pane state read failed", exc_info=True)
            return None

    async def _store(self, namespace: str, key: tuple[str, str], value: Any) -> None:
        if self.state is None:
            return
        try:
            await self.state.remember(namespace, f"{key[0]}:{key[1]}", value)
        except Exception:
            log.warning("pane state write failed", exc_info=True)

    async def save(self, *, channel_id: str, thread_ts: str, context: dict[str, str]) -> None:
        key = (channel_id, thread_ts)
        self._cache(self._items, key, dict(context))
        await self._store(CONTEXTS, key, dict(context))

    async def viewing_news(self, channel_id: str, thread_ts: str) -> str | None:
        """The channel the user is viewing, if the model has not been told about it yet."""
        found = await self.find(channel_id=channel_id, thread_ts=thread_ts)
        viewing = found.channel_id if found is not None else None
        if not viewing:
            return None
        key = (channel_id, thread_ts)
        told = self._told.get(key)
        if told is None:
            told = await self._load(TOLD, key)
            if isinstance(told, str):
                self._cache(self._told, key, told)
        return None if told == viewing else viewing

    async def mark_told(self, channel_id: str, thread_ts: str, viewing: str) -> None:
        key = (channel_id, thread_ts)
        self._cache(self._told, key, viewing)
        await self._store(TOLD, key, viewing)

    async def find(self, *, channel_id: str, thread_ts: str) -> AssistantThreadContext | None:
        key = (channel_id, thread_ts)
        context = self._items.get(key)
        if context is None:
            loaded = await self._load(CONTEXTS, key)
            if isinstance(loaded, dict):
                context = {str(k): str(v) for k, v in loaded.items()}
                self._cache(self._items, key, context)
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
