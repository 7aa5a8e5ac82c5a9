"""The small state adapters keep through the engine, so they never touch storage: delivery
claims (deduplication), links from platform messages to conversations, remembered JSON
values that must survive restarts, and each user's quota of new conversations."""

from __future__ import annotations

import logging
from typing import Any

from core.keys import ConversationKey
from core.quotas import NewConversations
from storage.base import AdapterStateStore, IntakeStore

log = logging.getLogger(__name__)


class AdapterState:
    def __init__(
        self,
        intake: IntakeStore,
        state: AdapterStateStore,
        dedupe_ttl_seconds: float,
        new_conversations: NewConversations | None = None,
    ) -> None:
        self._intake = intake
        self._state = state
        self.dedupe_ttl_seconds = dedupe_ttl_seconds
        self._new = new_conversations or NewConversations(0)

    @property
    def new_conversations_per_hour(self) -> int:
        return self._new.per_hour

    def may_start_conversation(self, platform: str, user_id: str) -> bool:
        """Count a new conversation ``user_id`` is about to start (before the adapter opens
        a thread for it); False when their hourly quota is used up."""
        allowed = self._new.allow(f"{platform}:{user_id}")
        if not allowed:
            log.info("%s user over the new-conversation quota", platform)
        return allowed

    async def claim_event(self, platform: str, event_id: str) -> bool:
        """Record a platform delivery id (persisted, with a TTL); False if seen before.

        ``Engine.submit`` does this itself for messages; adapters use it for other deliveries
        (e.g. a reset command) that must not act twice.
        """
        event_key = f"{platform}:{event_id}"
        if await self._intake.claim_event(event_key, self.dedupe_ttl_seconds):
            return True
        log.info("duplicate delivery %s ignored", event_key)
        return False

    async def release_event(self, platform: str, event_id: str) -> None:
        """Forget a claim whose delivery could not be taken, so a redelivery gets through."""
        await self._intake.release_event(f"{platform}:{event_id}")

    async def remember(self, namespace: str, key: str, value: Any) -> None:
        """Keep a small JSON value across restarts."""
        await self._state.put_state(namespace, key, value)

    async def recall(self, namespace: str, key: str) -> Any | None:
        """A value kept with ``remember``, or None."""
        return await self._state.get_state(namespace, key)

    async def link_message(self, platform: str, message_id: str, key: ConversationKey) -> None:
        """Remember that a platform message belongs to the conversation ``key``."""
        await self._state.link_message(platform, message_id, key.as_str())

    async def conversation_for_message(
        self, platform: str, message_id: str
    ) -> ConversationKey | None:
        conv = await self._state.conversation_for_message(platform, message_id)
        return ConversationKey.parse(conv) if conv else None
