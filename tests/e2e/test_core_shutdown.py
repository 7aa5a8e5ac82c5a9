"""Shutdown: a grace period lets streaming replies finish; past it, users are told."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from core.messages import IncomingMessage
from tests.fakes.openai_fake import FakeOpenAI
from tests.fakes.recording_port import RecordingPort
from tests.harness.core import start_harness
from tests.waiting import wait_until


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


class SlowFinishPort(RecordingPort):
    """A platform whose last edit hangs until released (e.g. waiting out a rate limit)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def finish(self, handle: Any, text: str, changed: bool) -> None:
        self.entered.set()
        await self.release.wait()
        await super().finish(handle, text, changed)


async def test_stop_while_showing_the_last_text_never_answers_twice(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    db = tmp_path / "s.db"
    h = await start_harness(openai_fake, db, "chat")
    port = SlowFinishPort()
    await h.send("answer me once", port, reply_target={"conversation": "c"})
    await asyncio.wait_for(port.entered.wait(), 10)
    await h.engine.close()  # no grace: the turn is cancelled while its last edit hangs
    port.release.set()
    await wait_until(lambda: port.finished, 10)  # the last text still lands
    assert port.reply == "echo: answer me once"

    h = await start_harness(openai_fake, db, "chat")
    try:

        async def reopen(msg: IncomingMessage) -> RecordingPort:
            raise AssertionError(f"answered twice: {msg.text}")

        assert await h.engine.resume_interrupted("console", reopen) == 0
        await h.ask("next")
        users = [m["content"] for m in openai_fake.model.calls[-1] if m["role"] == "user"]
        assert users == ["answer me once", "next"]
    finally:
        await h.engine.close()


async def test_resumed_message_keeps_its_place_while_its_port_is_rebuilt(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    db = tmp_path / "r.db"
    h = await start_harness(openai_fake, db, "chat")
    # a message stored just before a crash, never run
    await h.engine.storage.add_inbox(h.key.as_str(), "U1", "older", {"conversation": "c"})
    await h.engine.close()

    h = await start_harness(openai_fake, db, "chat")
    try:
        rebuilt = asyncio.Event()
        resumed = RecordingPort()

        async def reopen(msg: IncomingMessage) -> RecordingPort:
            await rebuilt.wait()  # e.g. fetching the channel over the network
            return resumed

        resuming = asyncio.create_task(h.engine.resume_interrupted("console", reopen))
        await wait_until(lambda: h.engine._queue.tasks(), 5)  # its place is taken at once
        newer = await h.send("newer")  # arrives while the old port is being rebuilt
        rebuilt.set()
        assert await resuming == 1
        await h.engine.wait_idle()
        assert resumed.reply == "echo: older" and newer.reply == "echo: newer"
        users = [m["content"] for m in openai_fake.model.calls[-1] if m["role"] == "user"]
        assert users == ["older", "newer"]
    finally:
        await h.engine.close()


async def test_a_message_that_could_not_be_stored_can_be_redelivered(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    h = await start_harness(openai_fake, tmp_path / "d.db", "chat")
    db = h.engine.storage.db  # type: ignore[attr-defined]
    try:
        await db.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON inbox "
            "BEGIN SELECT RAISE(ABORT, 'disk trouble'); END"
        )
        with pytest.raises(Exception, match="disk trouble"):
            await h.send("first try", event_id="Ev9")
        await db.execute("DROP TRIGGER refuse")
        port = await h.ask("first try", event_id="Ev9")  # the platform's redelivery
        assert port.reply == "echo: first try"
    finally:
        await h.engine.close()
