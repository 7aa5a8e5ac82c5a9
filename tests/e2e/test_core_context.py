"""Context limits and user tools, end to end against the fake OpenAI (chat backend)."""

from __future__ import annotations

from pathlib import Path

from core.bootstrap import build_registry
from tests.fakes.openai_fake import FakeOpenAI, Reply, ToolCallSpec
from tests.harness.core import make_settings
from tests.harness.fixtures import MakeCoreHarness


async def test_context_length_error_shrinks_history_and_retries(
    openai_fake: FakeOpenAI, tmp_path: Path, make_core_harness: MakeCoreHarness
) -> None:
    h = await make_core_harness("chat", db=tmp_path / "c.db")
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


async def test_tools_modules_are_loaded_and_called(
    openai_fake: FakeOpenAI, tmp_path: Path, make_core_harness: MakeCoreHarness
) -> None:
    settings = make_settings(
        openai_fake, tmp_path / "t.db", "chat", TOOLS_MODULES="tests.harness.sample_tools"
    )
    registry = build_registry(settings)
    assert {s["function"]["name"] for s in registry.schemas_for("console")} >= {
        "shout",
        "current_time",
    }
    h = await make_core_harness("chat", db=tmp_path / "t.db", registry=registry)
    openai_fake.model.add_rule(
        "shout",
        Reply(
            tool_calls=[ToolCallSpec("shout", '{"text": "hi"}')],
            then=Reply(text=lambda outs: outs[0]),
        ),
    )
    assert (await h.ask("shout please")).reply == "HI (for U1)"


async def test_tool_round_limit_ends_the_turn_cleanly(
    openai_fake: FakeOpenAI, tmp_path: Path, make_core_harness: MakeCoreHarness
) -> None:
    loop_forever = Reply(tool_calls=[ToolCallSpec("current_time", "{}")])
    loop_forever.then = loop_forever
    openai_fake.model.add_rule("loop", loop_forever)
    h = await make_core_harness("chat", db=tmp_path / "l.db", MAX_TOOL_ROUNDS=2)
    port = await h.ask("loop please")
    assert "stopped after 2 rounds" in port.reply
    assert len(openai_fake.requests_to("/chat/completions")) == 3
    assert (await h.ask("next")).reply == "echo: next"  # history stays well-formed
