"""Start-up of the Slack adapter and its HTTP-mode plumbing: settings checks (tokens, the
signing secret, Bolt's OAuth variables), /healthz, url_verification and signature checks,
and the adapter running until cancelled."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path

import aiohttp
import pytest

from bots.common.adapter import serve
from bots.errors import StartupError
from tests.fakes.openai_fake import FakeOpenAI
from tests.fakes.slack_fake import FakeSlack, HttpDelivery
from tests.harness.slack import MODES, settings_for, slack_env


async def test_missing_signing_secret_in_http_mode_is_a_startup_error(tmp_path: Path) -> None:
    async with FakeOpenAI() as openai, FakeSlack() as slack:
        config = settings_for(openai, slack, tmp_path / "x.db", "http", SLACK_SIGNING_SECRET="")
        engine = await config.engine()
        try:
            with pytest.raises(StartupError, match="SLACK_SIGNING_SECRET"):
                await config.adapter().start(engine)
        finally:
            await engine.close()


async def test_rejected_bot_token_is_a_startup_error(tmp_path: Path) -> None:
    async with FakeOpenAI() as openai, FakeSlack() as slack:
        config = settings_for(openai, slack, tmp_path / "x.db", "socket", SLACK_BOT_TOKEN="xoxb-no")
        engine = await config.engine()
        try:
            with pytest.raises(StartupError, match="invalid_auth"):
                await config.adapter().start(engine)
        finally:
            await engine.close()


async def test_missing_bot_token_is_a_startup_error(tmp_path: Path) -> None:
    async with FakeOpenAI() as openai, FakeSlack() as slack:
        config = settings_for(openai, slack, tmp_path / "x.db", "socket", SLACK_BOT_TOKEN="")
        engine = await config.engine()
        try:
            with pytest.raises(StartupError, match="SLACK_BOT_TOKEN"):
                await config.adapter().start(engine)
        finally:
            await engine.close()
        assert slack.requests == []


async def test_rejected_app_token_is_a_startup_error(tmp_path: Path) -> None:
    async with FakeOpenAI() as openai, FakeSlack() as slack:
        config = settings_for(
            openai, slack, tmp_path / "x.db", "socket", SLACK_APP_TOKEN="xapp-1-wrong"
        )
        engine = await config.engine()
        try:
            with pytest.raises(StartupError, match="SLACK_APP_TOKEN: Slack answered invalid_auth"):
                await config.adapter().start(engine)
        finally:
            await engine.close()
        assert slack.socket.connects == 0


@pytest.mark.parametrize("mode", MODES)
async def test_bolt_oauth_variables_are_a_startup_error(
    tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both set (even empty) would switch Bolt to OAuth installation mode: refused before
    any Slack call."""
    monkeypatch.setenv("SLACK_CLIENT_ID", "111.222")
    monkeypatch.setenv("SLACK_CLIENT_SECRET", "")
    async with FakeOpenAI() as openai, FakeSlack() as slack:
        config = settings_for(openai, slack, tmp_path / "x.db", mode)
        engine = await config.engine()
        try:
            with pytest.raises(
                StartupError, match=r"^Unset SLACK_CLIENT_ID and SLACK_CLIENT_SECRET"
            ):
                await config.adapter().start(engine)
        finally:
            await engine.close()
        assert slack.requests == []


async def test_one_bolt_oauth_variable_alone_is_harmless(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLACK_CLIENT_SECRET", raising=False)
    monkeypatch.setenv("SLACK_CLIENT_ID", "111.222")
    async with slack_env(tmp_path, "socket") as env:
        assert env.service.app is not None and env.service.app.oauth_flow is None
        await env.slack.dm("U1", "still single-workspace")
        await env.settle(1)
        dm = env.slack.ws.dm_with("U1").id
        assert [m.text for m in env.top_level_replies(dm)] == ["echo: still single-workspace"]


async def test_http_mode_healthz_url_verification_and_signatures(tmp_path: Path) -> None:
    async with slack_env(tmp_path, "http") as env:
        base = f"http://127.0.0.1:{env.service.port}"
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/healthz") as resp:
                assert resp.status == 200 and (await resp.json())["ok"] is True
        delivery = env.slack.delivery
        assert isinstance(delivery, HttpDelivery)
        challenge = json.dumps({"type": "url_verification", "challenge": "abc123", "token": "t"})
        answer = await delivery.post(challenge)
        assert answer.status == 200 and "abc123" in answer.body
        bad = await delivery.post(challenge, signature="v0=" + "0" * 64)
        assert bad.status == 401
        stale = await delivery.post(challenge, timestamp=int(time.time()) - 3600)
        assert stale.status == 401


async def test_junk_to_the_events_endpoint_is_refused_without_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Unauthenticated junk (a body that is not UTF-8, a timestamp that is not a number) gets
    400/401 and one short log line, not a 500 with a traceback."""
    async with slack_env(tmp_path, "http") as env:
        url = f"http://127.0.0.1:{env.service.port}/slack/events"
        now = str(int(time.time()))
        async with aiohttp.ClientSession() as session:
            sent = [
                (b"\xff\xfe{not utf-8", {"X-Slack-Request-Timestamp": now}),
                (b"{}", {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=0"}),
                (b"payload=%ff%fe", {"Content-Type": "application/x-www-form-urlencoded"}),
            ]
            statuses = []
            for body, headers in sent:
                async with session.post(url, data=body, headers=headers) as resp:
                    statuses.append(resp.status)
        assert statuses[:2] == [400, 401]
        assert statuses[2] == 400
        assert not [r for r in caplog.records if r.exc_info or r.levelname == "ERROR"]


@pytest.mark.parametrize("mode", MODES)
async def test_serve_runs_until_cancelled(tmp_path: Path, mode: str) -> None:
    async with FakeOpenAI() as openai, FakeSlack() as slack:
        config = settings_for(openai, slack, tmp_path / "s.db", mode)
        engine = await config.engine()
        task = asyncio.create_task(serve([config.adapter()], engine, grace=0.0))
        try:
            await slack.wait_for(lambda: slack.calls("auth.test"))
            if mode == "socket":
                await slack.socket.wait_connected()
            assert not task.done()
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await engine.close()
        if mode == "socket":
            await slack.wait_for(lambda: not slack.socket.connections)
