"""The Discord adapter (discord.py): slash commands, mentions, threads and DMs, streamed
replies and Discord tools. Entry point: :func:`serve`."""

from bots.discord.runner import serve

__all__ = ["serve"]
