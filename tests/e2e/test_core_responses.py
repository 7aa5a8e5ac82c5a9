"""The `responses` backend end to end: the real AsyncOpenAI over real HTTP against the fake's
Responses + Conversations, the real engine and SQLite. What every backend shares (streaming,
tool round trips, faults, queueing, restarts) runs in ``test_core_backends.py``; here is what
is particular to Responses: the wire shape, incomplete responses, the tool round limit, and
conversations never left with a function call that has no output (after a dropped stream, and
after a real crash of ``python -m bots console`` while a tool was running)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.backends.tool_outputs import UNKNOWN_OUTCOME_OUTPUT
from core.messages import IncomingMessage
from storage.sqlite import SqliteStorage
from tests.fakes.openai_fake import FakeOpenAI, Fault, Reply, ToolCallSpec
from tests.fakes.recording_port import RecordingPort
from tests.harness.core import Harness, start_harness
from tests.harness.fixtures import MakeCoreHarness
from tests.harness.processes import bot_env, spawn_console
from tests.waiting import wait_until


def items_of(fake: FakeOpenAI) -> list[dict[str, Any]]:
    (items,) = fake.conversations_state.items.values()
    return items


def response_bodies(fake: FakeOpenAI) -> list[dict[str, Any]]:
    return [dict(r.json or {}) for r in fake.requests_to("/responses", "POST")]


def dangling(items: list[dict[str, Any]]) -> list[str]:
    answered = {i["call_id"] for i in items if i["type"] == "function_call_output"}
    return [
        i["call_id"] for i in items if i["type"] == "function_call" and i["call_id"] not in answered
    ]


@pytest.fixture
async def h(tmp_path: Path, make_core_harness: MakeCoreHarness) -> Harness:
    return await make_core_harness(
        "responses",
        db=tmp_path / "r.db",
        ASSISTANT_TEMPERATURE=0.2,
        ASSISTANT_INSTRUCTIONS="Be terse.",
        MAX_TOOL_ROUNDS=2,
    )


async def test_wire_shape_of_a_tool_round_trip(h: Harness) -> None:
    h.fake.model.add_rule(
        "time",
        Reply(
            text="Checking.",
            tool_calls=[ToolCallSpec("current_time", "{}")],
            then=Reply(text="It is late."),
        ),
    )
    port = await h.ask("what time is it?")
    assert port.reply == "Checking.\n\nIt is late."
    (conv,) = h.fake.conversations_state.conversations.values()
    assert conv["metadata"] == {"threadbridge": "1"}
    first, second = response_bodies(h.fake)
    assert first["conversation"] == second["conversation"] == conv["id"]
    assert first["input"] == [{"role": "user", "content": "what time is it?"}]
    assert first["instructions"] == "Be terse." and first["temperature"] == 0.2
    assert first["stream"] is True and first["max_output_tokens"] == 4096
    assert "messages" not in first and "previous_response_id" not in first
    (tool,) = first["tools"]
    assert tool["type"] == "function" and tool["name"] == "current_time"
    assert tool["strict"] is False and "function" not in tool
    (output,) = second["input"]
    assert output["type"] == "function_call_output" and "error" not in output["output"]
    kinds = [(i["type"], i.get("role")) for i in items_of(h.fake)]
    assert kinds == [
        ("message", "user"),
        ("message", "assistant"),
        ("function_call", None),
        ("function_call_output", None),
        ("message", "assistant"),
    ]
    runs = await h.engine.storage.active_runs()  # type: ignore[attr-defined]
    assert runs == []


async def test_incomplete_response_says_cut_short(h: Harness) -> None:
    h.fake.inject(Fault.run_status("incomplete"), path="/responses", method="POST")
    port = await h.ask("write a lot")
    assert "cut short" in port.reply
    assert (await h.ask("next")).reply == "echo: next"


async def test_tool_round_limit_answers_the_last_calls(h: Harness) -> None:
    loop_forever = Reply(tool_calls=[ToolCallSpec("current_time", "{}")])
    loop_forever.then = loop_forever
    h.fake.model.add_rule("loop", loop_forever)
    port = await h.ask("loop please")
    assert "stopped after 2 rounds" in port.reply
    items = items_of(h.fake)
    assert dangling(items) == []
    assert "tool round limit" in items[-1]["output"]
    assert len(response_bodies(h.fake)) == 3
    assert (await h.ask("next")).reply == "echo: next"


async def test_dropped_stream_during_a_function_call_leaves_no_dangling_call(
    h: Harness,
) -> None:
    h.fake.model.add_rule(
        "time",
        Reply(tool_calls=[ToolCallSpec("current_time", "{}")], then=Reply(text="ok")),
        times=1,
    )
    h.fake.inject(Fault.disconnect_after(4), path="/responses", method="POST")
    port = await h.ask("time?")
    assert "unavailable" in port.reply or "interrupted" in port.reply
    # the server finished that response without us: its call reaches the conversation late
    await wait_until(lambda: any(i["type"] == "function_call" for i in items_of(h.fake)), 10)
    assert (await h.ask("again")).reply == "echo: again"
    assert dangling(items_of(h.fake)) == []


@pytest.mark.process
async def test_crash_while_a_tool_runs_is_recovered(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    db, marker = tmp_path / "crash.db", tmp_path / "hold.started"
    openai_fake.model.add_rule(
        "hold", Reply(tool_calls=[ToolCallSpec("hold", "{}")], then=Reply(text=lambda o: o[0]))
    )
    env = bot_env(openai_fake, db, "responses")
    env.update(TOOLS_MODULES="tests.harness.responses_tools", HOLD_TOOL_MARKER=str(marker))
    proc = await spawn_console(env, tmp_path)
    try:
        assert proc.stdin is not None
        proc.stdin.write(b"please hold\n")
        await proc.stdin.drain()
        await wait_until(marker.exists, 30)  # the tool runs: its call has no output
    finally:
        proc.kill()
        await proc.wait()
    assert len(dangling(items_of(openai_fake))) == 1
    store = SqliteStorage(str(db))
    await store.open()
    assert len(await store.active_runs()) == 1
    await store.close()

    h = await start_harness(openai_fake, db, "responses")  # recovery runs here
    try:
        assert dangling(items_of(openai_fake)) == []
        assert await h.engine.storage.active_runs() == []  # type: ignore[attr-defined]
        resumed = RecordingPort()

        async def reopen(msg: IncomingMessage) -> RecordingPort:
            return resumed

        assert await h.engine.resume_interrupted("console", reopen) == 1
        await h.engine.wait_idle()
        note, seen = resumed.reply.split("\n\n")  # the user is told first
        assert note == "_(I was restarted while running `hold`; it may already have happened.)_"
        assert seen == UNKNOWN_OUTCOME_OUTPUT  # what the model saw: not "interrupted"
        assert "unknown outcome" in json.loads(seen)["error"]
        resume_request = response_bodies(openai_fake)[-1]
        assert "input" not in resume_request  # the user message was not sent twice
        h.key = h.key.__class__("console", "local", "default")
        assert (await h.ask("after the crash")).reply == "echo: after the crash"
        users = [m["content"] for m in openai_fake.model.calls[-1] if m["role"] == "user"]
        assert users == ["please hold", "after the crash"]
    finally:
        await h.engine.close()
