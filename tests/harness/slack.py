"""Harness for Slack end-to-end tests: the fake OpenAI, the fake Slack, a real engine on
SQLite and the real adapter (Bolt over signed HTTP or Socket Mode). ``slack_env`` starts all
of it with the workspace from ``populate``; ``settings_for`` and ``fast_pacing`` are the
settings and pacing it uses, for tests that wire things themselves."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bots.common.adapter import start_adapter
from bots.slack.adapter import SlackAdapter
from bots.slack.limits import Rate
from bots.slack.pacing import SlackPacing
from bots.slack.settings import SlackSettings
from core.bootstrap import build_engine
from core.engine import Engine
from core.settings import Settings
from tests.fakes.openai_fake import FakeOpenAI
from tests.fakes.slack_fake import (
    APP_TOKEN,
    BOT_ID,
    BOT_TOKEN,
    BOT_USER_ID,
    FakeSlack,
    Message,
)
from tests.harness.observer import Recorder
from tests.waiting import wait_until

SIGNING_SECRET = "fake-signing-secret"
MODES = ["http", "socket"]
MENTION = f"<@{BOT_USER_ID}>"


def fast_pacing() -> SlackPacing:
    """The real pacing logic with shorter intervals so tests stay quick, and stream and post
    budgets roomy enough that every reply of a test streams and no post waits (the budgets
    have tests of their own)."""
    roomy = Rate(6000, 50)
    return SlackPacing(
        message_edit_interval=0.2,
        stream_flush_interval=0.1,
        stream_starts=roomy,
        stream_appends=roomy,
        stream_stops=roomy,
        channel_posts=roomy,
    )


@dataclass
class SlackConfig:
    """The core's settings and the Slack adapter's, from one set of variables."""

    core: Settings
    slack: SlackSettings

    async def engine(self) -> Engine:
        """A started engine that offers the Slack tools, as ``python -m bots`` builds it."""
        return await build_engine(self.core, platform_tools={"slack": SlackAdapter.tools})

    def adapter(self, **options: Any) -> SlackAdapter:
        return SlackAdapter(self.slack, **options)


def settings_for(
    openai: FakeOpenAI, slack: FakeSlack, db: Path, mode: str, **extra: Any
) -> SlackConfig:
    values: dict[str, Any] = {
        "OPENAI_API_KEY": "test",
        "OPENAI_BASE_URL": openai.base_url,
        "OPENAI_MAX_RETRIES": 0,
        "ASSISTANT_BACKEND": "chat",
        "DATABASE_URL": f"sqlite:///{db}",
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN if mode == "socket" else "",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.base_url,
        "SLACK_SUGGESTED_PROMPTS": "Summarise this thread|Draft a reply",
        "PORT": 0,
        "TOOLS_MODULES": "",
        "DISCORD_TOKEN": "",
    }
    values.update(extra)
    return SlackConfig(
        Settings(_env_file=None, **values),  # type: ignore[call-arg]
        SlackSettings(_env_file=None, **values),  # type: ignore[call-arg]
    )


@dataclass
class SlackEnv:
    slack: FakeSlack
    openai: FakeOpenAI
    engine: Engine
    service: SlackAdapter
    mode: str
    config: SlackConfig
    pacing: SlackPacing
    handlers: Recorder
    """What the adapter reported (messages accepted, duplicates, resets…)."""
    _first_event: int = 0

    async def settle(self, accepted: int, within: float = 8.0) -> None:
        """Wait until ``accepted`` messages reached the engine and every reply is done."""
        await wait_until(lambda: self.handlers.accepted >= accepted, within)
        async with asyncio.timeout(within):
            await self.engine.wait_idle()

    async def handled(self, count: int, within: float = 5.0) -> None:
        """Wait until ``count`` event listeners have finished (answered or ignored)."""
        await wait_until(lambda: self.handlers.handled >= count, within)

    async def processed(self, within: float = 5.0) -> None:
        """Wait until every event the fake delivered to this adapter has been through its
        listener, answered or ignored. (Echoes of the bot's own messages are dropped by
        Bolt's ignoring-self-events middleware before it acks, so they are done already.)"""

        def done() -> bool:
            sent = self.slack.sent_events[self._first_event :]
            ids = {
                p["event_id"]
                for p, _, d in sent
                if d.status == 200 and p["event"].get("bot_id") != BOT_ID
            }
            return ids <= set(self.handlers.handled_events)

        await wait_until(done, within)

    def thread_replies(self, channel: str, thread_ts: str) -> list[Message]:
        return self.slack.ws.bot_messages(channel, thread_ts)

    def top_level_replies(self, channel: str) -> list[Message]:
        return [m for m in self.slack.ws.bot_messages(channel) if m.thread_ts is None]

    async def start(self) -> None:
        """Start the adapter and point the fake's event delivery at it."""
        self._first_event = len(self.slack.sent_events)
        await start_adapter(self.service, self.engine)
        if self.mode == "http":
            self.slack.use_http_events(
                f"http://127.0.0.1:{self.service.port}/slack/events", SIGNING_SECRET
            )
        else:
            await self.slack.socket.wait_connected()

    async def stop(self) -> None:
        await self.service.stop()
        await self.engine.close()

    async def restart(self) -> None:
        """A process restart: a new engine and adapter on the same database."""
        await self.stop()
        if self.mode == "socket":
            await self.slack.wait_for(lambda: not self.slack.socket.connections)
        self.engine = await self.config.engine()
        self.handlers = Recorder()  # a new process counts afresh
        self.service = self.config.adapter(
            host="127.0.0.1", pacing=self.pacing, observe=self.handlers
        )
        await self.start()


def populate(slack: FakeSlack) -> None:
    ws = slack.ws
    ws.add_user("U1", "ada", real_name="Ada Lovelace", title="Analyst", tz="Europe/London")
    ws.add_user("U2", "bob", real_name="Bob Builder")
    ws.add_channel("C1", "general", ["U1", "U2"])
    ws.add_channel("C2", "random", ["U1"])
    ws.add_channel("C3", "secret", ["U2"], private=True)
    ws.add_channel("C4", "crowded", ["U2", "U3", "U4", "U5", "U1"])  # U1 on a later page


@contextlib.asynccontextmanager
async def slack_env(
    tmp_path: Path,
    mode: str,
    *,
    pacing: SlackPacing | None = None,
    **settings: Any,
) -> AsyncIterator[SlackEnv]:
    async with FakeOpenAI() as openai, FakeSlack() as slack:
        populate(slack)
        config = settings_for(openai, slack, tmp_path / "slack.db", mode, **settings)
        pacing = pacing or fast_pacing()
        engine = await config.engine()
        recorder = Recorder()
        service = config.adapter(host="127.0.0.1", pacing=pacing, observe=recorder)
        env = SlackEnv(slack, openai, engine, service, mode, config, pacing, recorder)
        try:
            await env.start()
            yield env
        finally:
            await env.stop()
