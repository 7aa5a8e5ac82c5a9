"""Shutdown: a grace period lets streaming replies finish; past it, users are told."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.e2e.core_harness import start_harness
from tests.fakes.openai_fake import FakeOpenAI


async def test_grace_period_lets_a_reply_finish(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    gate = asyncio.Event()
    openai_fake.model.gate = gate
    h = await start_harness(openai_fake, tmp_path / "s.db", "chat")
    port = await h.send("still answering?")
    await openai_fake.model.wait_for_gate_waiters(1)
    closing = asyncio.create_task(h.engine.close(grace=30))
    gate.set()
    await asyncio.wait_for(closing, 30)
    assert port.reply == "echo: still answering?"


async def test_shutdown_without_grace_tells_the_user(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.model.gate = asyncio.Event()  # never opened
    h = await start_harness(openai_fake, tmp_path / "s.db", "chat")
    port = await h.send("hello?")
    await openai_fake.model.wait_for_gate_waiters(1)
    await h.engine.close()
    assert port.reply.startswith("The reply was interrupted by a shutdown.")
    assert "(ref " in port.reply
