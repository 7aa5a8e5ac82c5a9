"""Bounded work: at most MAX_CONCURRENT_RUNS replies are generated at once (the rest wait in
order, none is lost), and a conversation holds at most MAX_QUEUED_PER_CONVERSATION messages
behind its current reply (past it the sender is told at once; nothing is dropped silently)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from core.intake import TOO_MANY_WAITING
from core.keys import ConversationKey
from tests.fakes.openai_fake import FakeOpenAI
from tests.fakes.recording_port import RecordingPort
from tests.harness.core import start_harness
from tests.waiting import wait_until


async def test_a_full_conversation_refuses_at_once_and_answers_the_rest(tmp_path: Path) -> None:
    async with FakeOpenAI() as fake:
        h = await start_harness(fake, tmp_path / "t.db", "chat", MAX_QUEUED_PER_CONVERSATION=2)
        try:
            gate = fake.model.gate = asyncio.Event()
            first = await h.send("first")
            await fake.model.wait_for_gate_waiters(1)
            queued = [await h.send(f"queued {i}") for i in range(2)]
            refused = await h.send("one too many")
            await wait_until(lambda: refused.finished)  # at once, while the reply is held
            assert refused.reply == TOO_MANY_WAITING.format(n=2)
            assert not first.finished
            gate.set()
            await h.engine.wait_idle()
            assert [p.reply for p in (first, *queued)] == [
                "echo: first",
                "echo: queued 0",
                "echo: queued 1",
            ]
            asked = [m[-1]["content"] for m in fake.model.calls]
            assert "one too many" not in asked
        finally:
            await h.engine.close()


async def test_runs_over_all_conversations_are_capped(tmp_path: Path) -> None:
    async with FakeOpenAI() as fake:
        h = await start_harness(fake, tmp_path / "t.db", "chat", MAX_CONCURRENT_RUNS=2)
        try:
            gate = fake.model.gate = asyncio.Event()
            ports = [
                await h.send(f"q{i}", key=ConversationKey("console", "w", f"c{i}"))
                for i in range(5)
            ]
            await fake.model.wait_for_gate_waiters(2)
            # every conversation has its task; the three not at the gate wait for a slot
            await wait_until(lambda: len(h.engine._queue.tasks()) == 5)
            assert h.engine._queue._slots.locked() and fake.model.gate_waiters == 2
            gate.set()
            await h.engine.wait_idle()
            assert [p.reply for p in ports] == [f"echo: q{i}" for i in range(5)]
        finally:
            await h.engine.close()


async def test_cancelling_a_wait_for_idle_leaves_the_turns_running(tmp_path: Path) -> None:
    async with FakeOpenAI() as fake:
        h = await start_harness(fake, tmp_path / "t.db", "chat")
        try:
            gate = fake.model.gate = asyncio.Event()
            port = await h.send("hold on")
            await fake.model.wait_for_gate_waiters(1)
            waiter = asyncio.create_task(h.engine.wait_idle())
            await asyncio.sleep(0)  # one loop step: the waiter is now inside its wait
            waiter.cancel()
            await asyncio.gather(waiter, return_exceptions=True)
            gate.set()
            await h.engine.wait_idle()
            assert port.reply == "echo: hold on"
        finally:
            await h.engine.close()


async def test_a_reply_whose_end_could_not_be_shown_is_not_recorded_as_answered(
    tmp_path: Path,
) -> None:
    """The platform refused the final edit (e.g. its client was closed): the message must not
    count as answered."""

    class BrokenAtTheEnd(RecordingPort):
        async def finish(self, handle: Any, text: str, changed: bool) -> None:
            raise ConnectionError("session closed")

    async with FakeOpenAI() as fake:
        h = await start_harness(fake, tmp_path / "t.db", "chat")
        try:
            await h.ask("hello", BrokenAtTheEnd())
            ok = await h.ask("again")
            assert ok.reply == "echo: again"
            statuses = [m.id for m in await h.engine.storage.inbox_with_status("interrupted")]
            done = [m.id for m in await h.engine.storage.inbox_with_status("completed")]
            assert len(statuses) == 1 and len(done) == 1 and statuses[0] < done[0]
        finally:
            await h.engine.close()


async def test_an_outcome_storage_refused_is_recorded_later_so_a_restart_answers_once(
    tmp_path: Path,
) -> None:
    async with FakeOpenAI() as fake:
        h = await start_harness(fake, tmp_path / "t.db", "chat")
        gate = fake.model.gate = asyncio.Event()
        port = await h.send("answer me once", reply_target={"conversation": "c"})
        await fake.model.wait_for_gate_waiters(1)
        db = h.engine.storage.db  # type: ignore[attr-defined]
        await db.execute("PRAGMA query_only = 1")  # storage refuses writes for a while
        gate.set()
        await h.engine.wait_idle()
        assert port.reply.startswith("echo: answer me once")  # shown although unrecorded
        await db.execute("PRAGMA query_only = 0")
        await h.restart()  # the record lands, at the latest while the engine closes
        resumed: list[str] = []

        async def reopen(msg: Any) -> RecordingPort:
            resumed.append(msg.text)
            return RecordingPort()

        try:
            await h.engine.resume_interrupted("console", reopen)
            await h.engine.wait_idle()
            assert resumed == [] and len(fake.model.calls) == 1
            # its run failed to store its result (so "failed"), but it counts as answered
            [done] = await h.engine.storage.inbox_with_status("failed")
            assert done.text == "answer me once"
        finally:
            await h.engine.close()
