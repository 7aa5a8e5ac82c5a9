"""Helpers for core end-to-end tests: an engine on real SQLite, talking to the fake OpenAI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.bootstrap import build_engine, build_registry
from core.engine import Engine
from core.keys import ConversationKey
from core.messages import IncomingMessage
from core.settings import Settings
from core.tools.registry import ToolRegistry
from tests.fakes.openai_fake import FakeOpenAI
from tests.fakes.recording_port import RecordingPort

DEFAULT_KEY = ConversationKey("console", "w", "c")


def make_settings(fake: FakeOpenAI, db: Path, backend: str, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "OPENAI_API_KEY": "test",
        "OPENAI_BASE_URL": fake.base_url,
        "OPENAI_MAX_RETRIES": 2,
        "ASSISTANT_BACKEND": backend,
        "ASSISTANT_MODEL": "fake-model",
        "DATABASE_URL": f"sqlite:///{db}",
        "TOOLS_MODULES": "",
    }
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class Harness:
    fake: FakeOpenAI
    settings: Settings
    engine: Engine
    key: ConversationKey = DEFAULT_KEY
    counter: int = 0

    async def ask(self, text: str, port: RecordingPort | None = None, **kw: Any) -> RecordingPort:
        """Send a message and wait for its reply to finish."""
        port = await self.send(text, port, **kw)
        await self.engine.wait_idle()
        return port

    async def send(self, text: str, port: RecordingPort | None = None, **kw: Any) -> RecordingPort:
        port = port or RecordingPort()
        self.counter += 1
        msg = IncomingMessage(
            kw.pop("key", self.key),
            text,
            user_id="U1",
            event_id=kw.pop("event_id", None),
            reply_target=kw.pop("reply_target", None),
        )
        await self.engine.submit(msg, port)
        return port

    async def restart(self, registry: ToolRegistry | None = None) -> None:
        await self.engine.close()
        self.engine = await build_engine(self.settings, registry)


async def start_harness(
    fake: FakeOpenAI, db: Path, backend: str, registry: ToolRegistry | None = None, **extra: Any
) -> Harness:
    settings = make_settings(fake, db, backend, **extra)
    engine = await build_engine(settings, registry or build_registry(settings))
    return Harness(fake, settings, engine)
