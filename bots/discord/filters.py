"""Which incoming Discord messages the bot looks at, and cleaning their text."""

from __future__ import annotations

import re

import discord

from bots.common.mentions import strip_mentions

USER_MESSAGE_TYPES = frozenset({discord.MessageType.default, discord.MessageType.reply})


def should_ignore(message: discord.Message, bot_user_id: int) -> bool:
    """Ignore bots (including ourselves), webhooks and system messages."""
    if message.author.id == bot_user_id or message.author.bot or message.webhook_id:
        return True
    return message.type not in USER_MESSAGE_TYPES


def mentions_user(message: discord.Message, user_id: int) -> bool:
    """A direct mention of ``user_id`` (not @everyone, not a reply ping alone)."""
    return bool(re.search(rf"<@!?{user_id}>", message.content))


def strip_mention(text: str, user_id: int) -> str:
    """The text without mentions of ``user_id``, trimmed."""
    return strip_mentions(text, rf"<@!?{user_id}>")
