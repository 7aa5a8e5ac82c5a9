"""Discord tools for the model, registered for Discord conversations only. Each acts within
the requesting member's permissions and raises ToolError (an error output the model sees)
when the member may not do it.

The adapter puts a :class:`TurnContext` in ``ToolContext.handle`` for every Discord turn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import discord

from bots.discord.naming import thread_name
from core.tools import ToolContext, ToolError, ToolRegistry

_ID_RE = re.compile(r"^(?:<[@#][!&]?)?(\d{15,22})>?$")


@dataclass(slots=True)
class TurnContext:
    """What Discord tools know about the request they serve."""

    client: discord.Client
    channel: Any
    """Where the conversation happens: a TextChannel, Thread or DMChannel."""
    requester: discord.Member | discord.User
    trigger: discord.Message | None = None
    """The user's message that started this turn (None for slash commands)."""
    interaction: discord.Interaction | None = None


def _turn(ctx: ToolContext) -> TurnContext:
    if not isinstance(ctx.handle, TurnContext):
        raise ToolError("this tool only works in Discord conversations")
    return ctx.handle


def _guild_member(turn: TurnContext) -> tuple[discord.Guild, discord.Member]:
    guild = getattr(turn.channel, "guild", None)
    if guild is None or not isinstance(turn.requester, discord.Member):
        raise ToolError("this tool only works in a server channel, not in direct messages")
    return guild, turn.requester


def _snowflake(text: str) -> int | None:
    match = _ID_RE.match(text.strip())
    return int(match.group(1)) if match else None


async def lookup_member(member: str, ctx: ToolContext) -> dict[str, Any]:
    """Look up a member of this server: their name, roles and when they joined.

    Args:
        member: A mention, a user id, or the start of a user name.
    """
    guild, _ = _guild_member(_turn(ctx))
    found: discord.Member | None = None
    uid = _snowflake(member)
    if uid is not None:
        found = guild.get_member(uid)
        if found is None:
            try:
                found = await guild.fetch_member(uid)
            except discord.NotFound:
                found = None
    else:
        name = member.strip().lstrip("@")
        if name:
            matches = await guild.query_members(query=name, limit=5)
            exact = [m for m in matches if name.lower() in (m.name.lower(), m.display_name.lower())]
            candidates = exact or matches
            found = candidates[0] if candidates else None
    if found is None:
        raise ToolError(f"no member matching {member!r} in this server")
    return {
        "id": str(found.id),
        "name": found.name,
        "display_name": found.display_name,
        "roles": [r.name for r in found.roles if not r.is_default()],
        "joined_at": found.joined_at.isoformat() if found.joined_at else None,
        "bot": found.bot,
    }


async def add_reaction(emoji: str, ctx: ToolContext) -> str:
    """Add an emoji reaction to the message that asked for this answer.

    Args:
        emoji: A unicode emoji such as 👍, or a custom emoji as <:name:id>.
    """
    turn = _turn(ctx)
    if isinstance(turn.requester, discord.Member) and hasattr(turn.channel, "permissions_for"):
        if not turn.channel.permissions_for(turn.requester).add_reactions:
            raise ToolError("you are not allowed to add reactions in this channel")
    message: Any = turn.trigger
    if message is None and turn.interaction is not None:
        message = await turn.interaction.original_response()
    if message is None:
        raise ToolError("there is no message to react to")
    try:
        await message.add_reaction(emoji.strip())
    except discord.HTTPException as exc:
        if exc.code == 10014 or exc.status == 400:
            raise ToolError(f"{emoji!r} is not an emoji Discord accepts") from None
        raise
    return f"reacted with {emoji.strip()}"


def _find_channel(guild: discord.Guild, channel: str) -> Any:
    cid = _snowflake(channel)
    if cid is not None:
        return guild.get_channel_or_thread(cid)
    name = channel.strip().lstrip("#").lower()
    return next((c for c in guild.text_channels if c.name.lower() == name), None)


async def send_message(channel: str, text: str, ctx: ToolContext) -> dict[str, Any]:
    """Send a message to a channel of this server, on the requester's behalf.

    Only works where the requesting member may send messages.

    Args:
        channel: The channel as a #name, a <#id> mention or an id.
        text: The message text (at most 2000 characters).
    """
    guild, member = _guild_member(_turn(ctx))
    target = _find_channel(guild, channel)
    if target is None or not hasattr(target, "send"):
        raise ToolError(f"no text channel {channel!r} in this server")
    rights = target.permissions_for(member)
    may_send = (
        rights.send_messages_in_threads
        if isinstance(target, discord.Thread)
        else (rights.send_messages)
    )
    if not (rights.view_channel and may_send):
        raise ToolError(f"you are not allowed to send messages in #{target.name}")
    if not text.strip():
        raise ToolError("the message text is empty")
    if len(text) > 2000:
        raise ToolError("the message is longer than Discord's 2000 characters")
    sent = await target.send(text, allowed_mentions=discord.AllowedMentions.none())
    return {"sent": True, "channel": f"#{target.name}", "message_id": str(sent.id)}


async def create_thread(name: str, ctx: ToolContext) -> dict[str, Any]:
    """Create a public thread in the current channel.

    Args:
        name: The thread's name (cut to 100 characters).
    """
    turn = _turn(ctx)
    _, member = _guild_member(turn)
    parent = turn.channel.parent if isinstance(turn.channel, discord.Thread) else turn.channel
    if not isinstance(parent, discord.TextChannel):
        raise ToolError("threads can only be created in a text channel")
    if not parent.permissions_for(member).create_public_threads:
        raise ToolError(f"you are not allowed to create threads in #{parent.name}")
    thread = await parent.create_thread(
        name=thread_name(name), type=discord.ChannelType.public_thread
    )
    return {"thread_id": str(thread.id), "name": thread.name, "mention": thread.mention}


DISCORD_TOOLS = (lookup_member, add_reaction, send_message, create_thread)


def register_tools(registry: ToolRegistry) -> None:
    """Add the Discord tools (visible to Discord conversations only)."""
    for func in DISCORD_TOOLS:
        registry.add(func, platforms={"discord"})
