"""The `chat` backend against servers that are not OpenAI (llama.cpp, vLLM, Ollama, LiteLLM):
each quirk of the fake switched on, a real turn driven through the engine on SQLite."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from core.backends.base import CUT_SHORT, TOO_LONG
from core.backends.chat import ChatBackend
from core.context import LEFT_OUT_REPLY, TOO_LONG_NOTE
from core.settings import SettingsProblem
from core.turn_runner import EMPTY_ANSWER
from tests.fakes.openai_fake import FakeOpenAI, Fault, Reply, ToolCallSpec
from tests.harness.core import DEFAULT_KEY, Harness
from tests.harness.fixtures import MakeCoreHarness

HUGE = "lorem ipsum dolor " * 900  # ~16,000 characters: fits MAX_INPUT_CHARS, not the model


def bodies(fake: FakeOpenAI) -> list[dict[str, Any]]:
    return [r.json for r in fake.requests_to("/chat/completions", "POST")]


async def empty_replies(h: Harness) -> list[Any]:
    """Stored assistant messages with neither text nor tool calls."""
    ref = await h.engine.storage.get_thread(DEFAULT_KEY.as_str())
    assert ref is not None
    stored = await h.engine.storage.list_messages(ref.thread_id)
    return [m for m in stored if m.role == "assistant" and not m.content and not m.tool_calls]


def runs(db: Path) -> list[sqlite3.Row]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute("SELECT * FROM runs ORDER BY created_at").fetchall()


def tool_rule(fake: FakeOpenAI) -> None:
    fake.model.add_rule(
        "what time",
        Reply(
            tool_calls=[ToolCallSpec("current_time", "{}")],
            then=Reply(text=lambda outs: f"the tool said {len(outs[0]) > 0}"),
        ),
    )


async def assert_left_out_then_normal(h: Harness, fake: FakeOpenAI) -> None:
    """An over-long message is refused in words, leaves no empty reply, and the next one
    is answered normally with the long one replaced by a note."""
    port = await h.ask(HUGE)
    assert TOO_LONG in port.reply and EMPTY_ANSWER not in port.reply
    assert await empty_replies(h) == []
    assert (await h.ask("and now a short one")).reply == "echo: and now a short one"
    sent = bodies(fake)[-1]["messages"]
    assert all(HUGE not in str(m["content"]) for m in sent)
    assert {"role": "user", "content": TOO_LONG_NOTE} in sent
    assert {"role": "assistant", "content": LEFT_OUT_REPLY} in sent
    assert (await h.ask("one more")).reply == "echo: one more"


async def test_empty_stream_on_overflow_leaves_the_message_out(
    openai_fake: FakeOpenAI, make_core_harness: MakeCoreHarness
) -> None:
    openai_fake.quirks.empty_stream_on_overflow = True
    openai_fake.quirks.context_window = 2048
    h = await make_core_harness("chat", MAX_OUTPUT_TOKENS=256)
    assert (await h.ask("hello")).reply == "echo: hello"
    await assert_left_out_then_normal(h, openai_fake)


async def test_empty_stream_with_an_unknown_window_asks_again_without_streaming(
    openai_fake: FakeOpenAI, make_core_harness: MakeCoreHarness
) -> None:
    """The server's window is not reported: the empty stream alone can't tell, the same call
    without streaming gets a real 400, and the shrink retry still can't fit the message."""
    openai_fake.quirks.empty_stream_on_overflow = True
    openai_fake.context_limit_tokens = 2048
    h = await make_core_harness("chat")
    await assert_left_out_then_normal(h, openai_fake)
    streamed = [b.get("stream", False) for b in bodies(openai_fake)]
    assert streamed[:3] == [True, False, False] and streamed[-1] is True


async def test_context_length_400_after_the_shrink_retry_leaves_the_message_out(
    openai_fake: FakeOpenAI, make_core_harness: MakeCoreHarness
) -> None:
    h = await make_core_harness("chat")
    assert (await h.ask("hello")).reply == "echo: hello"
    openai_fake.context_limit_tokens = 2048  # OpenAI-like: a 400, never an empty stream
    await assert_left_out_then_normal(h, openai_fake)


