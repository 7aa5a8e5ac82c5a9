"""Harness for Discord end-to-end tests: the fake OpenAI, the fake Discord, a real engine on
SQLite and the real adapter (``serve``) driving discord.py over HTTP and WebSocket.

Rate-limit windows are Discord's shape (5 per window per channel / per token) scaled down to
0.5 s so tests stay quick; the adapter's pacers use the same scaled budgets. The global limit
(50 requests per second) is Discord's own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bots.discord import serve
from bots.discord.client import DiscordBot
from bots.discord.pacing import Budget, Pacer, Pacers
from core.bootstrap import build_engine
from core.engine import Engine
from core.settings import Settings
from tests.fakes.discord_fake import FakeDiscord, FakeInteraction, Limit
from tests.fakes.discord_fake.server import GLOBAL
from tests.fakes.openai_fake import FakeOpenAI

WINDOW = 0.5
FAST_LIMITS = {
    "messages_post": Limit(5, WINDOW),
    "messages_patch": Limit(5, WINDOW),
    "webhook": Limit(5, WINDOW),
    "reactions": Limit(5, WINDOW),
    GLOBAL: Limit(50, 1.0),
}


def fast_pacers() -> Pacers:
    budget = Budget(5, WINDOW, margin=0.05)
    return Pacers(Pacer(budget), Pacer(budget), Pacer(budget))


@dataclass
class DiscordEnv:
    discord: FakeDiscord
    openai: FakeOpenAI
    engine: Engine
    bot: DiscordBot
    settings: Settings
    task: asyncio.Task[None]

    async def until(self, predicate: Any, within: float = 5.0) -> Any:
        if self.task.done():
            self.task.result()
        return await self.discord.wait_for(predicate, within)

    def text_of(self, message_id: str | None) -> str:
        assert message_id is not None
        return str(self.discord.world.messages[message_id]["content"])

    async def answer_of(self, inter: FakeInteraction, expected: str, within: float = 5.0) -> None:
        """Wait until the interaction's original response shows ``expected``."""
        await self.until(
            lambda: (m := self.discord.original(inter)) and m["content"] == expected, within
        )

    async def bot_text_in(self, channel_id: str, expected: str, within: float = 5.0) -> None:
        await self.until(
            lambda: any(m["content"] == expected for m in self.discord.bot_messages(channel_id)),
            within,
        )


def settings_for(openai: FakeOpenAI, discord: FakeDiscord, db: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "OPENAI_API_KEY": "test",
        "OPENAI_BASE_URL": openai.base_url,
        "OPENAI_MAX_RETRIES": 0,
        "ASSISTANT_MODEL": "fake-model",
        "DATABASE_URL": f"sqlite:///{db}",
        "TOOLS_MODULES": "",
        "DISCORD_TOKEN": discord.token,
        "DISCORD_API_BASE": discord.api_base,
        "DISCORD_GATEWAY_URL": str(discord.gateway_url),
        "DISCORD_GUILD_IDS": discord.guild["id"],
    }
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@contextlib.asynccontextmanager
async def running_bot(
    tmp_path: Path,
    *,
    limits: dict[str, Limit] | None = None,
    pacers: Pacers | None = None,
    expiry_margin: float = 30.0,
    **extra: Any,
) -> AsyncIterator[DiscordEnv]:
    async with FakeOpenAI() as openai, FakeDiscord(limits=limits or FAST_LIMITS) as discord:
        settings = settings_for(openai, discord, tmp_path / "t.db", **extra)
        engine = await build_engine(settings)
        bot = DiscordBot(
            engine,
            guild_ids=settings.discord_guild_id_list,
            pacers=pacers or fast_pacers(),
            expiry_margin=expiry_margin,
            guild_ready_timeout=0.01,
        )
        task = asyncio.create_task(serve(settings, engine, bot))
        env = DiscordEnv(discord, openai, engine, bot, settings, task)
        try:
            await env.until(bot.is_ready)
            yield env
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await engine.close()
