"""Who may do what to a bot conversation on Discord: pure decisions, no I/O."""

from __future__ import annotations

from discord import Permissions

ANSWER_REFUSED = "You can't send messages here, so I won't answer here for you."
THREAD_REFUSED = "You can't create threads here, so I won't start one for you."

THREAD_STARTERS = "discord.thread_starters"
"""Adapter state: bot thread id → the member who started it (by a mention or ``/chat``)."""


def may_reset(
    *,
    in_dm: bool,
    moderator: bool,
    user_id: int,
    starter_id: int | None,
    thread_owner_id: int | None,
) -> bool:
    """A conversation is reset by the person it belongs to: in a DM, its user; in a thread
    the bot started for someone, that person; in anyone else's thread, its owner. A member
    who may manage threads or messages there may reset any of them."""
    if in_dm or moderator:
        return True
    if starter_id is not None:
        return starter_id == user_id
    return thread_owner_id == user_id


def answer_refusal(perms: Permissions, *, in_thread: bool, in_dm: bool) -> str | None:
    """Why the bot won't post an answer here on a member's behalf (``perms``: theirs in this
    channel), or None: they must be able to send messages here themselves."""
    if in_dm:
        return None
    allowed = perms.send_messages_in_threads if in_thread else perms.send_messages
    return None if allowed and perms.view_channel else ANSWER_REFUSED


def thread_refusal(perms: Permissions) -> str | None:
    """Why the bot won't open a public thread here on a member's behalf, or None."""
    allowed = perms.create_public_threads and perms.send_messages_in_threads
    return None if allowed and perms.view_channel else THREAD_REFUSED
