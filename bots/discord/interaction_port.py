"""The Discord reply port for slash commands: the answer streams into the deferred
interaction's original response (and follow-ups for further messages); requests are paced
per token by :mod:`bots.discord.http_pacing`.

Interaction tokens live 15 minutes. From ``expiry_margin`` seconds before that, or as soon as
Discord rejects the token, the reply continues as channel messages: a new message is posted
in the channel, and a message still streaming hands over (see :mod:`bots.discord.handoff`)
with no text lost or repeated.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
from typing import Any

import discord

from bots.discord.handoff import CONTINUED, plan_handoff
from bots.discord.links import AnswerLinks
from bots.discord.pacing import Pacers
from bots.discord.port import CONTENT_LIMIT, NO_MENTIONS, ChannelPort, Posted
from core.keys import ConversationKey

log = logging.getLogger(__name__)

TOKEN_GONE_CODES = frozenset({10015, 50027})
"""Unknown Webhook, Invalid Webhook Token: the interaction token no longer works."""
LAST_CALL_MARGIN = 2.0
"""A message's final edit still uses the token until this close to its expiry."""


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
        """True until ``expiry_margin`` before the token expires, or Discord rejected it."""
        if self._token_gone:
            return False
        left = self.interaction.expires_at - discord.utils.utcnow()
        return left > datetime.timedelta(seconds=self.expiry_margin)

    # --- the port -----------------------------------------------------------------------------
    async def post(self, text: str) -> Any:
        if self.token_usable():
            try:
                async with self.links.posting(self.channel_id):
                    if not self._original_used:
                        message: Any = await self.interaction.edit_original_response(
                            content=text, allowed_mentions=NO_MENTIONS
                        )
                        self._original_used = True  # only once it shows the answer
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
        await self._update(handle, text, self.token_usable())

    async def finish(self, handle: Any, text: str, changed: bool) -> None:
        """The final text of a message still in the interaction response goes there while
        the token works at all (inside the margin too): no hand-over for the last edit."""
        if changed:
            await self._update(handle, text, self._token_alive())

    async def _update(self, posted: Posted, text: str, use_token: bool) -> None:
        if posted.via_webhook and use_token:
            try:
                await posted.message.edit(content=text, allowed_mentions=NO_MENTIONS)
            except discord.HTTPException as exc:
                if not self._is_token_gone(exc):
                    raise
            else:
                posted.shown = text
                return
        if posted.via_webhook:
            await self._hand_over(posted, text)
        await self._edit_continued(posted, text)

    def _token_alive(self) -> bool:
        left = self.interaction.expires_at - discord.utils.utcnow()
        return not self._token_gone and left > datetime.timedelta(seconds=LAST_CALL_MARGIN)

    # --- continuing past the token's lifetime -------------------------------------------------
    def _is_token_gone(self, exc: discord.HTTPException) -> bool:
        if exc.code in TOKEN_GONE_CODES or exc.status == 401:
            log.info("interaction token rejected; continuing as channel messages")
            self._token_gone = True
            return True
        return False

    async def _hand_over(self, posted: Posted, text: str) -> None:
        """The interaction message gets its final text while the token still works (else it
        keeps what it shows); the rest of ``text`` continues in a channel message."""
        plan = plan_handoff(
            posted.shown, text, can_edit=not self._token_gone, max_length=CONTENT_LIMIT
        )
        if plan.keep is not None and plan.keep != posted.shown:
            try:
                await posted.message.edit(content=plan.keep, allowed_mentions=NO_MENTIONS)
            except discord.HTTPException as exc:
                if not self._is_token_gone(exc):
                    raise
                plan = plan_handoff(posted.shown, text, can_edit=False, max_length=CONTENT_LIMIT)
        posted.handoff = plan
        posted.via_webhook = False
        posted.message = None
        posted.shown = ""

    async def _edit_continued(self, posted: Posted, text: str) -> None:
        """Show ``text`` (past a hand-over: its continuation) in a channel message."""
        part = posted.handoff.continuation(text) if posted.handoff else text
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
            await self.interaction.edit_original_response(content=CONTINUED)
