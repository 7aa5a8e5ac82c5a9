"""Slash commands: ``/ask`` (answer streamed into the interaction response), ``/chat`` (a new
public thread for the conversation) and ``/reset`` (ephemeral). Every command defers at once,
well inside Discord's 3-second window. Command failures are ephemeral with a reference id."""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bots.common.replies import RESTARTING, too_many_new
from bots.discord.interaction_port import InteractionPort
from bots.discord.keys import channel_key, interaction_key, is_thread_key, saved_target
from bots.discord.naming import thread_name
from bots.discord.port import NO_MENTIONS, ChannelPort
from bots.discord.rights import answer_refusal, may_reset, thread_refusal
from bots.discord.tools import TurnContext
from core.keys import ConversationKey
from core.logs import new_ref
from core.messages import IncomingMessage
from core.port import ReplyPort

if TYPE_CHECKING:
    from bots.discord.client import DiscordBot

log = logging.getLogger(__name__)

PROMPT_MAX = 4000
"""Longest prompt the slash commands accept (Discord enforces it in the client)."""

RESET_DONE = "Started fresh: the next message here begins a new conversation."
RESET_REFUSED = (
    "Only the person this conversation belongs to, or a moderator, can reset it. Start your "
    "own with `/chat`."
)
RESET_NOTHING = (
    "There is no ongoing conversation here. Each `/ask` answer in a channel is its own "
    "conversation: reply to it to continue, or use `/chat` for a thread."
)


def _parent_id(interaction: discord.Interaction) -> int | None:
    channel = interaction.channel
    return channel.parent_id if isinstance(channel, discord.Thread) else None


