"""The Discord adapter (the contract of :mod:`bots.common.adapter`), on discord.py.

``DISCORD_API_BASE`` (e.g. ``http://127.0.0.1:8080/api/v10``) and ``DISCORD_GATEWAY_URL``
(e.g. ``ws://127.0.0.1:8080/gw``) redirect REST and the gateway, for proxies and tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Mapping
from typing import Any

import discord
import discord.gateway
import discord.http
import yarl

from bots.common.observer import Observer, ignore
from bots.discord.client import DiscordBot
from bots.discord.keys import PLATFORM
from bots.discord.pacing import Pacers
from bots.discord.port import ChannelPort
from bots.discord.settings import DiscordSettings
from bots.discord.tools import TOOLS
from bots.errors import StartupError
from core.engine import Engine
from core.messages import IncomingMessage
from core.settings import load

log = logging.getLogger(__name__)

INTENT_HELP = (
    "Discord refused the Message Content intent: enable it in the Developer Portal → your "
    "application → Bot → Privileged Gateway Intents → MESSAGE CONTENT INTENT, then restart."
)
TOKEN_HELP = "Discord rejected DISCORD_TOKEN: copy the bot token again from the Developer Portal."
SECRET_PATTERNS = ((r"\b[MNO][A-Za-z\d_-]{23,}\.[\w-]{6}\.[\w-]{27,}", "[discord token]"),)
"""Discord bot tokens, masked in every log line."""


def configured() -> bool:
    return load(DiscordSettings).configured


def create(options: Mapping[str, Any]) -> DiscordAdapter:
    return DiscordAdapter(load(DiscordSettings))


@contextlib.contextmanager
def endpoints(settings: DiscordSettings) -> Iterator[None]:
    """Point discord.py at DISCORD_API_BASE / DISCORD_GATEWAY_URL while serving."""
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    if settings.api_base:
        discord.http.Route.BASE = settings.api_base.rstrip("/")
    if settings.gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


class DiscordAdapter:
    platform = PLATFORM
    tools = TOOLS
    secret_patterns = SECRET_PATTERNS

    def __init__(
        self,
        settings: DiscordSettings,
        *,
        pacers: Pacers | None = None,
        expiry_margin: float = 30.0,
        guild_ready_timeout: float = 2.0,
        observe: Observer = ignore,
    ) -> None:
        self.settings = settings
        self.pacers = pacers
        self.expiry_margin = expiry_margin
        self.guild_ready_timeout = guild_ready_timeout
        self.observe = observe
        self.bot: DiscordBot | None = None
        self._running: asyncio.Task[None] | None = None
        self._endpoints = contextlib.ExitStack()

    async def start(self, engine: Engine) -> None:
        """Log in and connect; returns once the gateway is ready. A missing intent or a bad
        token is a StartupError (exit 2)."""
        token = self.settings.token
        if not token:
            raise StartupError("DISCORD_TOKEN is required to run the Discord adapter.")
        self.bot = bot = DiscordBot(
            engine,
            guild_ids=self.settings.guild_id_list,
            pacers=self.pacers,
            expiry_margin=self.expiry_margin,
            guild_ready_timeout=self.guild_ready_timeout,
            observe=self.observe,
        )
        self._endpoints.enter_context(endpoints(self.settings))
        self._running = asyncio.create_task(bot.start(token), name="discord")
        ready = asyncio.create_task(bot.wait_until_ready())
        try:
            await asyncio.wait({self._running, ready}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
        if self._running.done():
            await self.wait_closed()

    async def reopen(self, msg: IncomingMessage) -> ChannelPort | None:
        assert self.bot is not None, "start() first"
        return await self.bot.intake.reopen(msg)

    async def wait_closed(self) -> None:
        assert self._running is not None, "start() first"
        try:
            await self._running
        except discord.PrivilegedIntentsRequired:
            raise StartupError(INTENT_HELP) from None
        except discord.LoginFailure:
            raise StartupError(TOKEN_HELP) from None

    async def stop_taking(self) -> None:
        """New messages and commands get a short "restarting" reply instead of an answer;
        the gateway and HTTP session stay up for the replies still streaming."""
        if self.bot is not None:
            self.bot.closing = True

    async def stop(self) -> None:
        try:
            if self.bot is not None:
                await self.bot.close()
            if self._running is not None:
                self._running.cancel()
                await asyncio.gather(self._running, return_exceptions=True)
        finally:
            self._endpoints.close()
