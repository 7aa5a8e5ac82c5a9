"""Pure mapping from Discord places to conversation keys.

- a guild text channel: ``discord|<guild>|<channel>|``
- a thread: ``discord|<guild>|<parent channel>|<thread>``
- a DM channel: ``discord|@dm|<channel>|``
- an ``/ask`` answer in a plain guild channel: ``discord|<guild>|<channel>|ask-<interaction>``
"""

from __future__ import annotations

from dataclasses import dataclass

import discord

from bots.common.targets import ResumeTarget
from core.keys import ConversationKey

PLATFORM = "discord"
DM_WORKSPACE = "@dm"


def place_key(
    guild_id: int | None, channel_id: int, parent_id: int | None = None
) -> ConversationKey:
    """The conversation of a whole channel, thread or DM."""
    if guild_id is None:
        return ConversationKey(PLATFORM, DM_WORKSPACE, str(channel_id))
    if parent_id is not None:
        return ConversationKey(PLATFORM, str(guild_id), str(parent_id), str(channel_id))
    return ConversationKey(PLATFORM, str(guild_id), str(channel_id))


def ask_key(guild_id: int, channel_id: int, interaction_id: int) -> ConversationKey:
    """A new conversation for one ``/ask`` answer in a plain guild channel."""
    return ConversationKey(PLATFORM, str(guild_id), str(channel_id), f"ask-{interaction_id}")


def channel_key(channel: object) -> ConversationKey | None:
    """The key of a discord.py channel object, or None for places the bot doesn't serve."""
    if isinstance(channel, discord.Thread):
        return place_key(channel.guild.id, channel.id, channel.parent_id)
    if isinstance(channel, discord.DMChannel):
        return place_key(None, channel.id)
    if isinstance(channel, discord.TextChannel):
        return place_key(channel.guild.id, channel.id)
    return None


def is_thread_key(key: ConversationKey) -> bool:
    return key.thread is not None and not key.thread.startswith("ask-")


def interaction_key(
    guild_id: int | None, channel_id: int, parent_id: int | None, interaction_id: int
) -> ConversationKey:
    """Where an ``/ask`` belongs: in a thread or a DM, that conversation; in a plain guild
    channel, a new conversation for this answer."""
    if guild_id is None or parent_id is not None:
        return place_key(guild_id, channel_id, parent_id)
    return ask_key(guild_id, channel_id, interaction_id)


@dataclass(frozen=True, slots=True)
class SavedTarget(ResumeTarget):
    """Where to answer, stored with the message so a crash can't leave it unanswered."""

    channel: str
    user: str
    """Who asked (the requester whose rights tools act within)."""
    message: str | None = None
    """The user's message, when there is one (not for slash commands)."""

    def usable(self) -> bool:
        return self.channel.isdigit() and self.user.isdigit()


def saved_target(channel_id: int, user_id: int, message_id: int | None = None) -> SavedTarget:
    return SavedTarget(
        str(channel_id), str(user_id), str(message_id) if message_id is not None else None
    )
