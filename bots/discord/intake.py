"""Inbound messages: which Discord messages the bot answers, in which conversation, turned into
``IncomingMessage`` for the engine.

Messages the bot answers: DMs; a mention in a guild channel (it opens a public thread from the
message); anything in a thread the bot created (no mention needed); a mention in anyone else's
thread; and Discord replies to one of the bot's answers (that answer's conversation). Bots, the
bot itself and system messages are ignored.

Messages of one channel reach the engine in the order they arrived, whatever each awaits on
the way (a link lookup may wait up to ``links.WAIT_LIMIT``): each takes its channel's place in
line (:mod:`bots.common.arrival`) before its first await.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

import discord

from bots.common.arrival import ArrivalOrder
from bots.common.replies import RESTARTING, take_failed, too_many_new
from bots.discord.filters import mentions_user, should_ignore, strip_mention
from bots.discord.keys import SavedTarget, channel_key, saved_target
from bots.discord.naming import thread_name
from bots.discord.port import ChannelPort
from bots.discord.rights import thread_refusal
from bots.discord.tools import TurnContext
from core.keys import ConversationKey
from core.logs import new_ref
from core.messages import IncomingMessage

if TYPE_CHECKING:
    from bots.discord.client import DiscordBot

log = logging.getLogger(__name__)

REPLY = discord.MessageReferenceType.default  # a reply (not a forward)


class Refused(Exception):
    """The bot won't do this for the member who asked; the text says why."""


class DiscordIntake:
    def __init__(self, bot: DiscordBot) -> None:
        self.bot = bot
        self.order = ArrivalOrder()

    async def on_message(self, message: discord.Message) -> None:
        bot = self.bot
        if bot.user is None or should_ignore(message, bot.user.id):
            return
        async with self.order.turn(message.channel.id):  # before any await
            try:
                if bot.closing:
                    if await self.route(message, create_thread=False) is not None:
                        raise Refused(RESTARTING)
                    return
                await self.answer(message)
            except Refused as refused:
                with contextlib.suppress(discord.HTTPException):
                    await message.reply(
                        str(refused),
                        mention_author=False,
                        allowed_mentions=discord.AllowedMentions.none(),
                    )
            except Exception:
                ref = new_ref()
                log.exception(
                    "could not take a message in channel %s [%s]", message.channel.id, ref
                )
                with contextlib.suppress(discord.HTTPException):
                    await message.reply(
                        take_failed(ref),
                        mention_author=False,
                        allowed_mentions=discord.AllowedMentions.none(),
                    )

    async def reopen(self, msg: IncomingMessage) -> ChannelPort | None:
        """A port that answers a message a crash left unanswered, as a channel message (a
        reply to the user's message when it still exists). None if the channel is gone."""
        target = SavedTarget.from_json(msg.reply_target)
        if target is None:
            return None
        bot = self.bot
        try:
            channel_id = int(target.channel)
            where: Any = bot.get_channel(channel_id) or await bot.fetch_channel(channel_id)
        except discord.HTTPException:
            return None
        trigger: discord.Message | None = None
        if target.message:
            with contextlib.suppress(discord.HTTPException):
                trigger = await where.fetch_message(int(target.message))
        requester: Any = trigger.author if trigger else None
        if requester is None:
            guild = getattr(where, "guild", None)
            user_id = int(target.user)
            requester = (guild and guild.get_member(user_id)) or bot.get_user(user_id)
        if requester is None:
            return None
        msg.handle = TurnContext(bot, where, requester, trigger=trigger)
        msg.message_ref = trigger
        return ChannelPort(
            where, where.id, links=bot.links, key=msg.key, pacers=bot.pacers, reply_to=trigger
        )

    async def answer(self, message: discord.Message) -> None:
        """Route ``message`` to its conversation and queue it (nothing if it isn't for us)."""
        assert self.bot.user is not None
        routed = await self.route(message)
        if routed is None:
            return
        key, where, reply_to = routed
        port = ChannelPort(
            where,
            where.id,
            links=self.bot.links,
            key=key,
            pacers=self.bot.pacers,
            reply_to=reply_to,
        )
        turn = TurnContext(self.bot, where, message.author, trigger=message)
        text = strip_mention(message.content, self.bot.user.id)
        target = saved_target(where.id, message.author.id, message.id)
        accepted = await self.bot.engine.submit(
            IncomingMessage(
                key, text, str(message.author.id), f"m{message.id}", turn, message, target.as_json()
            ),
            port,
        )
        self.bot.observe("accepted" if accepted else "duplicate")

    async def route(
        self, message: discord.Message, *, create_thread: bool = True
    ) -> tuple[ConversationKey, Any, discord.Message | None] | None:
        """(conversation, where to answer, message to reply to) or None to ignore. Without
        ``create_thread``, a mention that would open a thread raises :class:`Refused`."""
        assert self.bot.user is not None
        channel = message.channel
        key = await self.replied_conversation(message)
        if key is not None:
            return key, channel, message
        if isinstance(channel, discord.DMChannel):
            key = channel_key(channel)
            return (key, channel, None) if key else None
        mentioned = mentions_user(message, self.bot.user.id)
        if isinstance(channel, discord.Thread):
            # the bot's own threads are conversations with it; in anyone else's thread it
            # answers when mentioned (or replied to, above), not every message in it
            key = channel_key(channel)
            if key is not None and (mentioned or channel.owner_id == self.bot.user.id):
                return key, channel, None
            return None
        if isinstance(channel, discord.TextChannel) and mentioned:
            if isinstance(message.author, discord.Member):
                refused = thread_refusal(channel.permissions_for(message.author))
                if refused is not None:
                    raise Refused(refused)
            if not create_thread:
                raise Refused(RESTARTING)
            state = self.bot.engine.state
            if not state.may_start_conversation("discord", str(message.author.id)):
                raise Refused(too_many_new(state.new_conversations_per_hour))
            text = strip_mention(message.content, self.bot.user.id)
            thread = await message.create_thread(name=thread_name(text))
            await self.bot.remember_starter(thread.id, message.author.id)
            key = channel_key(thread)
            return (key, thread, None) if key else None
        return None

    async def replied_conversation(self, message: discord.Message) -> ConversationKey | None:
        """The conversation of the bot answer ``message`` replies to, if it is one. An answer
        whose link is still being written (a post in flight) is waited for, briefly."""
        assert self.bot.user is not None
        ref = message.reference
        if ref is None or ref.message_id is None or ref.type is not REPLY:
            return None
        if ref.channel_id != message.channel.id:
            return None  # never pull another channel's conversation (a DM's!) in here
        resolved = ref.resolved
        if isinstance(resolved, discord.Message) and resolved.author.id != self.bot.user.id:
            return None
        return await self.bot.links.conversation_of(message.channel.id, ref.message_id)
