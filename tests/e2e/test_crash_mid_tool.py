"""Crashes cut a turn. A real crash (SIGKILL of ``python -m bots console``) while a side-effecting tool runs, on
every backend that keeps tool calls in the history: after the restart the model is told the
call's outcome is unknown (not "interrupted", which invites a second post), the tool is not
run again by us, and the resumed reply tells the user the earlier attempt may have happened.
And an answer the crashed run had already stored does not stay next to the resumed one."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.backends.tool_outputs import UNKNOWN_OUTCOME_OUTPUT
from core.bootstrap import build_registry
from core.keys import ConversationKey
from core.messages import IncomingMessage
from storage.records import RunRecord, StoredMessage, ThreadRef
from storage.sqlite import SqliteStorage
from tests.fakes.openai_fake import FakeOpenAI, Reply, ToolCallSpec
from tests.fakes.recording_port import RecordingPort
from tests.harness.core import make_settings, start_harness
from tests.harness.processes import bot_env, spawn_console
from tests.waiting import wait_until

RESTART_NOTE = "_(I was restarted while running `hold`; it may already have happened.)_"


@pytest.mark.process
@pytest.mark.parametrize("backend", ["chat", "responses", "responses-chained"])
async def test_a_kill_mid_tool_gives_an_unknown_outcome_and_tells_the_user(
    openai_fake: FakeOpenAI, tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    kind = backend.split("-")[0]
    openai_fake.quirks.no_conversations_api = backend == "responses-chained"
    db, marker = tmp_path / "crash.db", tmp_path / "hold.started"
    openai_fake.model.add_rule(
        "hold", Reply(tool_calls=[ToolCallSpec("hold", "{}")], then=Reply(text=lambda o: o[0]))
    )
    env = bot_env(openai_fake, db, kind)
    env.update(TOOLS_MODULES="tests.harness.responses_tools", HOLD_TOOL_MARKER=str(marker))
    proc = await spawn_console(env, tmp_path)
    try:
        assert proc.stdin is not None
        proc.stdin.write(b"please hold\n")
        await proc.stdin.drain()
        await wait_until(marker.exists, 30)  # the side effect happened; the call never returns
    finally:
        proc.kill()
        await proc.wait()
    marker.unlink()
    store = SqliteStorage(str(db))
    await store.open()
    (crashed,) = await store.active_runs()
    (call,) = await store.tool_calls(crashed.run_id)
    assert (call.name, call.finished) == ("hold", False)  # recorded as started, not finished
    await store.close()

    # the restarted bot has the tool too: if we ran it again, the marker would come back
    monkeypatch.setenv("HOLD_TOOL_MARKER", str(marker))
    tools = make_settings(openai_fake, db, kind, TOOLS_MODULES="tests.harness.responses_tools")
    h = await start_harness(openai_fake, db, kind, registry=build_registry(tools))
    try:
        resumed = RecordingPort()

        async def reopen(msg: IncomingMessage) -> RecordingPort:
            return resumed

        assert await h.engine.resume_interrupted("console", reopen) == 1
        await h.engine.wait_idle()
        # the user is told; the model's reply (it echoes the output it got) follows
        assert resumed.reply == f"{RESTART_NOTE}\n\n{UNKNOWN_OUTCOME_OUTPUT}"
        assert "check before repeating it" in resumed.reply
        assert not marker.exists(), "the tool ran again"
        seen = openai_fake.model.calls[-1]
        outputs = [m["content"] for m in seen if m["role"] == "tool"]
        assert outputs == [UNKNOWN_OUTCOME_OUTPUT]
        assert [m["content"] for m in seen if m["role"] == "user"] == ["please hold"]

        h.key = h.key.__class__("console", "local", "default")
        assert (await h.ask("after the crash")).reply == "echo: after the crash"
        later = openai_fake.model.calls[-1]
        assert [m["content"] for m in later if m["role"] == "tool"] == [UNKNOWN_OUTCOME_OUTPUT]
        answers = [m["content"] for m in later if m["role"] == "assistant" and m["content"]]
        assert answers == [UNKNOWN_OUTCOME_OUTPUT]  # the resumed answer, once
    finally:
        await h.engine.close()


async def test_a_resumed_chat_turn_replaces_the_answer_the_crash_left(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    """The crash came after the run stored its answer (the user may have seen part of it) but
    before the turn was closed: the message is answered again, and the thread keeps one answer."""
    db = tmp_path / "cut.db"
    conv = ConversationKey("console", "local", "default").as_str()
    store = SqliteStorage(str(db))
    await store.open()
    await store.create_thread("thread_1")
    await store.set_thread(conv, ThreadRef("thread_1", "chat"))
    inbox_id = await store.add_inbox(conv, "U1", "question", {"conversation": "default"})
    await store.add_messages(
        "thread_1",
        [
            StoredMessage("user", "question", "run_cut"),
            StoredMessage("assistant", "the first half of an ans", "run_cut"),
        ],
    )
    await store.create_run(
        RunRecord("run_cut", "thread_1", "chat", conv, "in_progress", inbox_id=inbox_id)
    )
    await store.close()

    h = await start_harness(openai_fake, db, "chat")  # recovery runs here
    try:
        resumed = RecordingPort()

        async def reopen(msg: IncomingMessage) -> RecordingPort:
            return resumed

        assert await h.engine.resume_interrupted("console", reopen) == 1
        await h.engine.wait_idle()
        assert resumed.reply == "echo: question"  # no restart note: no tool was running
        sent = [(m["role"], m["content"]) for m in openai_fake.model.calls[-1][1:]]
        assert sent == [("user", "question")]
        storage = h.engine.storage
        history = [(m.role, m.content) for m in await storage.list_messages("thread_1")]
        assert history == [("user", "question"), ("assistant", "echo: question")]
    finally:
        await h.engine.close()
