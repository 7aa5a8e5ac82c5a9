"""The fake's quirks for servers without the Conversations or the Assistants API (LiteLLM,
vLLM, llama.cpp, Ollama), driven by the real ``openai.AsyncOpenAI`` over HTTP: those routes
answer a bare 404, ``conversation=`` on a response is silently ignored, and chaining with
``previous_response_id`` keeps the history the way OpenAI does (function calls included)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
import pytest_asyncio

from tests.fakes.openai_fake import FakeOpenAI, Reply, ToolCallSpec

TOOL: Any = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}


@pytest_asyncio.fixture
async def client(openai_fake: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    c = openai.AsyncOpenAI(base_url=openai_fake.base_url, api_key="test", timeout=5.0)
    yield c
    await c.close()


def user_texts(fake: FakeOpenAI) -> list[str]:
    """The user messages the model saw in its last call."""
    return [m["content"] for m in fake.model.calls[-1] if m["role"] == "user"]


async def test_no_conversations_api_answers_404_and_ignores_conversation(
    openai_fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    conv = await client.conversations.create()  # made while the API was there
    openai_fake.quirks.no_conversations_api = True
    with pytest.raises(openai.NotFoundError) as caught:
        await client.conversations.create(metadata={"threadbridge": "1"})
    assert caught.value.body == {"detail": "Not Found"}
    with pytest.raises(openai.NotFoundError):
        await client.conversations.retrieve(conv.id)
    with pytest.raises(openai.NotFoundError):
        await client.conversations.items.list(conv.id)
    with pytest.raises(openai.NotFoundError):
        await client.conversations.items.create(conv.id, items=[{"role": "user", "content": "x"}])
    first = await client.responses.create(model="m", conversation=conv.id, input="remember me")
    assert first.output_text == "echo: remember me"
    second = await client.responses.create(model="m", conversation=conv.id, input="and now?")
    assert second.output_text == "echo: and now?"
    assert user_texts(openai_fake) == ["and now?"]  # no memory: the conversation was ignored
    assert openai_fake.conversations_state.items[conv.id] == []  # nothing stored there either


async def test_chaining_with_previous_response_id_keeps_history_and_calls(
    openai_fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    openai_fake.quirks.no_conversations_api = True
    openai_fake.model.add_rule(
        "weather",
        Reply(
            tool_calls=[ToolCallSpec("get_weather", '{"city": "Oslo"}')],
            then=Reply(text=lambda outs: f"it is {outs[0]}"),
        ),
    )
    first = await client.responses.create(model="m", input="hello", instructions="Be brief.")
    asked = await client.responses.create(
        model="m", input="weather?", tools=[TOOL], previous_response_id=first.id
    )
    (call,) = [item for item in asked.output if item.type == "function_call"]
    # a chained request must answer the calls of the response it continues
    with pytest.raises(openai.BadRequestError, match="No tool output found for function call"):
        await client.responses.create(model="m", input="hi", previous_response_id=asked.id)
    stream = await client.responses.create(
        model="m",
        stream=True,
        previous_response_id=asked.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
    )
    events = [event async for event in stream]
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == "it is sunny"
    after = await client.responses.create(
        model="m", input="thanks", previous_response_id=events[-1].response.id
    )
    assert after.output_text == "echo: thanks"
    assert user_texts(openai_fake) == ["hello", "weather?", "thanks"]
    roles = [m["role"] for m in openai_fake.model.calls[-1]]
    assert roles == ["user", "assistant", "user", "assistant", "tool", "assistant", "user"]
    with pytest.raises(openai.NotFoundError):
        await client.responses.create(model="m", input="x", previous_response_id="resp_nope")


async def test_no_assistants_api_answers_404(
    openai_fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    assistant = await client.beta.assistants.create(model="m")
    thread = await client.beta.threads.create()
    openai_fake.quirks.no_assistants_api = True
    with pytest.raises(openai.NotFoundError) as caught:
        await client.beta.assistants.list()
    assert caught.value.body == {"detail": "Not Found"}
    with pytest.raises(openai.NotFoundError):
        await client.beta.assistants.create(model="m")
    with pytest.raises(openai.NotFoundError):
        await client.beta.assistants.retrieve(assistant.id)
    with pytest.raises(openai.NotFoundError):
        await client.beta.threads.create()
    with pytest.raises(openai.NotFoundError):
        await client.beta.threads.runs.create(thread.id, assistant_id=assistant.id)
    with pytest.raises(openai.NotFoundError):
        await client.beta.threads.messages.list(thread.id)
    # the other APIs are still there
    chat = await client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "still here"}]
    )
    assert chat.choices[0].message.content == "echo: still here"


async def test_no_stored_responses_cannot_be_continued(
    openai_fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    openai_fake.quirks.no_stored_responses = True
    first = await client.responses.create(model="m", input="hello")
    assert first.output_text == "echo: hello"
    with pytest.raises(openai.NotFoundError, match="not found"):
        await client.responses.retrieve(first.id)
    with pytest.raises(openai.NotFoundError, match="not found"):
        await client.responses.create(model="m", input="again", previous_response_id=first.id)
