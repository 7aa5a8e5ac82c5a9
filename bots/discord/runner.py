"""``serve(settings, engine)``: run the Discord adapter until cancelled.

``DISCORD_API_BASE`` (e.g. ``http://127.0.0.1:8080/api/v10``) and ``DISCORD_GATEWAY_URL``
(e.g. ``ws://127.0.0.1:8080/gw``) redirect REST and the gateway, for proxies and tests.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import discord
import discord.gateway
import discord.http
import yarl

from bots.discord.client import DiscordBot
from bots.discord.tools import register_tools
from bots.errors import StartupError
from core.engine import Engine
from core.settings import Settings

log = logging.getLogger(__name__)

INTENT_HELP = (
    "Discord refused the Message Content intent: enable it in the Developer Portal → your "
    "application → Bot → Privileged Gateway Intents → MESSAGE CONTENT INTENT, then restart."
)
TOKEN_HELP = "Discord rejected DISCORD_TOKEN: copy the bot token again from the Developer Portal."


@contextlib.contextmanager
def endpoints(settings: Settings) -> Iterator[None]:
    """Point discord.py at DISCORD_API_BASE / DISCORD_GATEWAY_URL while serving."""
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    if settings.discord_api_base:
        discord.http.Route.BASE = settings.discord_api_base.rstrip("/")
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


async def serve(settings: Settings, engine: Engine, bot: DiscordBot | None = None) -> None:
    """Run until cancelled. A missing intent or a bad token is a StartupError (exit 2)."""
    if not settings.discord_token:
        raise StartupError("DISCORD_TOKEN is required to run the Discord adapter.")
    register_tools(engine.registry)
    bot = bot or DiscordBot(engine, guild_ids=settings.discord_guild_id_list)
    with endpoints(settings):
        try:
            await bot.start(settings.discord_token)
        except discord.PrivilegedIntentsRequired:
            raise StartupError(INTENT_HELP) from None
        except discord.LoginFailure:
            raise StartupError(TOKEN_HELP) from None
        finally:
            await bot.close()
