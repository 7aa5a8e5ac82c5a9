"""Context limits and user tools, end to end against the fake OpenAI (chat backend)."""

from __future__ import annotations

import json
from pathlib import Path

from core.backends.base import CONTEXT_FULL
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


async def test_a_repeated_call_gets_a_last_round_without_tools(
    openai_fake: FakeOpenAI, tmp_path: Path, make_core_harness: MakeCoreHarness
) -> None:
    """A model that calls the same tool with the same arguments again (small local models
    do, e.g. when their template drops tool results) is not run again: it is asked once
    more with ``tool_choice: "none"`` and answers in text."""
    loop_forever = Reply(tool_calls=[ToolCallSpec("current_time", "{}")])
    loop_forever.then = loop_forever
    openai_fake.model.add_rule("loop", loop_forever)
    h = await make_core_harness("chat", db=tmp_path / "l.db", MAX_TOOL_ROUNDS=8)
    port = await h.ask("loop please")
    assert port.reply.endswith("I have no tools to call.")
    sent = [r.json for r in openai_fake.requests_to("/chat/completions")]
    assert [b["tool_choice"] for b in sent] == ["auto", "auto", "none"]
    assert "already made" in str(sent[-1]["messages"][-1]["content"])
    assert (await h.ask("next")).reply == "echo: next"  # history stays well-formed


async def test_the_same_tool_round_after_round_gets_a_last_round_without_tools(
    openai_fake: FakeOpenAI, tmp_path: Path, make_core_harness: MakeCoreHarness
) -> None:
    """Varying the arguments a little each round doesn't hide a loop: the same tools called
    three rounds in a row get one last round without tools."""
    reply: Reply | None = None
    for n in reversed(range(6)):
        args = f'{{"timezone": "UTC{"&#34" * n}"}}'
        reply = Reply(tool_calls=[ToolCallSpec("current_time", args)], then=reply)
    assert reply is not None
    openai_fake.model.add_rule("garbled", reply)
    h = await make_core_harness("chat", db=tmp_path / "g.db", MAX_TOOL_ROUNDS=8)
    port = await h.ask("garbled please")
    sent = [r.json for r in openai_fake.requests_to("/chat/completions")]
    assert [b["tool_choice"] for b in sent] == ["auto", "auto", "auto", "none"]
    assert port.reply.endswith("I have no tools to call.")


async def test_tool_round_limit_ends_with_a_last_round_in_text(
    openai_fake: FakeOpenAI, tmp_path: Path, make_core_harness: MakeCoreHarness
) -> None:
    zones = ["UTC", "Europe/Oslo", "Asia/Tokyo", "America/Lima"]
    reply: Reply | None = None
    for zone in reversed(zones):
        reply = Reply(
            tool_calls=[ToolCallSpec("current_time", f'{{"timezone": "{zone}"}}')], then=reply
        )
    assert reply is not None
    openai_fake.model.add_rule("zones", reply)
    h = await make_core_harness("chat", db=tmp_path / "l.db", MAX_TOOL_ROUNDS=2)
    port = await h.ask("zones please")
    sent = [r.json for r in openai_fake.requests_to("/chat/completions")]
    assert [b["tool_choice"] for b in sent] == ["auto", "auto", "auto", "none"]
    assert "round limit" in str(sent[-1]["messages"][-1]["content"])
    assert port.reply.endswith("I have no tools to call.")
    assert (await h.ask("next")).reply == "echo: next"


SMALL_WINDOW = {
    "TOOLS_MODULES": "tests.harness.sample_tools",
    "CONTEXT_WINDOW_TOKENS": 6000,
    "MAX_OUTPUT_TOKENS": 500,
    "TOOL_MAX_OUTPUT_CHARS": 100_000,
}


async def test_tool_outputs_too_big_for_the_window_are_cut_to_fit(
    openai_fake: FakeOpenAI, tmp_path: Path, make_core_harness: MakeCoreHarness
) -> None:
    """The newest turn alone is over the window (a 40,000-character tool output): its biggest
    output is cut, with a marker, so the request fits and the model answers."""
    openai_fake.context_limit_tokens = 6000
    h = await make_core_harness("chat", db=tmp_path / "cut.db", **SMALL_WINDOW)
    calls = [ToolCallSpec("ream", '{"pages": 40}'), ToolCallSpec("ream", '{"pages": 2}')]

    def summary(outs: list[str]) -> str:
        cut = ["characters cut to fit the model's context]" in o for o in outs]
        return f"sizes {[len(o) for o in outs]} cut {cut}"

    openai_fake.model.add_rule("read", Reply(tool_calls=calls, then=Reply(text=summary)))
    port = await h.ask("read the reports")
    assert port.reply.endswith("cut [True, False]"), port.reply
    sizes = json.loads(port.reply.split("sizes ")[1].split(" cut")[0])
    assert 5000 < sizes[0] < 40_000 and sizes[1] == 2000
    assert len(openai_fake.requests_to("/chat/completions", "POST")) == 2  # no 400 on the way
    assert (await h.ask("and now?")).reply == "echo: and now?"


async def test_a_round_that_cannot_fit_says_so(
    openai_fake: FakeOpenAI, tmp_path: Path, make_core_harness: MakeCoreHarness
) -> None:
    """Tool call arguments are never cut: a round they make too big ends with words saying
    what happened (not "unavailable"), and the conversation goes on."""
    openai_fake.context_limit_tokens = 6000
    h = await make_core_harness("chat", db=tmp_path / "full.db", **SMALL_WINDOW)
    huge = json.dumps({"text": "x" * 40_000})
    openai_fake.model.add_rule(
        "shout", Reply(tool_calls=[ToolCallSpec("shout", huge)], then=Reply(text="done"))
    )
    port = await h.ask("shout this")
    assert CONTEXT_FULL in port.reply and "unavailable" not in port.reply
    assert (await h.ask("next")).reply == "echo: next"
