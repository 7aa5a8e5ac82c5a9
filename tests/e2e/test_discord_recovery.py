"""A real crash (SIGKILL of `python -m bots discord` mid-reply): after the restart the bot
answers the message the crash left unanswered, in the same DM, exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bots.common.adapter import serve
from tests.fakes.discord_fake import FakeDiscord
from tests.fakes.openai_fake import FakeOpenAI
from tests.harness.discord import FAST_LIMITS, fast_pacers, settings_for
from tests.harness.processes import spawn_discord


@pytest.mark.process
async def test_message_interrupted_by_a_crash_is_answered_after_restart(tmp_path: Path) -> None:
    async with FakeOpenAI() as openai, FakeDiscord(limits=FAST_LIMITS) as discord:
        settings = settings_for(openai, discord, tmp_path / "t.db")
        gate = asyncio.Event()
        openai.model.gate = gate
        proc = await spawn_discord(tmp_path, openai, discord, tmp_path / "t.db")
        try:
            await discord.wait_connected(within=30)
            await discord.wait_for(lambda: discord.world.commands, within=30)
            msg = await discord.dm(discord.alice["id"], "are you there?")
            await openai.model.wait_for_gate_waiters(1, timeout=30)
        finally:
            proc.kill()
            await proc.wait()
        gate.set()

        engine = await settings.engine()
        adapter = settings.adapter(pacers=fast_pacers(), guild_ready_timeout=0.01)
        task = asyncio.create_task(serve([adapter], engine, grace=0.0))
        try:
            channel = msg["channel_id"]

            def answers() -> list[dict]:
                return [
                    m
                    for m in discord.bot_messages(channel)
                    if m["content"] == "echo: are you there?"
                ]

            await discord.wait_for(lambda: answers(), within=10)
            await engine.wait_idle()
            (answer,) = answers()
            assert (answer.get("message_reference") or {}).get("message_id") == msg["id"]
            users = [m["content"] for m in openai.model.calls[-1] if m["role"] == "user"]
            assert users == ["are you there?"]  # answered, not stored twice
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await engine.close()
