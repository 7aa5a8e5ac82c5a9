"""Context limits and user tools, end to end against the fake OpenAI (chat backend)."""

from __future__ import annotations

from pathlib import Path

from core.bootstrap import build_registry
from tests.e2e.core_harness import make_settings, start_harness
from tests.fakes.openai_fake import FakeOpenAI, Reply, ToolCallSpec


async def test_context_length_error_shrinks_history_and_retries(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    h = await start_harness(openai_fake, tmp_path / "c.db", "chat")
    try:
        for i in range(6):
            await h.ask(f"message {i}: " + "lorem ipsum " * 100)
        # the server's real limit is far below what our (generous) settings assume
        openai_fake.context_limit_tokens = 900
        port = await h.ask("short question")
        assert port.reply == "echo: short question"
        bodies = [r.json for r in openai_fake.requests_to("/chat/completions", "POST")]
        assert len(bodies[-1]["messages"]) < len(bodies[-2]["messages"])  # shrunk, then retried
        assert bodies[-1]["messages"][-1] == {"role": "user", "content": "short question"}
        # the learned budget holds: the next message needs one request, not a failed one first
        before = len(bodies)
        assert (await h.ask("and another")).reply == "echo: and another"
        assert len(openai_fake.requests_to("/chat/completions", "POST")) == before + 1
    finally:
        await h.engine.close()


async def test_tools_modules_are_loaded_and_called(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    settings = make_settings(
        openai_fake, tmp_path / "t.db", "chat", TOOLS_MODULES="tests.e2e.sample_tools"
    )
    registry = build_registry(settings)
    assert {s["function"]["name"] for s in registry.schemas_for("console")} >= {
        "shout",
        "current_time",
    }
    h = await start_harness(openai_fake, tmp_path / "t.db", "chat", registry)
    try:
        openai_fake.model.add_rule(
            "shout",
            Reply(
                tool_calls=[ToolCallSpec("shout", '{"text": "hi"}')],
                then=Reply(text=lambda outs: outs[0]),
            ),
        )
        assert (await h.ask("shout please")).reply == "HI (for U1)"
    finally:
        await h.engine.close()


async def test_tool_round_limit_ends_the_turn_cleanly(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    loop_forever = Reply(tool_calls=[ToolCallSpec("current_time", "{}")])
    loop_forever.then = loop_forever
    openai_fake.model.add_rule("loop", loop_forever)
    h = await start_harness(openai_fake, tmp_path / "l.db", "chat", MAX_TOOL_ROUNDS=2)
    try:
        port = await h.ask("loop please")
        assert "stopped after 2 rounds" in port.reply
        assert len(openai_fake.requests_to("/chat/completions")) == 3
        assert (await h.ask("next")).reply == "echo: next"  # history stays well-formed
    finally:
        await h.engine.close()
