"""Discord tools for the model, registered for Discord conversations only. Each acts within
the requesting member's permissions and raises ToolError (an error output the model sees)
when the member may not do it. Model-supplied arguments are checked before anything is sent:
member and channel references (a mention or an id of the right kind, or a name), emoji, text
and thread-name lengths. A channel the member can't see is reported as not found, so its
name doesn't leak.

The adapter puts a :class:`TurnContext` in ``ToolContext.handle`` for every Discord turn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import discord

from bots.discord.naming import thread_name
from core.tools import ToolContext, ToolError

_SNOWFLAKE = r"(\d{15,22})"
_MEMBER_RE = re.compile(rf"^(?:<@!?{_SNOWFLAKE}>|{_SNOWFLAKE})$")
_CHANNEL_RE = re.compile(rf"^(?:<#{_SNOWFLAKE}>|{_SNOWFLAKE})$")
_CUSTOM_EMOJI_RE = re.compile(r"^<a?:\w{2,32}:\d{15,22}>$")
_SHORTCODE_RE = re.compile(r"^:[\w+-]+:$")
_KEYCAP_RE = re.compile("^[0-9#*]\ufe0f?\u20e3$")
NAME_QUERY_LIMIT = 100
TEXT_LIMIT = 2000
EMOJI_CHARS_LIMIT = 16


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


def _snowflake(pattern: re.Pattern[str], text: str) -> int | None:
    match = pattern.match(text.strip())
    if match is None:
        return None
    return int(next(g for g in match.groups() if g))


def check_emoji(emoji: str) -> str:
    """The emoji as Discord takes it: a unicode emoji, or a custom one as <:name:id>."""
    value = emoji.strip()
    if _CUSTOM_EMOJI_RE.match(value) or _KEYCAP_RE.match(value):
        return value
    if _SHORTCODE_RE.match(value):
        raise ToolError(f"use the emoji character itself (like 👍), not the shortcode {value}")
    if not value or len(value) > EMOJI_CHARS_LIMIT or any(c.isspace() for c in value):
        raise ToolError(f"{emoji!r} is not a single emoji")
    if any(c.isascii() and c.isalnum() for c in value):
        raise ToolError(f"{emoji!r} is not an emoji")
    return value


async def lookup_member(member: str, ctx: ToolContext) -> dict[str, Any]:
    """Look up a member of this server: their name, roles and when they joined.

    Args:
        member: A mention, a user id, or the start of a user name.
    """
    guild, _ = _guild_member(_turn(ctx))
    found: discord.Member | None = None
    uid = _snowflake(_MEMBER_RE, member)
    if uid is not None:
        found = guild.get_member(uid)
        if found is None:
            try:
                found = await guild.fetch_member(uid)
            except discord.NotFound:
                found = None
    else:
        name = member.strip().lstrip("@")
        if not name or len(name) > NAME_QUERY_LIMIT or name.startswith(("<", "#")):
            raise ToolError("give a member as a mention, a user id or the start of their name")
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
    value = check_emoji(emoji)
    if isinstance(turn.requester, discord.Member) and hasattr(turn.channel, "permissions_for"):
        if not turn.channel.permissions_for(turn.requester).add_reactions:
            raise ToolError("you are not allowed to add reactions in this channel")
    message: Any = turn.trigger
    try:
        if message is None and turn.interaction is not None:
            # a slash command has no message of its own: its response stands for it
            message = await turn.interaction.original_response()
        if message is None:
            raise ToolError("there is no message to react to")
        await message.add_reaction(value)
    except discord.HTTPException as exc:
        if exc.code == 10014 or exc.status == 400:
            raise ToolError(f"{emoji!r} is not an emoji Discord accepts") from None
        if exc.status in (401, 403, 404):
            raise ToolError("the message can't be reacted to any more") from None
        raise
    return f"reacted with {value}"


def _find_channel(guild: discord.Guild, channel: str) -> Any:
    cid = _snowflake(_CHANNEL_RE, channel)
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
    if not text.strip():
        raise ToolError("the message text is empty")
    if len(text) > TEXT_LIMIT:
        raise ToolError(f"the message is longer than Discord's {TEXT_LIMIT} characters")
    target = _find_channel(guild, channel)
    rights = target.permissions_for(member) if target is not None else None
    if target is None or not hasattr(target, "send") or rights is None or not rights.view_channel:
        raise ToolError(f"no text channel {channel!r} in this server")
    if isinstance(target, discord.Thread):
        if target.is_private():
            raise ToolError("messages can only be sent to public threads")
        may_send = rights.send_messages_in_threads and (
            not (target.locked or target.archived) or rights.manage_threads
        )
    else:
        may_send = rights.send_messages
    if not may_send:
        raise ToolError(f"you are not allowed to send messages in #{target.name}")
    ctx.side_effect("a post")
    sent = await target.send(text, allowed_mentions=discord.AllowedMentions.none())
    return {"sent": True, "channel": f"#{target.name}", "message_id": str(sent.id)}


async def create_thread(name: str, ctx: ToolContext) -> dict[str, Any]:
    """Create a public thread in the current channel.

    Args:
        name: The thread's name (cut to 100 characters).
    """
    turn = _turn(ctx)
    _, member = _guild_member(turn)
    if not name.strip():
        raise ToolError("the thread needs a name")
    parent = turn.channel.parent if isinstance(turn.channel, discord.Thread) else turn.channel
    if not isinstance(parent, discord.TextChannel):
        raise ToolError("threads can only be created in a text channel")
    if not parent.permissions_for(member).create_public_threads:
        raise ToolError(f"you are not allowed to create threads in #{parent.name}")
    ctx.side_effect("a thread")
    thread = await parent.create_thread(
        name=thread_name(name), type=discord.ChannelType.public_thread
    )
    return {"thread_id": str(thread.id), "name": thread.name, "mention": thread.mention}


TOOLS = (lookup_member, add_reaction, send_message, create_thread)
"""The Discord tools, offered in Discord conversations only."""
