"""The Discord client: intents, command sync, and routing of messages to conversations.

Messages the bot answers: DMs; a mention in a guild channel (it opens a public thread from the
message); anything in a thread the bot created (no mention needed); a mention in anyone else's
thread; and Discord replies to one of the bot's answers (that answer's conversation). Bots, the
bot itself and system messages are ignored.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from typing import Any

import discord
from discord import app_commands

from bots.discord import commands
from bots.discord.filters import mentions_user, should_ignore, strip_mention
from bots.discord.http_pacing import RequestPacing
from bots.discord.keys import channel_key, reply_target
from bots.discord.links import AnswerLinks
from bots.discord.naming import thread_name
from bots.discord.pacing import Pacers
from bots.discord.port import ChannelPort
from bots.discord.tools import TurnContext
from bots.errors import StartupError
from core.engine import Engine, IncomingMessage
from core.keys import ConversationKey

log = logging.getLogger(__name__)

REPLY = discord.MessageReferenceType.default  # a reply (not a forward)
GUILD_HELP = (
    "DISCORD_GUILD_IDS: cannot register slash commands in guild {gid}; invite the bot there "
    "with the applications.commands scope, or remove the id."
)


def bot_intents() -> discord.Intents:
    intents = discord.Intents.default()
    intents.message_content = True  # privileged: thread follow-ups arrive without a mention
    return intents


class DiscordBot(discord.Client):
    def __init__(
        self,
        engine: Engine,
        *,
        guild_ids: list[int] | None = None,
        pacers: Pacers | None = None,
        expiry_margin: float = 30.0,
        guild_ready_timeout: float = 2.0,
    ) -> None:
        self.pacers = pacers or Pacers.discord_defaults()
        super().__init__(
            intents=bot_intents(),
            guild_ready_timeout=guild_ready_timeout,
            http_trace=RequestPacing(self.pacers).trace_config(),
        )
        self.engine = engine
        self.links = AnswerLinks(engine)
        self.guild_ids = list(guild_ids or [])
        self.expiry_margin = expiry_margin
        self._resumed = False
        self.tree: app_commands.CommandTree[Any] = app_commands.CommandTree(self)
        commands.install(self.tree, self)

    async def setup_hook(self) -> None:
        """Sync the slash commands: to each of DISCORD_GUILD_IDS (instant), else globally."""
        if self.guild_ids:
            for gid in self.guild_ids:
                guild = discord.Object(id=gid)
                self.tree.copy_global_to(guild=guild)
                try:
                    await self.tree.sync(guild=guild)
                except (discord.Forbidden, discord.NotFound):
                    raise StartupError(GUILD_HELP.format(gid=gid)) from None
            log.info("slash commands synced to %d guild(s)", len(self.guild_ids))
        else:
            await self.tree.sync()
            log.info("slash commands synced globally")

    async def on_ready(self) -> None:
        log.info("connected to Discord as %s", self.user)
        if not self._resumed:  # on_ready fires again after reconnects
            self._resumed = True
            await self.engine.resume_interrupted("discord", self.reopen)

    async def reopen(self, msg: IncomingMessage) -> ChannelPort | None:
        """A port that answers a message a crash left unanswered, as a channel message (a
        reply to the user's message when it still exists). None if the channel is gone."""
        target = msg.reply_target or {}
        try:
            where: Any = self.get_channel(int(target["channel"])) or await self.fetch_channel(
                int(target["channel"])
            )
        except (KeyError, ValueError, discord.HTTPException):
            return None
        trigger: discord.Message | None = None
        if target.get("message"):
            with contextlib.suppress(discord.HTTPException):
                trigger = await where.fetch_message(int(target["message"]))
        requester: Any = trigger.author if trigger else None
        if requester is None:
            guild = getattr(where, "guild", None)
            user_id = int(target.get("user", 0))
            requester = (guild and guild.get_member(user_id)) or self.get_user(user_id)
        if requester is None:
            return None
        msg.handle = TurnContext(self, where, requester, trigger=trigger)
        msg.message_ref = trigger
        return ChannelPort(
            where, where.id, links=self.links, key=msg.key, pacers=self.pacers, reply_to=trigger
        )

    async def on_message(self, message: discord.Message) -> None:
        if self.user is None or should_ignore(message, self.user.id):
            return
        try:
            await self.answer(message)
        except Exception:
            ref = uuid.uuid4().hex[:8]
            log.exception("could not take a message in channel %s [%s]", message.channel.id, ref)
            with contextlib.suppress(discord.HTTPException):
                await message.reply(
                    f"Sorry, I couldn't take that message. (ref {ref})",
                    mention_author=False,
                    allowed_mentions=discord.AllowedMentions.none(),
                )

    async def answer(self, message: discord.Message) -> None:
        """Route ``message`` to its conversation and queue it (nothing if it isn't for us)."""
        assert self.user is not None
        routed = await self.route(message)
        if routed is None:
            return
        key, where, reply_to = routed
        port = ChannelPort(
            where, where.id, links=self.links, key=key, pacers=self.pacers, reply_to=reply_to
        )
        turn = TurnContext(self, where, message.author, trigger=message)
        text = strip_mention(message.content, self.user.id)
        target = reply_target(where.id, message.author.id, message.id)
        await self.engine.submit(
            IncomingMessage(
                key, text, str(message.author.id), f"m{message.id}", turn, message, target
            ),
            port,
        )

    async def route(
        self, message: discord.Message
    ) -> tuple[ConversationKey, Any, discord.Message | None] | None:
        """(conversation, where to answer, message to reply to) or None to ignore."""
        assert self.user is not None
        channel = message.channel
        key = await self.replied_conversation(message)
        if key is not None:
            return key, channel, message
        if isinstance(channel, discord.DMChannel):
            key = channel_key(channel)
            return (key, channel, None) if key else None
        mentioned = mentions_user(message, self.user.id)
        if isinstance(channel, discord.Thread):
            # the bot's own threads are conversations with it; in anyone else's thread it
            # answers when mentioned (or replied to, above), not every message in it
            key = channel_key(channel)
            if key is not None and (mentioned or channel.owner_id == self.user.id):
                return key, channel, None
            return None
        if isinstance(channel, discord.TextChannel) and mentioned:
            text = strip_mention(message.content, self.user.id)
            thread = await message.create_thread(name=thread_name(text))
            key = channel_key(thread)
            return (key, thread, None) if key else None
        return None

    async def replied_conversation(self, message: discord.Message) -> ConversationKey | None:
        """The conversation of the bot answer ``message`` replies to, if it is one. An answer
        whose link is still being written (a post in flight) is waited for, briefly."""
        assert self.user is not None
        ref = message.reference
        if ref is None or ref.message_id is None or ref.type is not REPLY:
            return None
        resolved = ref.resolved
        if isinstance(resolved, discord.Message) and resolved.author.id != self.user.id:
            return None
        return await self.links.conversation_of(message.channel.id, ref.message_id)
