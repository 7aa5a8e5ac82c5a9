"""The adapter contract: what every platform (console, Slack, Discord) implements, so that
``python -m bots`` runs any of them without asking which one it is.

Every adapter folder ``bots/<platform>/`` has the same files for the same jobs:

| file          | job                                                                   |
|---------------|-----------------------------------------------------------------------|
| `adapter.py`  | this contract: settings → adapter, start/stop, crash resume, tools    |
| `settings.py` | the platform's settings (pydantic-settings, listed in `.env.example`) |
| `intake.py`   | inbound: a platform event → ``IncomingMessage`` → ``engine.submit``    |
| `port.py`     | outbound: the reply port the core streams a reply through             |
| `keys.py`     | conversation keys, and the typed target a crash resume answers at     |
| `tools.py`    | the platform's own tools for the model                                |

The route of one message: platform event → ``intake.py`` → ``Engine.submit``
(``core/intake.py``: dedupe, inbox) → ordered turns (``core/turns.py``) → the run
(``core/turn_runner.py``) → the reply through ``port.py``.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from core.engine import Engine
from core.logs import add_secret_pattern
from core.messages import IncomingMessage
from core.port import ReplyPort

log = logging.getLogger(__name__)

ADAPTER_MODULES: Mapping[str, str] = {
    "console": "bots.console.adapter",
    "slack": "bots.slack.adapter",
    "discord": "bots.discord.adapter",
}
"""Every platform, by name, and the module that builds its adapter (imported only when
needed, so a platform's SDK loads only when it runs)."""


class Adapter(Protocol):
    platform: str
    """The platform's name: the first part of its conversation keys."""

    tools: Sequence[Callable[..., Any]]
    """The platform's own tools, offered to the model in its conversations only."""

    secret_patterns: Sequence[tuple[str, str]]
    """``(regex, replacement)`` for the platform's secrets, masked in every log line."""

    async def start(self, engine: Engine) -> None:
        """Connect and begin taking messages; returns once connected."""

    async def reopen(self, msg: IncomingMessage) -> ReplyPort | None:
        """A reply port for a message a crash left unanswered, rebuilt from its stored
        ``reply_target`` (may set ``msg.handle`` and ``msg.message_ref`` for tools), or None
        when there is no longer anywhere to answer it."""

    async def wait_closed(self) -> None:
        """Return when the adapter ends by itself (the console at end of input); platforms
        serve until cancelled."""

    async def stop_taking(self) -> None:
        """Stop taking new messages (the platform redelivers or keeps them where it can),
        keeping the clients open: replies in flight still finish through them."""

    async def stop(self) -> None:
        """Close the platform's clients (after the engine let the replies in flight end)."""


class AdapterModule(Protocol):
    """What each ``bots/<platform>/adapter.py`` module provides."""

    def configured(self) -> bool:
        """The platform's credentials are set: ``python -m bots`` runs it."""

    def create(self, options: Mapping[str, Any]) -> Adapter:
        """The adapter from its settings (a bad setting raises SettingsProblem or exits 2
        with one line); ``options`` are the command line's."""


def adapter_module(platform: str) -> AdapterModule:
    module: Any = importlib.import_module(ADAPTER_MODULES[platform])
    return module  # type: ignore[no-any-return]


def configured_platforms() -> list[str]:
    """The platforms whose credentials are set (the console never is)."""
    return [p for p in ADAPTER_MODULES if adapter_module(p).configured()]


def register_secrets(adapter: Adapter) -> None:
    for pattern, replacement in adapter.secret_patterns:
        add_secret_pattern(pattern, replacement)


async def start_adapter(adapter: Adapter, engine: Engine) -> int:
    """Start ``adapter``, then have the messages a crash left unanswered on its platform
    answered (nothing runs between the two, so those go before any new message). Returns how
    many were resumed."""
    await adapter.start(engine)
    return await engine.resume_interrupted(adapter.platform, adapter.reopen)


async def run_adapter(adapter: Adapter, engine: Engine) -> None:
    """Start and serve until the adapter ends or is cancelled; then it takes no new message
    (its clients stay open until :func:`stop_adapters`)."""
    try:
        await start_adapter(adapter, engine)
        await adapter.wait_closed()
    finally:
        await adapter.stop_taking()


async def serve(adapters: Sequence[Adapter], engine: Engine, grace: float) -> None:
    """Run every adapter until cancelled, then shut down in the order that loses no reply:
    every adapter stops taking messages; the engine lets replies in flight finish (within
    ``grace``; later ones are told they were interrupted, through still-open clients); only
    then are the platform clients closed."""
    try:
        async with asyncio.TaskGroup() as group:
            for adapter in adapters:
                group.create_task(run_adapter(adapter, engine), name=adapter.platform)
    finally:
        try:
            await engine.close(grace=grace)
        finally:
            await stop_adapters(adapters)


async def stop_adapters(adapters: Sequence[Adapter]) -> None:
    for adapter in adapters:
        try:
            await adapter.stop()
        except Exception:
            log.exception("stopping the %s adapter failed", adapter.platform)