def install(tree: app_commands.CommandTree[Any], bot: DiscordBot) -> None:
    """Add /ask, /chat and /reset to ``tree``, bound to ``bot``."""

    @tree.command(name="ask", description="Ask the assistant; the answer streams in here")
    @app_commands.describe(prompt="What you want to ask")
    async def ask(
        interaction: discord.Interaction, prompt: app_commands.Range[str, 1, PROMPT_MAX]
    ) -> None:
        why = restarting(interaction) or answer_refusal_for(interaction)
        if why is None and _starts_a_conversation(interaction):
            why = over_quota(bot, interaction)
        if await refused(interaction, why):
            return
        deferred = await interaction.response.defer(thinking=True)
        await submit_ask(bot, interaction, prompt, deferred)

    @tree.command(name="chat", description="Start a conversation with the assistant in a thread")
    @app_commands.describe(prompt="How the conversation starts")
    async def chat(
        interaction: discord.Interaction, prompt: app_commands.Range[str, 1, PROMPT_MAX]
    ) -> None:
        plain = isinstance(interaction.channel, discord.TextChannel)
        why = restarting(interaction) or (
            thread_refusal(interaction.permissions) if plain else answer_refusal_for(interaction)
        )
        if why is None and plain:
            why = over_quota(bot, interaction)
        if await refused(interaction, why):
            return
        deferred = await interaction.response.defer(thinking=True)
        await start_thread(bot, interaction, prompt, deferred)

    @tree.command(name="reset", description="Start a fresh conversation here")
    async def reset(interaction: discord.Interaction) -> None:
        await reset_here(bot, interaction)

    @tree.error
    async def on_error(
        interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await report_failure(interaction, error)


def _starts_a_conversation(interaction: discord.Interaction) -> bool:
    """``/ask`` in a plain guild channel: each answer is a new conversation."""
    return isinstance(interaction.channel, discord.TextChannel)


def over_quota(bot: DiscordBot, interaction: discord.Interaction) -> str | None:
    """Counts the new conversation; the refusal when the user's hourly quota is used up."""
    state = bot.engine.state
    if state.may_start_conversation("discord", str(interaction.user.id)):
        return None
    return too_many_new(state.new_conversations_per_hour)


def restarting(interaction: discord.Interaction) -> str | None:
    """The bot is shutting down: commands are told to come back in a minute."""
    client: Any = interaction.client
    return RESTARTING if getattr(client, "closing", False) else None


def answer_refusal_for(interaction: discord.Interaction) -> str | None:
    return answer_refusal(
        interaction.permissions,
        in_thread=isinstance(interaction.channel, discord.Thread),
        in_dm=interaction.guild_id is None,
    )


async def refused(interaction: discord.Interaction, why: str | None) -> bool:
    """Refuse a command privately (before anything public happens) when ``why`` says so."""
    if why is None:
        return False
    await interaction.response.send_message(why, ephemeral=True)
    return True


async def start_thread(
    bot: DiscordBot,
    interaction: discord.Interaction,
    prompt: str,
    deferred: discord.InteractionCallbackResponse[Any] | None,
) -> None:
    """``/chat``: a new public thread for the conversation, with a note where it was asked; in
    a thread or a DM the answer comes right there, in that conversation."""
    channel = interaction.channel
    if not isinstance(channel, discord.TextChannel):
        # threads and DMs: answer right here, in that conversation
        await submit_ask(bot, interaction, prompt, deferred)
        return
    thread = await channel.create_thread(
        name=thread_name(prompt), type=discord.ChannelType.public_thread
    )
    await bot.remember_starter(thread.id, interaction.user.id)
    key = channel_key(thread)
    assert key is not None
    async with bot.links.posting(channel.id):
        notice = await interaction.edit_original_response(
            content=f"{interaction.user.mention} started {thread.mention}",
            allowed_mentions=NO_MENTIONS,
        )
        await bot.links.link(notice.id, key)
    port = ChannelPort(thread, thread.id, links=bot.links, key=key, pacers=bot.pacers)
    await submit_prompt(bot, interaction, key, prompt, port, thread)


async def reset_here(bot: DiscordBot, interaction: discord.Interaction) -> None:
    """``/reset``: a fresh conversation in this thread or DM (ephemeral answer)."""
    key = channel_key(interaction.channel)
    if key is None or (interaction.guild_id is not None and not is_thread_key(key)):
        await interaction.response.send_message(RESET_NOTHING, ephemeral=True)
        return
    where = interaction.channel
    # in the channel's line before any await: every later message lands in the fresh thread
    async with bot.intake.order.turn(interaction.channel_id):
        allowed = may_reset(
            in_dm=interaction.guild_id is None,
            moderator=interaction.permissions.manage_threads
            or interaction.permissions.manage_messages,
            user_id=interaction.user.id,
            starter_id=await bot.thread_starter(interaction.channel_id or 0),
            thread_owner_id=getattr(where, "owner_id", None),
        )
        if not allowed:
            await interaction.response.send_message(RESET_REFUSED, ephemeral=True)
            return
        done = bot.engine.queue_reset(key)
    await interaction.response.defer(thinking=True, ephemeral=True)
    await done
    await interaction.edit_original_response(content=RESET_DONE)


async def report_failure(
    interaction: discord.Interaction, error: app_commands.AppCommandError
) -> None:
    """A failed command: an ephemeral note with a reference id; details go to the logs."""
    ref = new_ref()
    log.error(
        "command %s failed [%s]", getattr(interaction.command, "name", "?"), ref, exc_info=error
    )
    text = f"Sorry, that command failed. (ref {ref})"
    try:
        if interaction.response.is_done():
            # the deferred "thinking…" response is public: replace it with an ephemeral note
            with contextlib.suppress(discord.HTTPException):
                await interaction.delete_original_response()
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not report the command error [%s]", ref)


async def submit_ask(
    bot: DiscordBot,
    interaction: discord.Interaction,
    prompt: str,
    deferred: discord.InteractionCallbackResponse[Any] | None = None,
) -> None:
    """Queue ``prompt``; the answer streams into the (already deferred) interaction. The
    deferred response is linked at once, so a reply to it finds the conversation."""
    key = interaction_key(
        interaction.guild_id, interaction.channel_id or 0, _parent_id(interaction), interaction.id
    )
    if deferred is not None and deferred.message_id is not None:
        await bot.links.link(deferred.message_id, key)
    port = InteractionPort(
        interaction,
        links=bot.links,
        key=key,
        pacers=bot.pacers,
        expiry_margin=bot.expiry_margin,
    )
    await submit_prompt(bot, interaction, key, prompt, port, interaction.channel)


async def submit_prompt(
    bot: DiscordBot,
    interaction: discord.Interaction,
    key: ConversationKey,
    prompt: str,
    port: ReplyPort,
    where: Any,
) -> None:
    """Queue a slash command's prompt, answered through ``port`` in ``where``."""
    target = saved_target(where.id, interaction.user.id).as_json() if where is not None else None
    await bot.engine.submit(
        IncomingMessage(
            key,
            prompt,
            str(interaction.user.id),
            f"i{interaction.id}",
            handle=TurnContext(bot, where, interaction.user, interaction=interaction),
            reply_target=target,
        ),
        port,
    )
