"""Start-up of the Discord adapter against the fake Discord: ``python -m bots [discord]`` as a
real process (a missing Message Content intent, close code 4014, prints one clear line and
exits 2), command sync to DISCORD_GUILD_IDS or globally, the REST/gateway overrides, and the
one-line errors for a bad token, a missing token and a guild the bot can't register in."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import discord
import discord.gateway
import discord.http
import pytest

from bots.common.adapter import run_adapter
from bots.errors import StartupError
from tests.fakes.discord_fake import FakeDiscord
from tests.fakes.openai_fake import FakeOpenAI
from tests.harness.discord import running_bot, settings_for
from tests.harness.fixtures import MakeDiscordEnv

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.process
@pytest.mark.parametrize("argv", [["discord"], []], ids=["discord", "all-configured"])
async def test_4014_prints_one_clear_line_and_exits_2(tmp_path: Path, argv: list[str]) -> None:
    async with FakeDiscord() as fake:
        fake.gateway.granted_privileged = False
        env = {
            **os.environ,
            "OPENAI_API_KEY": "test",
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
            "DATABASE_URL": f"sqlite:///{tmp_path}/t.db",
            "DISCORD_TOKEN": fake.token,
            "DISCORD_API_BASE": fake.api_base,
            "DISCORD_GATEWAY_URL": str(fake.gateway_url),
            "DISCORD_GUILD_IDS": fake.guild["id"],
            "SLACK_BOT_TOKEN": "",
            "LOG_LEVEL": "WARNING",
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bots",
            *argv,
            cwd=tmp_path,
            env={**env, "PYTHONPATH": str(REPO)},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(30):
            _, err = await proc.communicate()
        assert proc.returncode == 2, err.decode()
        lines = [ln for ln in err.decode().splitlines() if "MESSAGE CONTENT" in ln]
        assert len(lines) == 1 and "Developer Portal" in lines[0]
        assert "Traceback" not in err.decode()
        assert any(r.path == "/gw" for r in fake.requests)


async def test_harness_connects_and_syncs_commands(make_discord_env: MakeDiscordEnv) -> None:
    env = await make_discord_env()
    synced = env.discord.world.commands[env.discord.guild["id"]]
    assert sorted(c["name"] for c in synced) == ["ask", "chat", "reset"]
    ask = next(c for c in synced if c["name"] == "ask")
    assert ask["options"][0]["name"] == "prompt" and ask["options"][0]["required"]


async def test_commands_sync_to_the_configured_guilds_only(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as env:
        d = env.discord
        assert set(d.world.commands) == {d.guild["id"]}
        assert not d.requests_to("PUT", f"/applications/{d.world.app_id}/commands")
        ask = next(c for c in d.world.commands[d.guild["id"]] if c["name"] == "ask")
        prompt = ask["options"][0]
        assert prompt["min_length"] == 1 and prompt["max_length"] == 4000


async def test_without_guild_ids_commands_sync_globally(tmp_path: Path) -> None:
    async with running_bot(tmp_path, DISCORD_GUILD_IDS="") as env:
        d = env.discord
        assert set(d.world.commands) == {"global"}
        assert sorted(c["name"] for c in d.world.commands["global"]) == ["ask", "chat", "reset"]
        inter = await d.slash("ask", {"prompt": "global?"}, d.alice["id"], d.general["id"])
        await env.answer_of(inter, "echo: global?")


async def test_overrides_point_discord_py_at_the_fake_and_are_restored(tmp_path: Path) -> None:
    base = discord.http.Route.BASE
    gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    async with running_bot(tmp_path) as env:
        assert discord.http.Route.BASE == env.discord.api_base
        assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == str(env.discord.gateway_url)
        assert env.discord.requests_to("GET", "/users/@me")
    assert discord.http.Route.BASE == base
    assert discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY == gateway


async def _serve_fails(tmp_path: Path, **settings: str) -> str:
    async with FakeOpenAI() as openai, FakeDiscord() as fake:
        s = settings_for(openai, fake, tmp_path / "t.db", **settings)
        engine = await s.engine()
        try:
            adapter = s.adapter(guild_ready_timeout=0.01)
            with pytest.raises(StartupError) as err:
                async with asyncio.timeout(10):
                    await run_adapter(adapter, engine)
            await adapter.stop()
            return str(err.value)
        finally:
            await engine.close()


async def test_a_rejected_token_is_one_clear_line(tmp_path: Path) -> None:
    text = await _serve_fails(tmp_path, DISCORD_TOKEN="not-the-token")
    assert "DISCORD_TOKEN" in text and "\n" not in text


async def test_a_missing_token_is_one_clear_line(tmp_path: Path) -> None:
    text = await _serve_fails(tmp_path, DISCORD_TOKEN="")
    assert text == "DISCORD_TOKEN is required to run the Discord adapter."


async def test_a_guild_the_bot_is_not_in_is_one_clear_line(tmp_path: Path) -> None:
    text = await _serve_fails(tmp_path, DISCORD_GUILD_IDS="123456789012345678")
    assert "DISCORD_GUILD_IDS" in text and "123456789012345678" in text and "\n" not in text
