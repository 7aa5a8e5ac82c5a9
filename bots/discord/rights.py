"""Who may do what to a bot conversation on Discord: pure decisions, no I/O."""

from __future__ import annotations

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
