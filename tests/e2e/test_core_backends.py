"""The core end to end, for both backends: the real AsyncOpenAI over real HTTP against the fake
server, the real engine, renderer and SQLite storage, and a recording platform port."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path

import pytest

from core.bootstrap import build_registry
from core.tools.registry import ToolContext, ToolRegistry
from tests.fakes.openai_fake import FakeOpenAI, Fault, Reply, ToolCallSpec
from tests.fakes.recording_port import RecordingPort
from tests.harness.core import Harness, make_settings, start_harness
from tests.harness.fixtures import MakeCoreHarness

REF = re.compile(r"\(ref [0-9a-f]{10}\)")


def model_path(backend: str) -> str:
    return {"chat": "/chat/completions", "responses": "/responses"}.get(backend, "/runs")


def tools_registry(harness_settings_backend: str) -> ToolRegistry:
    reg = ToolRegistry(timeout=2)

    @reg.tool
    def get_weather(city: str) -> str:
        """Weather for a city."""
        return f"sunny in {city}"

    @reg.tool
    def explode() -> str:
        """Always raises."""
        raise ValueError("kaput")

    @reg.tool
    def whoami(ctx: ToolContext) -> str:
        """Who is asking."""
        return f"user {ctx.user_id}"

    return reg


@pytest.fixture(params=["chat", "assistants", "responses"])
async def h(
    request: pytest.FixtureRequest, tmp_path: Path, make_core_harness: MakeCoreHarness
) -> Harness:
    return await make_core_harness(
        request.param, db=tmp_path / "t.db", registry=tools_registry(request.param)
    )


def backend(h: Harness) -> str:
    return h.settings.assistant_backend


async def test_streamed_text_arrives_as_several_edits(h: Harness) -> None:
    text = "The quick brown fox jumps over the lazy dog. " * 8
    h.fake.model.add_rule("fox", Reply(text=text, chunk_size=3, deltas_per_second=400))
    port = await h.ask("tell me about the fox", RecordingPort(edit_interval=0.01))
    assert port.reply == text.strip() or port.reply == text
    assert port.calls[0].op == "post"
    assert port.count("edit") >= 2
    assert port.count("finish") == 1
    assert port.thinking == 1


async def test_tool_round_trip(h: Harness) -> None:
    h.fake.model.add_rule(
        "weather",
        Reply(
            text="Let me check.",
            tool_calls=[ToolCallSpec("get_weather", '{"city": "Oslo"}')],
            then=Reply(text=lambda outs: f"Result: {outs[0]}"),
        ),
    )
    port = await h.ask("weather in Oslo?")
    assert port.reply.endswith("Result: sunny in Oslo")
    assert any(s and "get_weather" in s for s in port.statuses) or "get_weather" in "".join(
        c.text for c in port.calls
    )
    assert "Running" not in port.reply


async def test_two_parallel_tool_calls(h: Harness) -> None:
    h.fake.model.add_rule(
        "two cities",
        Reply(
            tool_calls=[
                ToolCallSpec("get_weather", '{"city": "Oslo"}'),
                ToolCallSpec("get_weather", '{"city": "Rome"}'),
            ],
            then=Reply(text=lambda outs: " | ".join(outs)),
        ),
    )
    port = await h.ask("two cities please")
    assert port.reply == "sunny in Oslo | sunny in Rome"


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (ToolCallSpec("explode", "{}"), "tool 'explode' failed: ValueError"),
        (ToolCallSpec("no_such_tool", "{}"), "unknown tool 'no_such_tool'"),
        (ToolCallSpec("get_weather", '{"city": "Os'), "not valid JSON"),
        (ToolCallSpec("get_weather", '{"town": 1}'), "invalid arguments"),
    ],
    ids=["raises", "unknown", "malformed", "schema"],
)
async def test_tool_failures_become_outputs_the_model_sees(
    h: Harness, call: ToolCallSpec, expected: str
) -> None:
    h.fake.model.add_rule("go", Reply(tool_calls=[call], then=Reply(text=lambda o: f"saw {o[0]}")))
    port = await h.ask("go")
    assert port.reply.startswith("saw ")
    assert expected in json.loads(port.reply[4:])["error"]


async def test_tool_gets_the_requesting_user(h: Harness) -> None:
    h.fake.model.add_rule(
        "who", Reply(tool_calls=[ToolCallSpec("whoami", "{}")], then=Reply(text=lambda o: o[0]))
    )
    assert (await h.ask("who am i")).reply == "user U1"


async def test_429_then_success(h: Harness) -> None:
    h.fake.inject(Fault.status(429, retry_after_ms=10), path=model_path(backend(h)), method="POST")
    port = await h.ask("hello")
    assert port.reply == "echo: hello"
    assert len(h.fake.requests_to(model_path(backend(h)), "POST")) == 2


async def test_500_burst_exhausts_retries_then_next_message_works(h: Harness) -> None:
    h.fake.inject(Fault.status(500), path=model_path(backend(h)), times=3, method="POST")
    port = await h.ask("first")
    assert port.reply.startswith("The assistant is unavailable right now.")
    assert REF.search(port.reply)
    assert (await h.ask("second")).reply == "echo: second"


async def test_server_error_texts_stay_out_of_warnings(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Some servers echo the request (the user's words) in their error text: WARNING logs
    carry the status and code only."""
    caplog.set_level(logging.INFO)
    echo = "Bad request: the input 'my card is 4111 1111' is not allowed"
    h.fake.inject(
        Fault.status(500, message=echo, code="server_oops"),
        path=model_path(backend(h)),
        times=3,
        method="POST",
    )
    port = await h.ask("my card is 4111 1111")
    assert port.reply.startswith("The assistant is unavailable right now.")
    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert "4111" not in logged and "500" in logged


