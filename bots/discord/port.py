"""The Discord reply port for channel messages (threads, DMs, replies): typing until the first
text, then post and edit (each request paced per channel and globally by
:mod:`bots.discord.http_pacing`). Edits wait for room in the channel's edit budget before
taking their text, so in a busy channel each edit shows the newest text, not the text of
the moment it queued. Every message the bot posts is linked to its
conversation (inside :meth:`~bots.discord.links.AnswerLinks.posting`), so a Discord reply to
it continues that conversation. ``InteractionPort`` (in ``interaction_port``) builds on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import discord

from bots.common.pacing_wait import wait_for_room
from bots.discord.handoff import Handoff
from bots.discord.links import AnswerLinks
from bots.discord.pacing import GLOBAL_KEY, Pacers
from core.keys import ConversationKey
from core.port import BasePort

log = logging.getLogger(__name__)

CONTENT_LIMIT = 2000
EDIT_INTERVAL = 1.0
TYPING_DELAY = 0.25
"""Typing starts only when the first text takes longer than this."""
TYPING_REFRESH = 8.0
"""Discord shows typing for 10 s after each call."""
TYPING_RETRY = 1.0
TYPING_SHARE = 0.5
"""Typing is sent only while less than this share of the global request budget is in use."""
TYPING_MAX = 300.0
NO_MENTIONS = discord.AllowedMentions.none()


@dataclass(slots=True)
class Posted:
    """One rendered message: the Discord message and the text it shows. After an interaction
    token ran out mid-message, ``handoff`` says which part of the text a channel message
    (``message``, once posted) shows instead."""

    message: Any = None
    via_webhook: bool = False
    shown: str = ""
    handoff: Handoff | None = None
    wanted: str | None = None
    """The newest text an edit asked for that isn't shown yet."""
    sender: asyncio.Task[None] | None = None
    """Sends ``wanted`` when the channel has room."""


class ChannelPort(BasePort):
    """A reply made of ordinary channel messages, the first optionally a Discord reply."""

    max_length = CONTENT_LIMIT
    edit_interval = EDIT_INTERVAL

    def __init__(
        self,
        channel: discord.abc.Messageable,
        channel_id: int,
        *,
        links: AnswerLinks,
        key: ConversationKey,
        pacers: Pacers,
        reply_to: discord.Message | None = None,
    ) -> None:
        self.channel = channel
        self.channel_id = channel_id
        self.links = links
        self.key = key
        self.pacers = pacers
        self.reply_to = reply_to
        self._typing: asyncio.Task[None] | None = None
        self._first_post = asyncio.Event()

    # --- typing while waiting for the first delta -------------------------------------------
    async def show_thinking(self) -> None:
        self._typing = asyncio.create_task(self._keep_typing(), name=f"typing:{self.channel_id}")

    async def _keep_typing(self) -> None:
        """Typing is cosmetic: it starts only if the first text is a moment away, and is skipped
        while the bot's global request budget is busy (answers come first)."""
        deadline = asyncio.get_running_loop().time() + TYPING_MAX
        wait = TYPING_DELAY
        while not await self._posted_within(wait):
            if asyncio.get_running_loop().time() >= deadline:
                return
            wait = TYPING_RETRY
            if self.pacers.requests.has_room(GLOBAL_KEY, TYPING_SHARE):
                try:
                    await self.channel.typing()
                    wait = TYPING_REFRESH
                except discord.HTTPException:
                    log.debug("typing failed in %s", self.channel_id, exc_info=True)

    async def _posted_within(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first_post.wait(), seconds)
        return self._first_post.is_set()

    def _stop_typing(self) -> None:
        self._first_post.set()

    # --- messages -----------------------------------------------------------------------------
    async def send_channel(self, text: str) -> discord.Message:
        self._stop_typing()
        reference, self.reply_to = self.reply_to, None
        async with self.links.posting(self.channel_id):
            if reference is not None:
                message = await self.channel.send(
                    text, reference=reference, mention_author=False, allowed_mentions=NO_MENTIONS
                )
            else:
                message = await self.channel.send(text, allowed_mentions=NO_MENTIONS)
            await self.links.link(message.id, self.key)
        return message

    async def edit_channel(self, message: discord.Message, text: str) -> None:
        await message.edit(content=text, allowed_mentions=NO_MENTIONS)

    async def post(self, text: str) -> Any:
        return Posted(await self.send_channel(text), shown=text)

    async def edit(self, handle: Any, text: str) -> None:
        """Latest text wins: the edit goes out when the channel's edit budget has room, with
        the newest text asked for by then (returns at once; :meth:`finish` waits)."""
        posted: Posted = handle
        posted.wanted = text
        if posted.sender is not None and posted.sender.done():
            self._settle_sender(posted)
        if posted.sender is None:
            posted.sender = asyncio.create_task(
                self._send_latest(posted), name=f"edit:{self.channel_id}"
            )

    async def finish(self, handle: Any, text: str, changed: bool) -> None:
        self._stop_typing()
        posted: Posted = handle
        if changed or posted.wanted is not None:
            await self.edit(posted, text)
        if posted.sender is not None:
            sender, posted.sender = posted.sender, None
            await sender  # the final text has landed (or the error is the renderer's)

    async def _send_latest(self, posted: Posted) -> None:
        while posted.wanted is not None and posted.wanted != posted.shown:
            await wait_for_room(
                (self.pacers.edits, self.channel_id), (self.pacers.requests, GLOBAL_KEY)
            )
            text = posted.wanted
            await self.edit_channel(posted.message, text)
            posted.shown = text
        posted.wanted = None

    def _settle_sender(self, posted: Posted) -> None:
        """Forget a finished sender; a failed one is logged (the next edit tries again)."""
        sender, posted.sender = posted.sender, None
        if sender is not None and not sender.cancelled() and sender.exception() is not None:
            log.warning("edit in %s failed", self.channel_id, exc_info=sender.exception())
