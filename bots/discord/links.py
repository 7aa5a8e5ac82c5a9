"""Links from the bot's Discord messages to their conversations, and the short window in which
an answer is already visible on Discord but not linked yet.

Discord assigns a message's id when it creates the message and echoes it on the gateway, so a
user can reply to an answer before our REST call returns and the link is stored. Ports post
inside :meth:`AnswerLinks.posting` (a count of posts in flight per channel) and link inside
it too. Looking up the conversation of a replied-to message then waits, bounded, while a post
is in flight in that channel and the message is not linked yet; it wakes as soon as a link is
written. Without a post in flight there is nothing to wait for: an unlinked message is not an
answer of ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Protocol

from bots.common.observer import Observer, ignore
from bots.discord.keys import PLATFORM
from core.keys import ConversationKey

log = logging.getLogger(__name__)

WAIT_LIMIT = 10.0
"""Longest a reply waits for the link of the message it answers (a post stuck in Discord's
queue for longer is treated as not ours)."""

RECENT_LINKS = 4096


class LinkStore(Protocol):
    async def link_message(self, platform: str, message_id: str, key: ConversationKey) -> None: ...

    async def conversation_for_message(
        self, platform: str, message_id: str
    ) -> ConversationKey | None: ...


class AnswerLinks:
    """Stores message → conversation links (through the engine) and lets a lookup wait for a
    link that is about to be written; see the module docstring."""

    def __init__(
        self, store: LinkStore, wait_limit: float = WAIT_LIMIT, observe: Observer = ignore
    ) -> None:
        self.store = store
        self.wait_limit = wait_limit
        self._in_flight: dict[int, int] = {}
        self._recent: OrderedDict[int, ConversationKey] = OrderedDict()
        self._changed = asyncio.Condition()
        self.observe = observe

    @contextlib.asynccontextmanager
    async def posting(self, channel_id: int) -> AsyncIterator[None]:
        """Wrap a post and the link of its message: replies to it wait until it is linked."""
        self._in_flight[channel_id] = self._in_flight.get(channel_id, 0) + 1
        try:
            yield
        finally:
            left = self._in_flight[channel_id] - 1
            if left:
                self._in_flight[channel_id] = left
            else:
                del self._in_flight[channel_id]
            async with self._changed:
                self._changed.notify_all()

    def in_flight(self, channel_id: int) -> int:
        return self._in_flight.get(channel_id, 0)

    async def link(self, message_id: int, key: ConversationKey) -> None:
        await self.store.link_message(PLATFORM, str(message_id), key)
        self._recent[message_id] = key
        self._recent.move_to_end(message_id)
        while len(self._recent) > RECENT_LINKS:
            self._recent.popitem(last=False)
        async with self._changed:
            self._changed.notify_all()

    async def conversation_of(self, channel_id: int, message_id: int) -> ConversationKey | None:
        """The conversation of the bot message ``message_id`` in ``channel_id``, waiting while
        a post in that channel may be about to link it."""
        if (key := self._recent.get(message_id)) is not None:
            return key
        key = await self.store.conversation_for_message(PLATFORM, str(message_id))
        if key is not None or not self.in_flight(channel_id):
            return key
        self.observe("link_wait", message_id=message_id)
        try:
            async with asyncio.timeout(self.wait_limit), self._changed:
                await self._changed.wait_for(
                    lambda: message_id in self._recent or not self.in_flight(channel_id)
                )
        except TimeoutError:
            log.warning("no link for a replied-to message after %.0f s", self.wait_limit)
        finally:
            self.observe("link_waited", message_id=message_id)
        if (key := self._recent.get(message_id)) is not None:
            return key
        return await self.store.conversation_for_message(PLATFORM, str(message_id))
