"""The `responses` backend on a server without the Conversations API (LiteLLM: ``POST
/v1/conversations`` → 404, ``conversation=`` silently ignored): found at start-up, every turn
continues the thread's last response with ``previous_response_id``, the last response id is kept
in storage (memory across restarts), tool rounds chain, and calls we stop at, or a crash leaves
unanswered, are answered first in the next request. The real SDK over HTTP against the fake's
``no_conversations_api`` quirk, the real engine and SQLite."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from core.backends.tool_outputs import ROUND_LIMIT_OUTPUT, UNKNOWN_OUTCOME_OUTPUT
from core.messages import IncomingMessage
from storage.records import ResponseChain, RunRecord
from storage.sqlite import SqliteStorage
from tests.fakes.openai_fake import FakeOpenAI, Fault, Reply, ToolCallSpec
from tests.fakes.recording_port import RecordingPort
from tests.harness.core import Harness, start_harness
from tests.harness.fixtures import MakeCoreHarness
from tests.harness.processes import bot_env, spawn_console
from tests.waiting import wait_until


def turn_bodies(fake: FakeOpenAI) -> list[dict[str, Any]]:
    """The streamed /responses requests (the start-up probes are not streamed)."""
    bodies = [dict(r.json or {}) for r in fake.requests_to("/responses", "POST")]
    return [b for b in bodies if b.get("stream")]


def users_seen(fake: FakeOpenAI) -> list[str]:
    return [m["content"] for m in fake.model.calls[-1] if m["role"] == "user"]


def last_response_id(fake: FakeOpenAI) -> str:
    return str(list(fake.conversations_state.responses)[-1])


async def chain_of(h: Harness) -> ResponseChain:
    ref = await h.engine.storage.get_thread(h.key.as_str())
    assert ref is not None and ref.thread_id.startswith("thread_")
    chain = await h.engine.storage.get_chain(ref.thread_id)
    assert chain is not None
    return chain


@pytest.fixture
async def h(openai_fake: FakeOpenAI, tmp_path: Path, make_core_harness: MakeCoreHarness) -> Harness:
    openai_fake.quirks.no_conversations_api = True
    return await make_core_harness("responses", db=tmp_path / "chain.db", MAX_TOOL_ROUNDS=2)


async def test_memory_across_turns_and_a_restart(
    openai_fake: FakeOpenAI,
    tmp_path: Path,
    make_core_harness: MakeCoreHarness,
    caplog: pytest.LogCaptureFixture,
) -> None:
    openai_fake.quirks.no_conversations_api = True
    with caplog.at_level(logging.WARNING, logger="core.backends.responses"):
        h = await make_core_harness("responses", db=tmp_path / "chain.db")
    assert "no Conversations API" in caplog.text
    probes = [r.json for r in openai_fake.requests_to("/responses", "POST")]
    assert len(probes) == 2 and probes[1]["previous_response_id"]  # chaining was proven
    assert (await h.ask("my name is Ada")).reply == "echo: my name is Ada"
    first = await chain_of(h)
    assert first.response_id == last_response_id(openai_fake) and first.pending == {}
    assert (await h.ask("what is my name?")).reply == "echo: what is my name?"
    assert users_seen(openai_fake) == ["my name is Ada", "what is my name?"]
    one, two = turn_bodies(openai_fake)
    assert "previous_response_id" not in one and "conversation" not in one
    assert two["previous_response_id"] == first.response_id and "conversation" not in two
    assert two["input"] == [{"role": "user", "content": "what is my name?"}]

    engine = await make_core_harness("responses", db=tmp_path / "chain.db")  # a new process
    await h.engine.close()
    assert (await engine.ask("and after a restart?")).reply == "echo: and after a restart?"
    assert users_seen(openai_fake) == ["my name is Ada", "what is my name?", "and after a restart?"]
    assert openai_fake.conversations_state.conversations == {}
    assert await engine.engine.storage.active_runs() == []  # type: ignore[attr-defined]


async def test_tool_round_trip_chains(h: Harness) -> None:
    h.fake.model.add_rule(
        "time",
        Reply(
            text="Checking.",
            tool_calls=[ToolCallSpec("current_time", "{}")],
            then=Reply(text="It is late."),
        ),
    )
    assert (await h.ask("what time is it?")).reply == "Checking.\n\nIt is late."
    asked, answered = turn_bodies(h.fake)
    assert asked["input"] == [{"role": "user", "content": "what time is it?"}]
    assert [t["name"] for t in asked["tools"]] == ["current_time"]
    call_response = answered["previous_response_id"]
    (output,) = answered["input"]
    assert output["type"] == "function_call_output" and "error" not in output["output"]
    assert h.fake.conversations_state.responses[call_response]["output"][-1]["type"] == (
        "function_call"
    )
    assert (await chain_of(h)).pending == {}
    assert (await h.ask("thanks")).reply == "echo: thanks"
    roles = [m["role"] for m in h.fake.model.calls[-1] if m["role"] != "system"]
    assert roles == ["user", "assistant", "assistant", "tool", "assistant", "user"]


async def test_round_limit_outputs_go_with_the_next_message(h: Harness) -> None:
    loop_forever = Reply(tool_calls=[ToolCallSpec("current_time", "{}")])
    loop_forever.then = loop_forever
    h.fake.model.add_rule("loop", loop_forever)
    port = await h.ask("loop please")
    assert "stopped after 2 rounds" in port.reply
    chain = await chain_of(h)
    assert list(chain.pending.values()) == [ROUND_LIMIT_OUTPUT]
    assert (await h.ask("next")).reply == "echo: next"
    (owed, user) = turn_bodies(h.fake)[-1]["input"]
    assert owed == {
        "type": "function_call_output",
        "call_id": next(iter(chain.pending)),
        "output": ROUND_LIMIT_OUTPUT,
    }
    assert user == {"role": "user", "content": "next"}
    assert (await chain_of(h)).pending == {}


async def test_a_dropped_response_is_left_out_of_the_chain(h: Harness) -> None:
    assert (await h.ask("first")).reply == "echo: first"
    before = await chain_of(h)
    h.fake.model.add_rule(
        "time", Reply(tool_calls=[ToolCallSpec("current_time", "{}")], then=Reply(text="ok"))
    )
    h.fake.inject(Fault.disconnect_after(4), path="/responses", method="POST")
    port = await h.ask("time?")
    assert "unavailable" in port.reply or "interrupted" in port.reply
    assert await chain_of(h) == before  # the chain goes on from the last response that ended
    assert (await h.ask("again")).reply == "echo: again"
    assert turn_bodies(h.fake)[-1]["previous_response_id"] == before.response_id
    assert users_seen(h.fake) == ["first", "again"]


async def test_failed_response_leaves_the_chain_and_every_later_turn_works(h: Harness) -> None:
    h.fake.inject(Fault.run_status("failed"), path="/responses", method="POST")
    assert "The reply was interrupted." in (await h.ask("doomed")).reply
    assert (await h.ask("fine")).reply == "echo: fine"
    assert "previous_response_id" not in turn_bodies(h.fake)[-1]  # nothing ended before
    assert (await h.ask("still fine")).reply == "echo: still fine"
    assert users_seen(h.fake) == ["fine", "still fine"]


@pytest.mark.process
async def test_crash_while_a_tool_runs_is_answered_in_the_next_request(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.quirks.no_conversations_api = True
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
        await wait_until(marker.exists, 30)  # the tool runs: its call has no output yet
    finally:
        proc.kill()
        await proc.wait()
    store = SqliteStorage(str(db))
    await store.open()
    (crashed,) = await store.active_runs()
    chain = await store.get_chain(crashed.thread_id)
    await store.close()
    assert chain is not None and chain.run_id == crashed.run_id
    assert len(chain.pending) == 1  # the held call is owed an output

    h = await start_harness(openai_fake, db, "responses")  # recovery runs here
    try:
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
        resume_request = turn_bodies(openai_fake)[-1]
        assert resume_request["previous_response_id"] == chain.response_id
        (owed,) = resume_request["input"]  # the user message was not sent twice
        assert owed["type"] == "function_call_output" and owed["call_id"] in chain.pending
        assert owed["output"] == UNKNOWN_OUTCOME_OUTPUT
        h.key = h.key.__class__("console", "local", "default")
        assert (await h.ask("after the crash")).reply == "echo: after the crash"
        assert users_seen(openai_fake) == ["please hold", "after the crash"]
    finally:
        await h.engine.close()


async def test_the_server_gaining_conversations_starts_new_threads(
    openai_fake: FakeOpenAI,
    tmp_path: Path,
    make_core_harness: MakeCoreHarness,
    caplog: pytest.LogCaptureFixture,
) -> None:
    openai_fake.quirks.no_conversations_api = True
    db = tmp_path / "switch.db"
    h = await make_core_harness("responses", db=db)
    assert (await h.ask("chained")).reply == "echo: chained"
    chain = await chain_of(h)
    # what a crash leaves: the run still active
    await h.engine.storage.create_run(
        RunRecord("run_crashed", chain.thread_id, "responses-chained", "c", "in_progress")
    )
    await h.engine.close()

    openai_fake.quirks.no_conversations_api = False  # e.g. the proxy was upgraded
    with caplog.at_level(logging.INFO):
        again = await make_core_harness("responses", db=db)
    assert "recovery of run" not in caplog.text
    assert await again.engine.storage.active_runs() == []  # type: ignore[attr-defined]
    assert (await again.ask("with conversations")).reply == "echo: with conversations"
    ref = await again.engine.storage.get_thread(again.key.as_str())
    assert ref is not None and ref.thread_id.startswith("conv_")
    assert turn_bodies(openai_fake)[-1]["conversation"] == ref.thread_id
