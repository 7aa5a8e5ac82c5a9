"""The fake's Chat Completions quirks (how llama.cpp, vLLM, LiteLLM… differ from OpenAI), each
driven by the real ``openai.AsyncOpenAI`` over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
import pytest_asyncio

from tests.fakes.openai_fake import FakeOpenAI, Reply, ToolCallSpec

USER: list[Any] = [{"role": "user", "content": "hello there"}]
TOOLS: list[Any] = [
    {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
]


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as f:
        yield f


@pytest_asyncio.fixture
async def client(fake: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    c = openai.AsyncOpenAI(base_url=fake.base_url, api_key="test", max_retries=0, timeout=5.0)
    yield c
    await c.close()


async def chunks(client: openai.AsyncOpenAI, **params: Any) -> list[dict[str, Any]]:
    stream = await client.post(
        "/chat/completions",
        body={"model": "m", "stream": True, **params},
        cast_to=object,
        stream=True,
        stream_cls=openai.AsyncStream[object],
    )
    return [c async for c in stream if isinstance(c, dict)]


async def test_empty_stream_on_overflow(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.quirks.empty_stream_on_overflow = True
    fake.quirks.context_window = 10
    big = [{"role": "user", "content": "x" * 200}]
    assert await chunks(client, messages=big) == []
    with pytest.raises(openai.BadRequestError) as info:  # not streamed: a real 400
        await client.chat.completions.create(model="m", messages=big)
    assert info.value.code == "context_length_exceeded"
    assert (await chunks(client, messages=USER))[-1]["choices"][0]["finish_reason"] == "stop"


async def test_string_content_only(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.quirks.string_content_only = True
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    tool_turn: list[Any] = [
        *USER,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "ok"},
    ]
    with pytest.raises(openai.InternalServerError):
        await client.chat.completions.create(model="m", messages=tool_turn)
    tool_turn[1]["content"] = ""
    done = await client.chat.completions.create(model="m", messages=tool_turn)
    assert done.choices[0].message.content


async def test_max_tokens_only(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.model.default = Reply(text="word " * 100)
    fake.quirks.max_tokens_only = True
    ignored = await client.chat.completions.create(
        model="m", messages=USER, max_completion_tokens=5
    )
    assert ignored.choices[0].finish_reason == "stop"
    cut = await client.chat.completions.create(model="m", messages=USER, max_tokens=5)
    assert cut.choices[0].finish_reason == "length"
    assert len(cut.choices[0].message.content or "") == 20


async def test_reasoning_models_reject_max_tokens(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        await client.chat.completions.create(model="o3-mini", messages=USER, max_tokens=5)
    assert info.value.param == "max_tokens" and "max_completion_tokens" in info.value.message
    ok = await client.chat.completions.create(
        model="o3-mini", messages=USER, max_completion_tokens=5
    )
    assert ok.choices[0].message.content


async def test_no_usage(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    with_usage = await chunks(client, messages=USER, stream_options={"include_usage": True})
    assert with_usage[-1]["usage"]["prompt_tokens"] > 0
    fake.quirks.no_usage = True
    got = await chunks(client, messages=USER, stream_options={"include_usage": True})
    assert all(not c.get("usage") for c in got)
    assert got[-1]["choices"][0]["finish_reason"] == "stop"


async def test_tools_need_choice(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.model.add_rule("hello", Reply(tool_calls=[ToolCallSpec("f", "{}")]))
    fake.quirks.tools_need_choice = True
    ignored = await client.chat.completions.create(model="m", messages=USER, tools=TOOLS)
    assert not ignored.choices[0].message.tool_calls
    called = await client.chat.completions.create(
        model="m", messages=USER, tools=TOOLS, tool_choice="auto"
    )
    assert called.choices[0].message.tool_calls


async def test_no_streamed_tool_calls(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.model.add_rule("hello", Reply(tool_calls=[ToolCallSpec("f", "{}")]))
    fake.quirks.no_streamed_tool_calls = True
    assert await chunks(client, messages=USER, tools=TOOLS, tool_choice="auto") == []
    assert fake.model.calls == []
    plain = await client.chat.completions.create(
        model="m", messages=USER, tools=TOOLS, tool_choice="auto"
    )
    assert plain.choices[0].message.tool_calls
    no_tools = await chunks(client, messages=[{"role": "user", "content": "hi"}])
    assert no_tools[-1]["choices"][0]["finish_reason"] == "stop"


async def test_context_window_is_reported(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    root = fake.base_url.removesuffix("/v1")
    with pytest.raises(openai.NotFoundError):
        await client.get(f"{root}/props", cast_to=object)
    models: Any = await client.get("/models", cast_to=object)
    assert "max_model_len" not in models["data"][0]
    fake.quirks.context_window = 2048
    props: Any = await client.get(f"{root}/props", cast_to=object)
    assert props["default_generation_settings"]["n_ctx"] == 2048
    models = await client.get("/models", cast_to=object)
    assert models["data"][0]["max_model_len"] == 2048
