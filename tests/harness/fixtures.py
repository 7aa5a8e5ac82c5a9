"""Pytest fixtures for the harnesses (loaded from ``tests/conftest.py``): factories that start
a core harness, a Slack environment or a Discord bot for the test and stop whatever they
started when it ends. Calling a factory again in the same test starts another one (e.g. a
second engine on the same database after a restart)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

import pytest_asyncio

from bots.discord.pacing import Pacers
from bots.slack.pacing import SlackPacing
from core.tools.registry import ToolRegistry
from tests.fakes.discord_fake import Limit
from tests.fakes.openai_fake import FakeOpenAI
from tests.harness.core import Harness, start_harness
from tests.harness.discord import DiscordEnv, running_bot
from tests.harness.slack import SlackEnv, slack_env


class MakeCoreHarness(Protocol):
    async def __call__(
        self,
        backend: str = "chat",
        *,
        db: Path | None = None,
        registry: ToolRegistry | None = None,
        **settings: Any,
    ) -> Harness: ...


class MakeSlackEnv(Protocol):
    async def __call__(
        self, mode: str, *, pacing: SlackPacing | None = None, **settings: Any
    ) -> SlackEnv: ...


class MakeDiscordEnv(Protocol):
    async def __call__(
        self,
        *,
        limits: dict[str, Limit] | None = None,
        pacers: Pacers | None = None,
        expiry_margin: float = 30.0,
        **settings: Any,
    ) -> DiscordEnv: ...


@pytest_asyncio.fixture
async def make_core_harness(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> AsyncIterator[MakeCoreHarness]:
    """``await make_core_harness("chat", db=..., registry=..., **settings)``: an engine on
    SQLite (``tmp_path / "core.db"`` unless ``db`` is given) talking to ``openai_fake``.
    Every engine still open at the end of the test is closed (closing twice is harmless)."""
    started: list[Harness] = []

    async def make(
        backend: str = "chat",
        *,
        db: Path | None = None,
        registry: ToolRegistry | None = None,
        **settings: Any,
    ) -> Harness:
        harness = await start_harness(
            openai_fake, db or tmp_path / "core.db", backend, registry, **settings
        )
        started.append(harness)
        return harness

    yield make
    for harness in started:
        await harness.engine.close()


@pytest_asyncio.fixture
async def make_slack_env(tmp_path: Path) -> AsyncIterator[MakeSlackEnv]:
    """``await make_slack_env(mode, pacing=..., **settings)``: a started :func:`slack_env`
    (its own fakes and database), stopped at the end of the test."""
    async with contextlib.AsyncExitStack() as stack:
        count = 0

        async def make(
            mode: str, *, pacing: SlackPacing | None = None, **settings: Any
        ) -> SlackEnv:
            nonlocal count
            count += 1
            home = tmp_path / f"slack-{count}"
            home.mkdir()
            return await stack.enter_async_context(slack_env(home, mode, pacing=pacing, **settings))

        yield make


@pytest_asyncio.fixture
async def make_discord_env(tmp_path: Path) -> AsyncIterator[MakeDiscordEnv]:
    """``await make_discord_env(limits=..., pacers=..., **settings)``: a ready
    :func:`running_bot` (its own fakes and database), stopped at the end of the test."""
    async with contextlib.AsyncExitStack() as stack:
        count = 0

        async def make(
            *,
            limits: dict[str, Limit] | None = None,
            pacers: Pacers | None = None,
            expiry_margin: float = 30.0,
            **settings: Any,
        ) -> DiscordEnv:
            nonlocal count
            count += 1
            home = tmp_path / f"discord-{count}"
            home.mkdir()
            return await stack.enter_async_context(
                running_bot(
                    home, limits=limits, pacers=pacers, expiry_margin=expiry_margin, **settings
                )
            )

        yield make