@pytest.mark.parametrize(
    "message",
    [
        "the request exceeds the available context size, try increasing it",  # llama.cpp
        "This model's maximum context length is 2048 tokens. However, you requested 9000 "
        "tokens (8000 in the messages, 1000 in the completion).",  # vLLM
    ],
)
async def test_context_errors_of_other_servers_say_the_message_is_too_long(
    openai_fake: FakeOpenAI, make_core_harness: MakeCoreHarness, message: str
) -> None:
    """What llama.cpp and vLLM answer a prompt over their context (no OpenAI error code) is
    understood: the user is told the message is too long, not that the assistant is down."""
    h = await make_core_harness("chat")
    openai_fake.inject(Fault.status(400, message=message), "/chat/completions", 2, "POST")
    port = await h.ask("a message the server finds too long")
    assert TOO_LONG in port.reply and "unavailable" not in port.reply
    assert (await h.ask("and now a short one")).reply == "echo: and now a short one"


async def test_max_output_tokens_reach_a_server_that_knows_only_max_tokens(
    openai_fake: FakeOpenAI, make_core_harness: MakeCoreHarness
) -> None:
    openai_fake.quirks.max_tokens_only = True
    openai_fake.model.default = Reply(text="word " * 200)
    h = await make_core_harness("chat", MAX_OUTPUT_TOKENS=20)
    port = await h.ask("talk a lot")
    assert CUT_SHORT in port.reply and len(port.reply) < 200
    body = bodies(openai_fake)[-1]
    assert body["max_tokens"] == 20 and "max_completion_tokens" not in body


async def test_a_model_rejecting_max_tokens_switches_once_for_good(
    openai_fake: FakeOpenAI, make_core_harness: MakeCoreHarness
) -> None:
    h = await make_core_harness("chat", ASSISTANT_MODEL="o3-mini")
    assert (await h.ask("hi")).reply == "echo: hi"
    assert (await h.ask("again")).reply == "echo: again"
    sent = bodies(openai_fake)
    assert "max_tokens" in sent[0] and sent[1]["max_completion_tokens"] == 4096
    assert len(sent) == 3 and "max_tokens" not in sent[2]


async def test_explicit_output_tokens_param_is_sent_as_set(
    openai_fake: FakeOpenAI, make_core_harness: MakeCoreHarness
) -> None:
    h = await make_core_harness("chat", OUTPUT_TOKENS_PARAM="max_completion_tokens")
    await h.ask("hi")
    assert bodies(openai_fake)[-1]["max_completion_tokens"] == 4096


async def test_tools_are_offered_with_an_explicit_tool_choice(
    openai_fake: FakeOpenAI, make_core_harness: MakeCoreHarness
) -> None:
    openai_fake.quirks.tools_need_choice = True
    tool_rule(openai_fake)
    h = await make_core_harness("chat")
    assert (await h.ask("what time is it?")).reply == "the tool said True"
    assert all(b["tool_choice"] == "auto" for b in bodies(openai_fake))


async def test_a_server_that_cant_stream_tool_calls_gets_them_unstreamed(
    openai_fake: FakeOpenAI, make_core_harness: MakeCoreHarness
) -> None:
    openai_fake.quirks.no_streamed_tool_calls = True
    tool_rule(openai_fake)
    h = await make_core_harness("chat")
    assert (await h.ask("what time is it?")).reply == "the tool said True"
    streamed = [b.get("stream", False) for b in bodies(openai_fake)]
    assert streamed == [True, False, False]  # empty stream, same round unstreamed, remembered
    assert (await h.ask("what time now?")).reply == "the tool said True"
    assert [b.get("stream", False) for b in bodies(openai_fake)][3:] == [False, False]


async def test_an_empty_streamed_reply_with_tools_is_asked_again_unstreamed(
    openai_fake: FakeOpenAI, make_core_harness: MakeCoreHarness
) -> None:
    """llama-cpp-python (chatml-function-calling) answers a streamed round with tools and
    tool_choice "auto" with an empty message ending in "stop" (seen in ``make interop``):
    not an empty reply for the user, but the same round asked again unstreamed."""
    openai_fake.quirks.empty_reply_for_auto_tools = True
    tool_rule(openai_fake)
    h = await make_core_harness("chat")
    assert (await h.ask("what time is it?")).reply == "the tool said True"
    assert [b.get("stream", False) for b in bodies(openai_fake)] == [True, False, False]
    assert (await h.ask("plain question")).reply == "echo: plain question"


async def test_a_model_that_answers_nothing_with_tools_offered_answers_without_them(
    openai_fake: FakeOpenAI, make_core_harness: MakeCoreHarness
) -> None:
    """A small local model that answers an empty message whenever tools are offered (and it
    calls none) is asked once more with tool_choice "none": the user gets text, not "the
    assistant returned an empty reply"."""
    openai_fake.quirks.no_text_with_auto_tools = True
    h = await make_core_harness("chat")
    assert (await h.ask("hello there")).reply == "echo: hello there"
    assert [b["tool_choice"] for b in bodies(openai_fake)] == ["auto", "auto", "none"]
    assert [b.get("stream", False) for b in bodies(openai_fake)] == [True, False, True]


