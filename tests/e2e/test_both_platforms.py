"""Slack and Discord in one process (``python -m bots`` with both tokens set, as the Procfile
runs it): both answer, and each offers the model its own full tool list, although both define
a tool named ``add_reaction`` (the bug: Slack lost its own when Discord registered second)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bots.discord import tools as discord_tools
from bots.slack import tools as slack_tools
from core.tools.registry import parse_docstring
from tests.fakes.discord_fake import FakeDiscord
from tests.fakes.openai_fake import FakeOpenAI
from tests.fakes.slack_fake import FakeSlack
from tests.harness.discord import FAST_LIMITS
from tests.harness.processes import spawn_slack
from tests.harness.slack import MENTION, populate

pytestmark = pytest.mark.process


def _offered(request: Any) -> dict[str, str]:
    """Tool name → description, as the model was offered them."""
    return {t["function"]["name"]: t["function"]["description"] for t in request.json["tools"]}


def _asked(request: Any) -> str:
    return str([m for m in request.json["messages"] if m["role"] == "user"][-1]["content"])


def _described(module: Any) -> dict[str, str]:
    return {f.__name__: parse_docstring(f.__doc__)[0] for f in module.TOOLS}


async def test_one_process_serves_both_each_with_its_own_tools(tmp_path: Path) -> None:
    async with (
        FakeOpenAI() as openai,
        FakeSlack() as slack,
        FakeDiscord(limits=FAST_LIMITS) as discord,
    ):
        populate(slack)
        proc = await spawn_slack(
            tmp_path,
            openai,
            slack,
            [],  # no subcommand: every configured platform
            DISCORD_TOKEN=discord.token,
            DISCORD_API_BASE=discord.api_base,
            DISCORD_GATEWAY_URL=str(discord.gateway_url),
            DISCORD_GUILD_IDS=discord.guild["id"],
        )
        try:
            await slack.socket.wait_connected(within=30)
            await discord.wait_for(lambda: discord.world.commands, within=30)
            mention = await slack.say("U1", "C1", f"{MENTION} hello from Slack")
            dm = await discord.dm(discord.alice["id"], "hello from Discord")
            await slack.wait_for(lambda: slack.ws.bot_messages("C1", mention.ts), within=30)
            await discord.wait_for(
                lambda: any(
                    m["content"] == "echo: hello from Discord"
                    for m in discord.bot_messages(dm["channel_id"])
                ),
                within=30,
            )
        finally:
            proc.terminate()
            async with asyncio.timeout(30):
                await proc.communicate()
        requests = {_asked(r): r for r in openai.requests_to("/chat/completions")}
        on_slack = _offered(requests["hello from Slack"])
        on_discord = _offered(requests["hello from Discord"])
        builtin = {"current_time"}
        assert set(on_slack) == builtin | set(_described(slack_tools))
        assert set(on_discord) == builtin | set(_described(discord_tools))
        assert "add_reaction" in on_slack and "add_reaction" in on_discord
        assert on_slack["add_reaction"] == _described(slack_tools)["add_reaction"]
        assert on_discord["add_reaction"] == _described(discord_tools)["add_reaction"]
        assert on_slack["add_reaction"] != on_discord["add_reaction"]
