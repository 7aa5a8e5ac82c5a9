"""Harness for Discord end-to-end tests: the fake OpenAI, the fake Discord, a real engine on
SQLite and the real adapter (``serve``, as ``python -m bots`` runs it) driving discord.py over HTTP and WebSocket.

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

from bots.common.adapter import serve
from bots.discord.adapter import DiscordAdapter
from bots.discord.client import DiscordBot
from bots.discord.pacing import Budget, Pacer, Pacers
from bots.discord.settings import DiscordSettings
from core.bootstrap import build_engine
from core.engine import Engine
from core.settings import Settings
from tests.fakes.discord_fake import FakeDiscord, FakeInteraction, Limit
from tests.fakes.discord_fake.server import GLOBAL
from tests.fakes.openai_fake import FakeOpenAI
from tests.harness.observer import Recorder

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
class DiscordConfig:
    """The core's settings and the Discord adapter's, from one set of variables."""

    core: Settings
    discord: DiscordSettings

    async def engine(self) -> Engine:
        """A started engine that offers the Discord tools, as ``python -m bots`` builds it."""
        return await build_engine(self.core, platform_tools={"discord": DiscordAdapter.tools})

    def adapter(self, **options: Any) -> DiscordAdapter:
        return DiscordAdapter(self.discord, **options)


@dataclass
class DiscordEnv:
    discord: FakeDiscord
    openai: FakeOpenAI
    engine: Engine
    adapter: DiscordAdapter
    settings: DiscordConfig
    task: asyncio.Task[None]
    observed: Recorder
    """What the adapter reported (e.g. replies waiting for an answer's link)."""

    @property
    def bot(self) -> DiscordBot:
        assert self.adapter.bot is not None
        return self.adapter.bot

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


def settings_for(openai: FakeOpenAI, discord: FakeDiscord, db: Path, **extra: Any) -> DiscordConfig:
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
    return DiscordConfig(
        Settings(_env_file=None, **values),  # type: ignore[call-arg]
        DiscordSettings(_env_file=None, **values),  # type: ignore[call-arg]
    )


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
        engine = await settings.engine()
        observed = Recorder()
        adapter = settings.adapter(
            pacers=pacers or fast_pacers(),
            expiry_margin=expiry_margin,
            guild_ready_timeout=0.01,
            observe=observed,
        )
        task = asyncio.create_task(serve([adapter], engine, grace=0.0))
        env = DiscordEnv(discord, openai, engine, adapter, settings, task, observed)
        try:
            await env.until(lambda: adapter.bot is not None and adapter.bot.is_ready())
            yield env
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await engine.close()