async def test_servers_that_stream_tool_calls_keep_streaming(
    openai_fake: FakeOpenAI, make_core_harness: MakeCoreHarness
) -> None:
    tool_rule(openai_fake)
    h = await make_core_harness("chat")
    assert (await h.ask("what time is it?")).reply == "the tool said True"
    assert [b["stream"] for b in bodies(openai_fake)] == [True, True]


async def test_tool_call_messages_carry_string_content(
    openai_fake: FakeOpenAI, make_core_harness: MakeCoreHarness
) -> None:
    openai_fake.quirks.string_content_only = True
    tool_rule(openai_fake)
    h = await make_core_harness("chat")
    assert (await h.ask("what time is it?")).reply == "the tool said True"
    assert (await h.ask("thanks")).reply == "echo: thanks"
    for body in bodies(openai_fake):
        assert all(isinstance(m["content"], str) for m in body["messages"])


async def test_no_usage_reported_means_estimated_usage(
    openai_fake: FakeOpenAI,
    make_core_harness: MakeCoreHarness,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    openai_fake.quirks.no_usage = True
    h = await make_core_harness("chat", db=tmp_path / "u.db")
    with caplog.at_level(logging.INFO, logger="core.turn_runner"):
        assert (await h.ask("count me")).reply == "echo: count me"
    run = runs(tmp_path / "u.db")[-1]
    assert run["prompt_tokens"] > 0 and run["completion_tokens"] > 0
    assert '"usage_estimated": true' in run["extra"]
    assert any("tokens=~" in r.getMessage() for r in caplog.records)
    openai_fake.quirks.no_usage = False
    await h.ask("count me again")
    run = runs(tmp_path / "u.db")[-1]
    assert "usage_estimated" not in run["extra"]


async def test_the_context_window_is_read_from_the_server(
    openai_fake: FakeOpenAI, make_core_harness: MakeCoreHarness
) -> None:
    openai_fake.quirks.context_window = 8192
    h = await make_core_harness("chat", MAX_OUTPUT_TOKENS=1024)
    backend = h.engine.backend
    assert isinstance(backend, ChatBackend) and backend.window == 8192
    set_explicitly = await make_core_harness("chat", CONTEXT_WINDOW_TOKENS=32000)
    assert isinstance(set_explicitly.engine.backend, ChatBackend)
    assert set_explicitly.engine.backend.window == 32000


async def test_a_window_without_room_for_history_is_refused_at_start(
    openai_fake: FakeOpenAI, make_core_harness: MakeCoreHarness
) -> None:
    with pytest.raises(SettingsProblem) as set_too_small:
        await make_core_harness("chat", CONTEXT_WINDOW_TOKENS=4096, MAX_OUTPUT_TOKENS=4096)
    assert "CONTEXT_WINDOW_TOKENS" in str(set_too_small.value)
    openai_fake.quirks.context_window = 2048
    with pytest.raises(SettingsProblem) as read_too_small:
        await make_core_harness("chat")  # MAX_OUTPUT_TOKENS 4096 in a 2048 window
    assert "MAX_OUTPUT_TOKENS" in str(read_too_small.value) and "/props" in str(
        read_too_small.value
    )


async def test_a_llama_cpp_like_server_end_to_end(
    openai_fake: FakeOpenAI, make_core_harness: MakeCoreHarness
) -> None:
    """Every Chat Completions quirk on at once, as llama-cpp-python behaves."""
    q = openai_fake.quirks
    q.empty_stream_on_overflow = q.string_content_only = q.max_tokens_only = True
    q.no_usage = q.tools_need_choice = q.no_streamed_tool_calls = True
    q.context_window = 2048
    tool_rule(openai_fake)
    openai_fake.model.add_rule("ramble", Reply(text="blah " * 600))
    h = await make_core_harness("chat", MAX_OUTPUT_TOKENS=512)
    first = await h.ask("remember the word teapot")
    assert first.reply == "echo: remember the word teapot" and len(first.messages) >= 1
    await h.ask("what word?")
    assert "remember the word teapot" in [m["content"] for m in openai_fake.model.calls[-1]]
    assert (await h.ask("what time is it?")).reply == "the tool said True"
    await assert_left_out_then_normal(h, openai_fake)
    rambling = await h.ask("ramble on")
    assert CUT_SHORT in rambling.reply
    assert bodies(openai_fake)[-1]["max_tokens"] == 512