async def test_disconnect_mid_stream(h: Harness) -> None:
    h.fake.model.add_rule("long", Reply(text="word " * 50, chunk_size=5))
    h.fake.inject(Fault.disconnect_after(8), path=model_path(backend(h)), method="POST")
    port = await h.ask("long one")
    assert "interrupted" in port.reply or "unavailable" in port.reply
    assert REF.search(port.reply)
    assert (await h.ask("again")).reply == "echo: again"


@pytest.mark.parametrize("status", ["failed", "expired"])
async def test_failed_and_expired_runs(h: Harness, status: str) -> None:
    h.fake.inject(Fault.run_status(status), path=model_path(backend(h)), method="POST")
    port = await h.ask("doomed")
    assert REF.search(port.reply)
    # Chat Completions has no run expiry: the fake ends such a stream with an error event
    expiring = status == "expired" and backend(h) == "assistants"
    words = ("expired",) if expiring else ("unavailable", "interrupted")
    assert any(w in port.reply for w in words), port.reply
    assert (await h.ask("next")).reply == "echo: next"


async def test_mid_stream_error_events(h: Harness) -> None:
    for shape in ("spec", "wrapped"):
        h.fake.inject(Fault.error_event(shape), path=model_path(backend(h)), method="POST")
        port = await h.ask(f"error {shape}")
        assert REF.search(port.reply), shape
    assert (await h.ask("fine")).reply == "echo: fine"


async def test_second_message_during_a_run_is_queued_and_answered_in_order(h: Harness) -> None:
    gate = asyncio.Event()
    h.fake.model.gate = gate
    first = await h.send("first")
    await h.fake.wait_for_requests(model_path(backend(h)), 1, method="POST")
    second = await h.send("second")
    gate.set()
    await h.engine.wait_idle()
    assert first.reply == "echo: first"
    assert second.reply == "echo: second"
    assert first.calls[-1].at <= second.calls[0].at
    # the second run saw the first exchange, in order
    seen = [m["content"] for m in h.fake.model.calls[-1] if m["role"] in ("user", "assistant")]
    assert seen[-3:] == ["first", "echo: first", "second"]


