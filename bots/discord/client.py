"""The Discord client: intents, slash-command sync, and the gateway events handed to the
intake (:mod:`bots.discord.intake` for messages, :mod:`bots.discord.commands` for commands).
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from bots.common.observer import Observer, ignore
from bots.discord import commands
from bots.discord.http_pacing import RequestPacing
from bots.discord.intake import DiscordIntake
from bots.discord.links import AnswerLinks
from bots.discord.pacing import Pacers
from bots.discord.rights import THREAD_STARTERS
from bots.errors import StartupError
from core.engine import Engine

log = logging.getLogger(__name__)

GUILD_HELP = (
    "DISCORD_GUILD_IDS: cannot register slash commands in guild {gid}; invite the bot there "
    "with the applications.commands scope, or remove the id."
)


def bot_intents() -> discord.Intents:
    intents = discord.Intents.default()
    intents.message_content = True  # privileged: thread follow-ups arrive without a mention
    return intents


class DiscordBot(discord.Client):
    def __init__(
        self,
        engine: Engine,
        *,
        guild_ids: list[int] | None = None,
        pacers: Pacers | None = None,
        expiry_margin: float = 30.0,
        guild_ready_timeout: float = 2.0,
        observe: Observer = ignore,
    ) -> None:
        self.pacers = pacers or Pacers.discord_defaults()
        super().__init__(
            intents=bot_intents(),
            guild_ready_timeout=guild_ready_timeout,
            http_trace=RequestPacing(self.pacers).trace_config(),
        )
        self.engine = engine
        self.observe = observe
        self.closing = False
        """Shutting down: new messages and commands are told to come back in a minute."""
        self.links = AnswerLinks(engine.state, observe=observe)
        self.guild_ids = list(guild_ids or [])
        self.expiry_margin = expiry_margin
        self.intake = DiscordIntake(self)
        self.tree: app_commands.CommandTree[Any] = app_commands.CommandTree(self)
        commands.install(self.tree, self)

    async def setup_hook(self) -> None:
        """Sync the slash commands: to each of DISCORD_GUILD_IDS (instant), else globally."""
        if self.guild_ids:
            for gid in self.guild_ids:
                guild = discord.Object(id=gid)
                self.tree.copy_global_to(guild=guild)
                try:
                    await self.tree.sync(guild=guild)
                except (discord.Forbidden, discord.NotFound):
                    raise StartupError(GUILD_HELP.format(gid=gid)) from None
            log.info("slash commands synced to %d guild(s)", len(self.guild_ids))
        else:
            await self.tree.sync()
            log.info("slash commands synced globally")

    async def remember_starter(self, thread_id: int, user_id: int) -> None:
        """Who a thread the bot started belongs to (it decides who may reset it)."""
        await self.engine.state.remember(THREAD_STARTERS, str(thread_id), str(user_id))

    async def thread_starter(self, thread_id: int) -> int | None:
        starter = await self.engine.state.recall(THREAD_STARTERS, str(thread_id))
        return int(starter) if isinstance(starter, str) and starter.isdigit() else None

    async def on_ready(self) -> None:
        log.info("connected to Discord as %s", self.user)

    async def on_message(self, message: discord.Message) -> None:
        await self.intake.on_message(message)
