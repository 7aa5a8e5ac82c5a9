"""Real ``python -m bots ...`` processes for end-to-end tests, against the fakes: the console
adapter (``bot_env`` + ``spawn_console``) and the Slack adapter in Socket Mode
(``spawn_slack``). Tests that use them are marked ``process`` (``pytest -m "not process"``
skips them)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from bots.slack.app import OAUTH_ENV
from tests.fakes.discord_fake import FakeDiscord
from tests.fakes.openai_fake import FakeOpenAI
from tests.fakes.slack_fake import APP_TOKEN, BOT_TOKEN, FakeSlack

ROOT = Path(__file__).resolve().parents[2]


def bot_env(fake: FakeOpenAI, db: Path, backend: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "ASSISTANT_", "SLACK_", "DISCORD_", "DATABASE_", "TOOLS_"))
    }
    env.update(
        OPENAI_API_KEY="test",
        OPENAI_BASE_URL=fake.base_url,
        ASSISTANT_BACKEND=backend,
        DATABASE_URL=f"sqlite:///{db}",
        PYTHONPATH=str(ROOT),
        LOG_LEVEL="WARNING",
    )
    return env


async def spawn_console(env: dict[str, str], cwd: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots",
        "console",
        *args,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def spawn_slack(
    tmp_path: Path, openai: FakeOpenAI, slack: FakeSlack, argv: list[str], **extra: str
) -> asyncio.subprocess.Process:
    """``python -m bots <argv>`` with Slack (Socket Mode) configured against the fakes."""
    inherited = {k: v for k, v in os.environ.items() if k not in OAUTH_ENV}
    env = {
        **inherited,
        "PYTHONPATH": str(ROOT),
        "OPENAI_API_KEY": "test",
        "OPENAI_BASE_URL": openai.base_url,
        "OPENAI_MAX_RETRIES": "0",
        "ASSISTANT_BACKEND": "chat",
        "DATABASE_URL": f"sqlite:///{tmp_path}/p.db",
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_SIGNING_SECRET": "",
        "SLACK_API_URL": slack.base_url,
        "DISCORD_TOKEN": "",
        "TOOLS_MODULES": "",
        "LOG_LEVEL": "WARNING",
        **extra,
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots",
        *argv,
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def spawn_discord(
    tmp_path: Path, openai: FakeOpenAI, discord: FakeDiscord, db: Path
) -> asyncio.subprocess.Process:
    """``python -m bots discord`` against the fakes, on the database ``db``."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPENAI_"))},
        "OPENAI_API_KEY": "test",
        "OPENAI_BASE_URL": openai.base_url,
        "DATABASE_URL": f"sqlite:///{db}",
        "DISCORD_TOKEN": discord.token,
        "DISCORD_API_BASE": discord.api_base,
        "DISCORD_GATEWAY_URL": str(discord.gateway_url),
        "DISCORD_GUILD_IDS": discord.guild["id"],
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots",
        "discord",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
