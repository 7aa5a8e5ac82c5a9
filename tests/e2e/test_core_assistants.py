"""Assistants-backend specifics against the fake server: the assistant is created or updated
idempotently at start-up (or ASSISTANT_ID is used), and no run is left in requires_action."""

from __future__ import annotations

from pathlib import Path

from core.backends.base import RunRequest
from core.backends.tool_outputs import cut_off_instructions
from tests.fakes.openai_fake import FakeOpenAI, Reply, ToolCallSpec
from tests.harness.core import start_harness


async def test_assistant_created_once_then_updated(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    h = await start_harness(openai_fake, db, "assistants", ASSISTANT_INSTRUCTIONS="v1")
    await h.engine.close()
    h = await start_harness(openai_fake, db, "assistants", ASSISTANT_INSTRUCTIONS="v1")
    await h.engine.close()
    assistants = list(openai_fake.assistants_state.assistants.values())
    assert len(assistants) == 1 and assistants[0]["instructions"] == "v1"
    assert not openai_fake.requests_to(f"/assistants/{assistants[0]['id']}", "POST")

    h = await start_harness(openai_fake, db, "assistants", ASSISTANT_INSTRUCTIONS="v2")
    try:
        assert len(openai_fake.assistants_state.assistants) == 1
        assert assistants[0]["id"] in {
            a["id"] for a in openai_fake.assistants_state.assistants.values()
        }
        assert next(iter(openai_fake.assistants_state.assistants.values()))["instructions"] == "v2"
        assert (await h.ask("hi")).reply == "echo: hi"
    finally:
        await h.engine.close()


async def test_assistant_id_is_used_as_is(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    h = await start_harness(openai_fake, tmp_path / "a.db", "assistants")
    existing = next(iter(openai_fake.assistants_state.assistants))
    await h.engine.close()
    before = len(openai_fake.requests_to("/assistants"))
    h = await start_harness(
        openai_fake, tmp_path / "b.db", "assistants", ASSISTANT_ID=existing, ASSISTANT_NAME="other"
    )
    try:
        since = openai_fake.requests_to("/assistants")[before:]
        # checked once at start-up, never listed, created or updated
        assert [(r.method, r.path) for r in since] == [("GET", f"/assistants/{existing}")]
        assert (await h.ask("hi")).reply == "echo: hi"
        run_bodies = [r.json for r in openai_fake.requests_to("/runs", "POST")]
        assert run_bodies[-1]["assistant_id"] == existing
    finally:
        await h.engine.close()


async def test_tool_round_limit_never_leaves_a_run_waiting(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    loop_forever = Reply(tool_calls=[ToolCallSpec("current_time", "{}")])
    loop_forever.then = loop_forever
    openai_fake.model.add_rule("loop", loop_forever)
    h = await start_harness(openai_fake, tmp_path / "l.db", "assistants", MAX_TOOL_ROUNDS=2)
    try:
        port = await h.ask("loop please")
        assert "stopped after 2 rounds" in port.reply
        statuses = {r["status"] for r in openai_fake.assistants_state.runs.values()}
        assert statuses <= {"cancelled", "cancelling", "completed"}, statuses
        assert (await h.ask("next")).reply == "echo: next"
    finally:
        await h.engine.close()


async def test_a_resumed_run_is_told_which_tools_a_crash_cut_off(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    """The server run a crash left is cancelled, so its tool calls never get an output: the
    resumed run says in its instructions that their outcome is unknown."""
    h = await start_harness(openai_fake, tmp_path / "a.db", "assistants")
    try:
        thread_id = await h.engine.backend.new_thread()
        request = RunRequest(
            thread_id=thread_id,
            conversation="c",
            user_text="please hold",
            user_id="U1",
            cut_off=["hold"],
        )
        events = [e async for e in h.engine.backend.run(request)]
        assert events[-1].status == "completed"  # type: ignore[union-attr]
        [create] = [
            r
            for r in openai_fake.requests_to("/runs", method="POST")
            if r.path.endswith(f"{thread_id}/runs")
        ]
        assert create.json["additional_instructions"] == cut_off_instructions(["hold"])
        assert "check before repeating" in create.json["additional_instructions"].lower()
    finally:
        await h.engine.close()
