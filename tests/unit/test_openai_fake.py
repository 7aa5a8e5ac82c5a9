"""Tests of the fake OpenAI server itself, driven by the real ``openai.AsyncOpenAI`` over HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
import pytest_asyncio

from tests.fakes.openai_fake import FakeOpenAI, Fault, Reply, ToolCallSpec

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as f:
        yield f


@pytest_asyncio.fixture
async def client(fake: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    c = openai.AsyncOpenAI(base_url=fake.base_url, api_key="test", max_retries=2, timeout=5.0)
    yield c
    await c.close()


async def collect_chat(
    client: openai.AsyncOpenAI, messages: list[Any]
) -> tuple[str, dict[int, dict[str, str]], str | None, Any]:
    """Stream a chat completion; return (text, tool calls by index, finish_reason, usage)."""
    stream = await client.chat.completions.create(
        model="m", messages=messages, stream=True, stream_options={"include_usage": True}
    )
    text, finish, usage = "", None, None
    calls: dict[int, dict[str, str]] = {}
    async for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            for tc in choice.delta.tool_calls or []:
                acc = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                acc["id"] += tc.id or ""
                if tc.function is not None:
                    acc["name"] += tc.function.name or ""
                    acc["arguments"] += tc.function.arguments or ""
            finish = choice.finish_reason or finish
    return text, calls, finish, usage


USER: list[Any] = [{"role": "user", "content": "hello there"}]


# --- Chat Completions ----------------------------------------------------------------------


async def test_chat_stream_echo_text_and_usage(fake: FakeOpenAI, client: openai.AsyncOpenAI):
    text, calls, finish, usage = await collect_chat(client, USER)
    assert text == "echo: hello there"
    assert calls == {}
    assert finish == "stop"
    assert usage is not None and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert fake.model.calls == [[{"role": "user", "content": "hello there"}]]
    (req,) = fake.requests_to("/chat/completions")
    assert (
        req.json is not None
        and req.json["stream"] is True
        and req.headers["authorization"] == "Bearer test"
    )


async def test_chat_stream_explicit_chunks_and_usage_override(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
):
    fake.model.add_rule("hello", Reply(chunks=["Hel", "lo", "!"], usage=(11, 3)))
    stream = await client.chat.completions.create(model="m", messages=USER, stream=True)
    pieces = [c.choices[0].delta.content async for c in stream if c.choices]
    assert [p for p in pieces if p] == ["Hel", "lo", "!"]
    _, _, _, usage = await collect_chat(client, USER)
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (11, 3)


async def test_chat_parallel_tool_calls_then_text(fake: FakeOpenAI, client: openai.AsyncOpenAI):
    fake.model.add_rule(
        "weather",
        Reply(
            tool_calls=[
                ToolCallSpec("get_weather", '{"city":"Oslo"}', id="call_a"),
                ToolCallSpec("get_time", '{"tz":"Europe/Oslo"}'),
            ],
            then=Reply(text=lambda outs: f"It is {outs[0]} at {outs[1]}"),
        ),
    )
    messages: list[Any] = [{"role": "user", "content": "weather in Oslo?"}]
    text, calls, finish, _ = await collect_chat(client, messages)
    assert text == "" and finish == "tool_calls"
    assert calls[0] == {"id": "call_a", "name": "get_weather", "arguments": '{"city":"Oslo"}'}
    assert calls[1]["name"] == "get_time" and json.loads(calls[1]["arguments"])
    assert calls[1]["id"].startswith("call_")
    messages.append(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": c["id"], "type": "function",
                 "function": {"name": c["name"], "arguments": c["arguments"]}}
                for c in calls.values()
            ],
        }
    )  # fmt: skip
    # Tool results may arrive in any order; the model gets them in call order.
    messages.append({"role": "tool", "tool_call_id": calls[1]["id"], "content": "noon"})
    messages.append({"role": "tool", "tool_call_id": "call_a", "content": "sunny"})
    text, _, finish, _ = await collect_chat(client, messages)
    assert (text, finish) == ("It is sunny at noon", "stop")
    # A third round has no `then` left: the model says "done".
    messages.append({"role": "assistant", "content": text})
    messages += [
        {"role": "assistant", "content": None, "tool_calls": messages[1]["tool_calls"]},
        {"role": "tool", "tool_call_id": "call_a", "content": "x"},
        {"role": "tool", "tool_call_id": calls[1]["id"], "content": "y"},
    ]
    text, _, _, _ = await collect_chat(client, messages)
    assert text == "done"


async def test_chat_arguments_are_split_across_deltas(fake: FakeOpenAI, client: openai.AsyncOpenAI):
    fake.model.add_rule("go", Reply(tool_calls=[ToolCallSpec("f", '{"a":1}')]))
    stream = await client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "go"}], stream=True
    )
    fragments = [
        tc
        async for chunk in stream
        for choice in chunk.choices
        for tc in choice.delta.tool_calls or []
    ]
    assert len(fragments) >= 3
    assert fragments[0].id and fragments[0].function and fragments[0].function.name == "f"
    assert fragments[0].function.arguments == ""
    assert all(f.id is None for f in fragments[1:])


async def test_chat_json_non_stream(fake: FakeOpenAI, client: openai.AsyncOpenAI):
    fake.model.add_rule("call", Reply(tool_calls=[ToolCallSpec("f", "{not json")]))
    done = await client.chat.completions.create(model="m", messages=USER)
    assert done.choices[0].message.content == "echo: hello there"
    assert done.choices[0].finish_reason == "stop"
    assert done.usage is not None and done.usage.total_tokens > 0
    res = await client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "call it"}]
    )
    (tc,) = res.choices[0].message.tool_calls or []
    assert res.choices[0].finish_reason == "tool_calls"
    assert tc.type == "function" and tc.function.arguments == "{not json"


async def test_chat_rule_times_and_callable_match(fake: FakeOpenAI, client: openai.AsyncOpenAI):
    fake.model.add_rule("hello", Reply(text="first"), times=1)
    fake.model.add_rule(lambda msgs: len(msgs) == 1, Reply(text="second"))
    fake.model.default = Reply(text="fallback")
    assert (await collect_chat(client, USER))[0] == "first"
    assert (await collect_chat(client, USER))[0] == "second"
    two = [{"role": "system", "content": "sys"}, *USER]
    assert (await collect_chat(client, two))[0] == "fallback"


async def test_chat_finish_reason_length_and_incomplete_fault(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
):
    fake.model.add_rule("cut", Reply(text="partial", finish_reason="length"))
    _, _, finish, _ = await collect_chat(client, [{"role": "user", "content": "cut"}])
    assert finish == "length"
    fake.inject(Fault.run_status("incomplete"), path="/chat/completions")
    _, _, finish, _ = await collect_chat(client, USER)
    assert finish == "length"


async def test_chat_429_then_success(fake: FakeOpenAI, client: openai.AsyncOpenAI):
    fake.inject(Fault.status(429, retry_after_ms=10), path="/chat/completions", times=2)
    text, _, _, _ = await collect_chat(client, USER)
    assert text == "echo: hello there"
    assert len(fake.requests_to("/chat/completions")) == 3


async def test_chat_500_burst_exhausts_retries(fake: FakeOpenAI, client: openai.AsyncOpenAI):
    fake.inject(Fault.status(500, retry_after_ms=5), path="/chat/completions", times=3)
    with pytest.raises(openai.InternalServerError) as info:
        await collect_chat(client, USER)
    assert info.value.status_code == 500
    assert isinstance(info.value.body, dict) and info.value.body["type"] == "server_error"
    assert len(fake.requests_to("/chat/completions")) == 3


async def test_chat_disconnect_mid_stream(fake: FakeOpenAI, client: openai.AsyncOpenAI):
    fake.model.default = Reply(text="a fairly long answer that will be cut")
    fake.inject(Fault.disconnect_after(3), path="/chat/completions")
    received = []
    with pytest.raises(openai.APIConnectionError):
        stream = await client.chat.completions.create(model="m", messages=USER, stream=True)
        async for chunk in stream:
            received.append(chunk)
    assert len(received) == 3


async def test_chat_stall_before_headers_times_out_then_retry_succeeds(fake: FakeOpenAI):
    fake.inject(Fault.stall_before_headers(30), path="/chat/completions")
    async with openai.AsyncOpenAI(
        base_url=fake.base_url, api_key="test", max_retries=0, timeout=0.2
    ) as c:
        with pytest.raises(openai.APITimeoutError):
            await c.chat.completions.create(model="m", messages=USER)
        res = await c.chat.completions.create(model="m", messages=USER)
    assert res.choices[0].message.content == "echo: hello there"


async def test_chat_stall_after_events_times_out(fake: FakeOpenAI):
    fake.inject(Fault.stall_after(2, 30), path="/chat/completions")
    async with openai.AsyncOpenAI(
        base_url=fake.base_url, api_key="test", max_retries=0, timeout=0.2
    ) as c:
        stream = await c.chat.completions.create(model="m", messages=USER, stream=True)
        got = []
        with pytest.raises(openai.APITimeoutError):
            async for chunk in stream:
                got.append(chunk)
    assert len(got) == 2


@pytest.mark.parametrize("fault", [Fault.error_event("spec"), Fault.run_status("failed")])
async def test_chat_mid_stream_error_event(
    fake: FakeOpenAI, client: openai.AsyncOpenAI, fault: Fault
):
    fake.inject(fault, path="/chat/completions")
    text = ""
    with pytest.raises(openai.APIError) as info:
        stream = await client.chat.completions.create(model="m", messages=USER, stream=True)
        async for chunk in stream:
            text += chunk.choices[0].delta.content or ""
    assert text == "echo"
    assert not isinstance(info.value, openai.APIStatusError)


async def test_chat_orphaned_tool_message_is_400(fake: FakeOpenAI, client: openai.AsyncOpenAI):
    orphan: list[Any] = [*USER, {"role": "tool", "tool_call_id": "call_x", "content": "1"}]
    with pytest.raises(openai.BadRequestError) as info:
        await client.chat.completions.create(model="m", messages=orphan)
    assert "must be a response to a preceeding message with 'tool_calls'" in info.value.message
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    missing: list[Any] = [
        *USER,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        *USER,
    ]
    with pytest.raises(openai.BadRequestError) as info:
        await client.chat.completions.create(model="m", messages=missing)
    assert "did not have response messages: call_1" in info.value.message
    assert fake.model.calls == []


async def test_chat_context_length_exceeded(fake: FakeOpenAI, client: openai.AsyncOpenAI):
    fake.context_limit_tokens = 10
    with pytest.raises(openai.BadRequestError) as info:
        await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x" * 200}]
        )
    assert info.value.code == "context_length_exceeded"


async def test_chat_gate_holds_first_delta(fake: FakeOpenAI, client: openai.AsyncOpenAI):
    fake.model.gate = asyncio.Event()
    task = asyncio.create_task(collect_chat(client, USER))
    await fake.wait_for_requests("/chat/completions", 1)
    assert not task.done()
    fake.model.gate.set()
    assert (await task)[0] == "echo: hello there"


async def test_chat_paced_stream_still_completes(fake: FakeOpenAI, client: openai.AsyncOpenAI):
    fake.model.deltas_per_second = 1000.0
    assert (await collect_chat(client, USER))[0] == "echo: hello there"


async def test_unknown_route_and_missing_key(fake: FakeOpenAI, client: openai.AsyncOpenAI):
    with pytest.raises(openai.NotFoundError):
        await client.embeddings.create(model="m", input="x")
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="wrong", max_retries=0) as other:
        fake.api_key = "right"
        with pytest.raises(openai.AuthenticationError):
            await other.chat.completions.create(model="m", messages=USER)
