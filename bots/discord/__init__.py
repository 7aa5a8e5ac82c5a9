"""The Discord adapter (discord.py): slash commands, mentions, threads and DMs, streamed
replies and Discord tools. :mod:`bots.discord.adapter` implements the adapter contract."""