async def test_duplicate_delivery_is_ignored(h: Harness) -> None:
    port = await h.ask("once", event_id="Ev1")
    again = await h.ask("once", event_id="Ev1")
    assert port.reply == "echo: once"
    assert again.calls == []
    assert len(h.fake.model.calls) == 1


async def test_bad_input_gets_a_short_reply(h: Harness) -> None:
    assert "didn't get any text" in (await h.ask(" \x00 ")).reply
    huge = await h.ask("x" * 50_000)
    assert "too long" in huge.reply
    assert h.fake.model.calls == []
    odd = await h.ask("héllo \u202e👍🏽 \ud800")
    assert odd.reply.startswith("echo: héllo")


async def test_persistence_across_restart(h: Harness) -> None:
    await h.ask("remember the number 42")
    await h.restart(tools_registry(backend(h)))
    port = await h.ask("what number?")
    assert port.reply == "echo: what number?"
    contents = [m["content"] for m in h.fake.model.calls[-1]]
    assert "remember the number 42" in contents and "echo: remember the number 42" in contents


async def test_truncation_never_orphans_tool_messages(
    openai_fake: FakeOpenAI, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    for name in ("chat", "assistants"):
        h = await start_harness(
            openai_fake,
            tmp_path / f"{name}.db",
            name,
            tools_registry(name),
            CONTEXT_WINDOW_TOKENS=1100,
            MAX_OUTPUT_TOKENS=100,
        )
        openai_fake.model.add_rule(
            "tool turn",
            Reply(
                tool_calls=[ToolCallSpec("get_weather", json.dumps({"city": "x" * 300}))],
                then=Reply(text="done " * 40),
            ),
        )
        for i in range(12):
            port = await h.ask(f"tool turn {i}")
            assert port.reply.startswith("done"), (name, port.reply)
        if name == "chat":
            last = openai_fake.model.calls[-1]
            assert last[0]["role"] == "system" and last[1]["role"] == "user"
            assert len([m for m in last if m["role"] == "user"]) < 12  # truncated
        await h.engine.close()


def fenced_reply(lines: int) -> str:
    out = []
    for i in range(lines):
        if i % 100 == 0:
            out.append("```python" if (i // 100) % 2 == 0 else "```")
        else:
            out.append(f"    value_{i} = compute({i})  # line {i}")
    return "\n".join(out)


async def test_2000_line_reply_split_without_breaking_a_fence(h: Harness) -> None:
    text = fenced_reply(2000)
    h.fake.model.add_rule("big", Reply(text=text, chunk_size=2000))
    port = await h.ask("big please", RecordingPort(max_length=4000))
    assert len(port.messages) > 10
    for message in port.messages:
        fences = [ln for ln in message.splitlines() if ln.strip().startswith("```")]
        assert len(fences) % 2 == 0, message[:200]
    body = [ln for m in port.messages for ln in m.splitlines() if not ln.startswith("```")]
    original = [ln for ln in text.splitlines() if not ln.startswith("```")]
    assert [b.strip() for b in body if b.strip()] == [o.strip() for o in original if o.strip()]


async def test_settings_reach_the_model(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    s = make_settings(openai_fake, tmp_path / "x.db", "chat", ASSISTANT_TEMPERATURE=0.3)
    reg = build_registry(s)
    h = await start_harness(
        openai_fake,
        tmp_path / "x.db",
        "chat",
        reg,
        ASSISTANT_TEMPERATURE=0.3,
        ASSISTANT_INSTRUCTIONS="Be terse.",
    )
    await h.ask("hi")
    body = openai_fake.requests_to("/chat/completions")[0].json
    assert body["model"] == "fake-model" and body["temperature"] == 0.3
    assert body["messages"][0] == {"role": "system", "content": "Be terse."}
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert {t["function"]["name"] for t in body["tools"]} == {"current_time"}
    await h.engine.close()
