"""Reply ports for Discord: ``ChannelPort`` posts and edits channel messages (threads, DMs,
replies); ``InteractionPort`` streams into a deferred interaction's original response and its
follow-ups, and continues as channel messages once the 15-minute token is (nearly) spent.

Every post and edit goes through the shared per-channel :class:`~bots.discord.pacing.Pacers`;
every message the bot posts is linked to its conversation, so a Discord reply to it
continues that conversation.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from dataclasses import dataclass
from typing import Any

import discord

from bots.discord.links import AnswerLinks
from bots.discord.pacing import Pacers
from core.keys import ConversationKey
from core.port import BasePort

log = logging.getLogger(__name__)

MAX_CONTENT = 2000
EDIT_INTERVAL = 1.0
TYPING_REFRESH = 8.0
TYPING_MAX = 300.0
TOKEN_GONE_CODES = frozenset({10015, 50027})
"""Unknown Webhook, Invalid Webhook Token: the interaction token no longer works."""
NO_MENTIONS = discord.AllowedMentions.none()


@dataclass(slots=True)
class Posted:
    """One rendered message. ``offset`` counts characters of the logical message text that an
    earlier, expired interaction message already shows (this one shows the rest)."""

    message: Any = None
    via_webhook: bool = False
    shown: str = ""
    offset: int = 0


class ChannelPort(BasePort):
    """A reply made of ordinary channel messages, the first optionally a Discord reply."""

    max_length = MAX_CONTENT
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
        deadline = asyncio.get_running_loop().time() + TYPING_MAX
        while not self._first_post.is_set() and asyncio.get_running_loop().time() < deadline:
            try:
                await self.channel.typing()
            except discord.HTTPException:
                log.debug("typing failed in %s", self.channel_id, exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._first_post.wait(), TYPING_REFRESH)

    def _stop_typing(self) -> None:
        self._first_post.set()

    # --- messages -----------------------------------------------------------------------------
    async def send_channel(self, text: str) -> discord.Message:
        self._stop_typing()
        await self.pacers.posts.wait(self.channel_id)
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
        await self.pacers.edits.wait(self.channel_id)
        await message.edit(content=text, allowed_mentions=NO_MENTIONS)

    async def post(self, text: str) -> Any:
        return Posted(await self.send_channel(text), shown=text)

    async def edit(self, handle: Any, text: str) -> None:
        await self.edit_channel(handle.message, text)
        handle.shown = text

    async def finish(self, handle: Any, text: str, changed: bool) -> None:
        self._stop_typing()
        if changed:
            await self.edit(handle, text)


class InteractionPort(ChannelPort):
    """A reply streamed into a deferred interaction response; see the module docstring."""

    def __init__(
        self,
        interaction: discord.Interaction,
        *,
        links: AnswerLinks,
        key: ConversationKey,
        pacers: Pacers,
        expiry_margin: float = 30.0,
    ) -> None:
        channel: Any = interaction.channel
        super().__init__(channel, interaction.channel_id or 0, links=links, key=key, pacers=pacers)
        self.interaction = interaction
        self.expiry_margin = expiry_margin
        self._original_used = False
        self._token_gone = False

    async def show_thinking(self) -> None:
        return None  # the deferred response already shows "<bot> is thinking…"

    def token_usable(self) -> bool:
        if self._token_gone:
            return False
        left = self.interaction.expires_at - discord.utils.utcnow()
        return left > datetime.timedelta(seconds=self.expiry_margin)

    async def _webhook_wait(self) -> None:
        await self.pacers.webhooks.wait(self.interaction.token)

    async def post(self, text: str) -> Any:
        if self.token_usable():
            await self._webhook_wait()
            try:
                async with self.links.posting(self.channel_id):
                    if not self._original_used:
                        self._original_used = True
                        message: Any = await self.interaction.edit_original_response(
                            content=text, allowed_mentions=NO_MENTIONS
                        )
                    else:
                        message = await self.interaction.followup.send(
                            text, wait=True, allowed_mentions=NO_MENTIONS
                        )
                    await self.links.link(message.id, self.key)
            except discord.HTTPException as exc:
                if not self._is_token_gone(exc):
                    raise
            else:
                return Posted(message, via_webhook=True, shown=text)
        await self._settle_original()
        return Posted(await self.send_channel(text), shown=text)

    async def edit(self, handle: Any, text: str) -> None:
        posted: Posted = handle
        if posted.via_webhook and self.token_usable():
            try:
                await self._webhook_wait()
                await posted.message.edit(content=text, allowed_mentions=NO_MENTIONS)
            except discord.HTTPException as exc:
                if not self._is_token_gone(exc):
                    raise
            else:
                posted.shown = text
                return
        if posted.via_webhook:
            self._continue_in_channel(posted, text)
        await self._edit_continued(posted, text)

    async def finish(self, handle: Any, text: str, changed: bool) -> None:
        posted: Posted = handle
        if changed or (not posted.via_webhook and posted.message is None):
            await self.edit(posted, text)

    # --- continuing past the token's lifetime -------------------------------------------------
    def _is_token_gone(self, exc: discord.HTTPException) -> bool:
        if exc.code in TOKEN_GONE_CODES or exc.status == 401:
            log.info("interaction token expired; continuing as channel messages")
            self._token_gone = True
            return True
        return False

    def _continue_in_channel(self, posted: Posted, text: str) -> None:
        """The interaction message keeps what it shows; the rest goes to a channel message."""
        posted.offset = len(posted.shown) if text.startswith(posted.shown) else 0
        posted.via_webhook = False
        posted.message = None
        posted.shown = ""

    async def _edit_continued(self, posted: Posted, text: str) -> None:
        part = text[posted.offset :]
        if not part.strip() or part == posted.shown:
            return
        if posted.message is None:
            posted.message = await self.send_channel(part)
        else:
            await self.edit_channel(posted.message, part)
        posted.shown = part

    async def _settle_original(self) -> None:
        """If the original response never got text, don't leave it 'thinking' forever."""
        if self._original_used or self._token_gone:
            return
        self._original_used = True
        with contextlib.suppress(discord.HTTPException):
            await self.interaction.edit_original_response(content="*(continued below)*")
