"""Short replies every adapter gives in the same words."""

from __future__ import annotations


def take_failed(ref: str) -> str:
    """A message could not be taken (e.g. storing it failed): the user learns it at once,
    with the reference id the logs carry."""
    return f"Sorry, I couldn't take that message. Please send it again. (ref {ref})"


RESTARTING = "I'm restarting right now. Please send that again in a minute."
"""A message that arrives while the bot shuts down (the replies in flight still finish)."""


def too_many_new(per_hour: int) -> str:
    """A user started their hourly quota of new conversations already."""
    return (
        f"You've started {per_hour} new conversations with me in the last hour. Please "
        "continue in one of them, or try again later."
    )
