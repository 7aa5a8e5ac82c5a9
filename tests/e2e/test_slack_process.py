"""``python -m bots slack`` and ``python -m bots`` (every configured platform) as real
processes against the fake Slack and the fake OpenAI: Socket Mode connects and answers a DM,
SIGTERM stops it cleanly, and a rejected app token or Bolt's OAuth variables in the
environment are one clear line with exit code 2."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.slack.app import OAUTH_ENV_PROBLEM
from tests.fakes.openai_fake import FakeOpenAI
from tests.fakes.slack_fake import FakeSlack
from tests.harness.processes import spawn_slack

pytestmark = pytest.mark.process  # every test here runs `python -m bots`


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeOpenAI, FakeSlack]]:
    async with FakeOpenAI() as openai, FakeSlack() as slack:
        slack.ws.add_user("U1", "ada")
        yield openai, slack


@pytest.mark.parametrize("argv", [["slack"], []], ids=["slack", "all-configured"])
async def test_process_answers_over_socket_mode_and_stops_on_sigterm(
    tmp_path: Path, fakes: tuple[FakeOpenAI, FakeSlack], argv: list[str]
) -> None:
    openai, slack = fakes
    proc = await spawn_slack(tmp_path, openai, slack, argv)
    try:
        await slack.socket.wait_connected(within=30)
        post = await slack.dm("U1", "hello from a process")
        await slack.wait_for(
            lambda: (
                [m.text for m in slack.ws.bot_messages(post.channel)]
                == ["echo: hello from a process"]
            ),
            within=10,
        )
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(15):
            _, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert "Traceback" not in err.decode()


async def test_rejected_app_token_is_one_line_and_exit_2(
    tmp_path: Path, fakes: tuple[FakeOpenAI, FakeSlack]
) -> None:
    openai, slack = fakes
    proc = await spawn_slack(tmp_path, openai, slack, ["slack"], SLACK_APP_TOKEN="xapp-1-wrong")
    async with asyncio.timeout(30):
        _, err = await proc.communicate()
    text = err.decode()
    assert proc.returncode == 2, text
    assert text.strip() == "Invalid setting SLACK_APP_TOKEN: Slack answered invalid_auth"
    assert slack.socket.connects == 0


async def test_bolt_oauth_variables_are_one_line_and_exit_2(
    tmp_path: Path, fakes: tuple[FakeOpenAI, FakeSlack]
) -> None:
    openai, slack = fakes
    proc = await spawn_slack(
        tmp_path, openai, slack, ["slack"], SLACK_CLIENT_ID="111.222", SLACK_CLIENT_SECRET="s"
    )
    async with asyncio.timeout(30):
        _, err = await proc.communicate()
    text = err.decode()
    assert proc.returncode == 2, text
    assert text.strip() == OAUTH_ENV_PROBLEM
    assert slack.requests == [] and slack.socket.connects == 0
