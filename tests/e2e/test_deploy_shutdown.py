"""A deploy never cuts a reply: SIGTERM to a real ``python -m bots`` while a reply streams.
The adapter stops taking messages, the reply finishes within the grace through the still-open
platform client, and only then are the clients closed (the process exits 0). Slack (Socket
Mode, streamed natively) and Discord."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path

import pytest

from tests.fakes.discord_fake import FakeDiscord
from tests.fakes.openai_fake import FakeOpenAI, Reply
from tests.fakes.slack_fake import FakeSlack
from tests.harness.discord import FAST_LIMITS
from tests.harness.processes import spawn_discord, spawn_slack
from tests.harness.slack import MENTION

pytestmark = pytest.mark.process

ANSWER = " ".join(f"word{i}" for i in range(40))
SLOW = Reply(text=ANSWER, chunk_size=8, deltas_per_second=15)  # about two seconds


def _inbox_statuses(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT status FROM inbox ORDER BY id")]


async def _stop(proc: asyncio.subprocess.Process) -> str:
    proc.send_signal(signal.SIGTERM)
    async with asyncio.timeout(30):
        _, err = await proc.communicate()
    return err.decode()


async def test_slack_reply_streaming_at_sigterm_lands_whole(tmp_path: Path) -> None:
    async with FakeOpenAI() as openai, FakeSlack() as slack:
        slack.ws.add_user("U1", "ada")
        slack.ws.add_channel("C1", "general", ["U1"])
        openai.model.add_rule("deploy", SLOW)
        proc = await spawn_slack(tmp_path, openai, slack, ["slack"])
        try:
            await slack.socket.wait_connected(within=30)
            post = await slack.say("U1", "C1", f"{MENTION} deploy now")
            await slack.wait_for(lambda: slack.ws.bot_messages("C1", post.ts), within=15)
        except BaseException:
            proc.kill()
            raise
        err = await _stop(proc)  # mid-stream: the reply has started, not finished
        assert proc.returncode == 0, err
        [reply] = slack.ws.bot_messages("C1", post.ts)
        assert reply.text == ANSWER and reply.stream_state == "stopped"
        assert _inbox_statuses(tmp_path / "p.db") == ["completed"]


async def test_discord_reply_streaming_at_sigterm_lands_whole(tmp_path: Path) -> None:
    async with FakeOpenAI() as openai, FakeDiscord(limits=FAST_LIMITS) as discord:
        openai.model.add_rule("deploy", SLOW)
        proc = await spawn_discord(tmp_path, openai, discord, tmp_path / "d.db")
        try:
            await discord.wait_connected(within=30)
            await discord.wait_for(lambda: discord.world.commands, within=30)
            dm = await discord.dm(discord.alice["id"], "deploy now")
            channel = dm["channel_id"]
            await discord.wait_for(lambda: discord.bot_messages(channel), within=15)
        except BaseException:
            proc.kill()
            raise
        err = await _stop(proc)
        assert proc.returncode == 0, err
        assert [m["content"] for m in discord.bot_messages(channel)] == [ANSWER]
        assert _inbox_statuses(tmp_path / "d.db") == ["completed"]
