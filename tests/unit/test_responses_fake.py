"""Tests of the fake's Responses and Conversations endpoints, driven by the real
``openai.AsyncOpenAI`` (typed ``responses.create``/``stream`` and ``conversations.*``) over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
import pytest_asyncio

from tests.fakes.openai_fake import FakeOpenAI, Fault, Reply, ToolCallSpec

CHAT_STYLE_TOOL: Any = {"type": "function", "function": {"name": "f"}}
TOOL: Any = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}


@pytest_asyncio.fixture
async def client(openai_fake: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    c = openai.AsyncOpenAI(base_url=openai_fake.base_url, api_key="test", timeout=5.0)
    c = c.with_options(max_retries=2)
    yield c
    await c.close()


def first_text(item: Any) -> str:
    return str(item.content[0].text)


async def stream_events(client: openai.AsyncOpenAI, **params: Any) -> list[Any]:
    stream = await client.responses.create(model="m", stream=True, **params)
    return [event async for event in stream]


async def test_conversation_items_create_list_and_paginate(client: openai.AsyncOpenAI) -> None:
    conv = await client.conversations.create(
        metadata={"threadbridge": "1"}, items=[{"role": "user", "content": "one"}]
    )
    assert conv.id.startswith("conv_") and conv.metadata == {"threadbridge": "1"}
    added = await client.conversations.items.create(
        conv.id, items=[{"role": "user", "content": f"m{i}"} for i in range(4)]
    )
    assert [i.type for i in added.data] == ["message"] * 4
    page = await client.conversations.items.list(conv.id, limit=2)
    texts = [first_text(i) for i in page.data]
    assert texts == ["m3", "m2"] and page.has_more  # newest first by default
    every = [first_text(i) async for i in client.conversations.items.list(conv.id, limit=2)]
    assert every == ["m3", "m2", "m1", "m0", "one"]
    asc = await client.conversations.items.list(conv.id, order="asc", limit=1)
    assert first_text(asc.data[0]) == "one"
    with pytest.raises(openai.BadRequestError, match="maximum length 20"):
        await client.conversations.items.create(
            conv.id, items=[{"role": "user", "content": "x"}] * 21
        )
    assert (await client.conversations.retrieve(conv.id)).id == conv.id


async def test_streamed_text_in_a_conversation_keeps_history(
    openai_fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    conv = await client.conversations.create()
    events = await stream_events(client, conversation=conv.id, input="hello", instructions="Hi")
    kinds = [e.type for e in events]
    assert kinds[:5] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "echo: hello" and kinds.count("response.output_text.delta") > 1
    final = events[-1].response
    assert final.output_text == "echo: hello" and final.usage.output_tokens > 0
    await stream_events(client, conversation=conv.id, input=[{"role": "user", "content": "two"}])
    assert openai_fake.model.calls[0][0] == {"role": "system", "content": "Hi"}
    assert openai_fake.model.calls[-1] == [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "echo: hello"},
        {"role": "user", "content": "two"},
    ]
    items = [i async for i in client.conversations.items.list(conv.id, order="asc")]
    assert [(i.type, i.role) for i in items] == [("message", r) for r in ["user", "assistant"] * 2]  # type: ignore[union-attr]


async def test_function_calls_split_arguments_and_pairing_rules(
    openai_fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    openai_fake.model.add_rule(
        "weather",
        Reply(
            tool_calls=[
                ToolCallSpec("get_weather", '{"city": "Oslo"}'),
                ToolCallSpec("get_weather", '{"city": "Rome"}'),
            ],
            then=Reply(text=lambda outs: " | ".join(outs)),
        ),
    )
    conv = await client.conversations.create()
    events = await stream_events(client, conversation=conv.id, input="weather?", tools=[TOOL])
    deltas = [e for e in events if e.type == "response.function_call_arguments.delta"]
    assert len(deltas) >= 4
    calls = [e.item for e in events if e.type == "response.output_item.done"]
    assert [c.arguments for c in calls] == ['{"city": "Oslo"}', '{"city": "Rome"}']
    # a new user message while calls are unanswered is refused, as on the real service
    with pytest.raises(openai.BadRequestError, match="No tool output found for function call"):
        await client.responses.create(model="m", conversation=conv.id, input="hi")
    with pytest.raises(openai.BadRequestError, match="No tool call found"):
        await client.responses.create(
            model="m",
            conversation=conv.id,
            input=[{"type": "function_call_output", "call_id": "call_nope", "output": "x"}],
        )
    outputs = [
        {"type": "function_call_output", "call_id": c.call_id, "output": f"sunny {i}"}
        for i, c in enumerate(calls)
    ]
    events = await stream_events(client, conversation=conv.id, input=outputs)
    assert events[-1].response.output_text == "sunny 0 | sunny 1"
    with pytest.raises(openai.BadRequestError, match=r"tools\[0\]\.name"):
        await client.responses.create(model="m", input="x", tools=[CHAT_STYLE_TOOL])


async def test_stream_helper_and_json_create(client: openai.AsyncOpenAI) -> None:
    async with client.responses.stream(model="m", input="helper") as stream:
        async for _ in stream:
            pass
        final = await stream.get_final_response()
    assert final.output_text == "echo: helper"
    plain = await client.responses.create(model="m", input="plain")
    assert plain.status == "completed" and plain.output_text == "echo: plain"
    follow = await client.responses.create(model="m", input="more", previous_response_id=plain.id)
    assert follow.output_text == "echo: more"
    with pytest.raises(openai.BadRequestError, match="Mutually exclusive"):
        await client.responses.create(
            model="m", input="x", previous_response_id=plain.id, conversation="conv_x"
        )


async def test_faults(openai_fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    openai_fake.inject(Fault.status(429, retry_after_ms=5), path="/responses")
    events = await stream_events(client, input="after 429")
    assert events[-1].type == "response.completed"
    openai_fake.inject(Fault.run_status("failed"), path="/responses")
    events = await stream_events(client, input="a longer message to fail")
    assert events[-1].type == "response.failed" and events[-1].response.error is not None
    openai_fake.inject(Fault.run_status("incomplete"), path="/responses")
    events = await stream_events(client, input="cut")
    assert events[-1].type == "response.incomplete"
    assert events[-1].response.incomplete_details.reason == "max_output_tokens"
    openai_fake.inject(Fault.error_event("spec"), path="/responses")
    events = await stream_events(client, input="spec error")
    assert events[-1].type == "error"  # yielded by the SDK, not raised
    openai_fake.inject(Fault.error_event("wrapped"), path="/responses")
    with pytest.raises(openai.APIError):
        await stream_events(client, input="wrapped error")
    openai_fake.inject(Fault.disconnect_after(4), path="/responses")
    with pytest.raises(openai.APIConnectionError):
        await stream_events(client, input="a message long enough to be cut off")
