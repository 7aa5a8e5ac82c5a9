"""Tests of the fake OpenAI server itself, driven by the real ``openai.AsyncOpenAI`` over HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx2
import openai
import pytest
import pytest_asyncio
from openai import AsyncAssistantEventHandler

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


async def test_responses_context_limit_and_truncation(fake: FakeOpenAI, client: openai.AsyncOpenAI):
    """Over the limit: a 400 unless ``truncation="auto"``; then the oldest items are left out
    of what the model sees (the conversation keeps them); a newest item over it alone: 400."""
    conv = await client.conversations.create()
    for text in ("first " * 40, "second " * 40):
        await client.responses.create(model="m", conversation=conv.id, input=text)
    fake.context_limit_tokens = 100
    with pytest.raises(openai.BadRequestError) as info:
        await client.responses.create(model="m", conversation=conv.id, input="third")
    assert info.value.code == "context_length_exceeded"
    r = await client.responses.create(
        model="m", conversation=conv.id, input="third", truncation="auto"
    )
    assert r.truncation == "auto" and r.output_text == "echo: third"
    seen = [m["content"] for m in fake.model.calls[-1] if m["role"] == "user"]
    assert seen[-1] == "third" and not any(s.startswith("first") for s in seen)
    assert len(fake.conversations_state.items[conv.id]) == 6  # nothing dropped from storage
    with pytest.raises(openai.BadRequestError) as info:
        await client.responses.create(
            model="m", conversation=conv.id, input="x" * 1000, truncation="auto"
        )
    assert info.value.code == "context_length_exceeded"


async def test_chat_gate_holds_first_delta(fake: FakeOpenAI, client: openai.AsyncOpenAI):
    fake.model.gate = asyncio.Event()
    task = asyncio.create_task(collect_chat(client, USER))
    await fake.model.wait_for_gate_waiters(1)
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


# --- Assistants v2 -------------------------------------------------------------------------


class Recorder(AsyncAssistantEventHandler):
    """Records what the SDK's stream helper reports."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []
        self.text = ""
        self.tool_calls: list[Any] = []

    async def on_event(self, event: Any) -> None:
        self.events.append(event.event)

    async def on_text_delta(self, delta: Any, snapshot: Any) -> None:
        self.text = snapshot.value

    async def on_tool_call_done(self, tool_call: Any) -> None:
        self.tool_calls.append(tool_call)


def error_message(exc: openai.APIError) -> Any:
    """The ``message`` of the OpenAI-style error body (the SDK prefixes its own text)."""
    assert isinstance(exc.body, dict)
    return exc.body["message"]


async def setup_thread(client: openai.AsyncOpenAI) -> tuple[str, str]:
    assistant = await client.beta.assistants.create(model="m", instructions="Be brief.")
    thread = await client.beta.threads.create()
    return assistant.id, thread.id


def user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


async def stream_run(
    client: openai.AsyncOpenAI, thread_id: str, assistant_id: str, text: str
) -> Recorder:
    handler = Recorder()
    async with client.beta.threads.runs.stream(
        thread_id=thread_id,
        assistant_id=assistant_id,
        additional_messages=user(text),
        event_handler=handler,
    ) as h:
        await h.until_done()
    return handler


TEXT_RUN = [
    "thread.run.created",
    "thread.run.queued",
    "thread.run.in_progress",
    "thread.run.step.created",
    "thread.run.step.in_progress",
    "thread.message.created",
    "thread.message.in_progress",
]


async def test_assistants_stream_text(fake: FakeOpenAI, client: openai.AsyncOpenAI):
    asst, thread = await setup_thread(client)
    h = await stream_run(client, thread, asst, "hello there")
    deltas = h.events.count("thread.message.delta")
    assert h.events == [
        *TEXT_RUN,
        *["thread.message.delta"] * deltas,
        "thread.message.completed",
        "thread.run.step.completed",
        "thread.run.completed",
    ]
    assert deltas == len("echo: hello there") // 4 + 1
    assert h.text == "echo: hello there"
    run = h.current_run
    assert run is not None and run.status == "completed" and run.usage is not None
    assert run.expires_at == run.created_at + 600
    assert fake.model.calls[-1] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello there"},
    ]
    page = await client.beta.threads.messages.list(thread_id=thread)
    assert [m.role for m in page.data] == ["assistant", "user"]  # newest first
    block = page.data[0].content[0]
    assert block.type == "text" and block.text.value == "echo: hello there"
    # The history continues across runs.
    await stream_run(client, thread, asst, "again")
    assert [m["content"] for m in fake.model.calls[-1][1:]] == [
        "hello there",
        "echo: hello there",
        "again",
    ]
    assert all(
        r.headers.get("openai-beta") == "assistants=v2" for r in fake.requests_to("/threads")
    )


async def test_assistants_tool_call_then_submit_stream(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
):
    fake.model.add_rule(
        "weather",
        Reply(
            tool_calls=[
                ToolCallSpec("get_weather", '{"city":"Oslo"}'),
                ToolCallSpec("get_time", "{}"),
            ],
            then=Reply(text=lambda outs: f"It is {outs[0]}, {outs[1]}"),
        ),
    )
    asst, thread = await setup_thread(client)
    h = await stream_run(client, thread, asst, "weather?")
    assert h.events[-2:] == ["thread.run.step.delta", "thread.run.requires_action"]
    run = h.current_run
    assert run is not None and run.status == "requires_action" and run.required_action
    calls = run.required_action.submit_tool_outputs.tool_calls
    assert [(c.function.name, c.function.arguments) for c in calls] == [
        ("get_weather", '{"city":"Oslo"}'),
        ("get_time", "{}"),
    ]
    streamed = [(c.function.name, c.function.arguments) for c in h.tool_calls]
    assert streamed == [("get_weather", '{"city":"Oslo"}'), ("get_time", "{}")]
    h2 = Recorder()
    async with client.beta.threads.runs.submit_tool_outputs_stream(
        thread_id=thread,
        run_id=run.id,
        tool_outputs=[
            {"tool_call_id": calls[1].id, "output": "noon"},
            {"tool_call_id": calls[0].id, "output": "sunny"},
        ],
        event_handler=h2,
    ) as s:
        await s.until_done()
    assert h2.events[:4] == [
        "thread.run.step.completed",
        "thread.run.queued",
        "thread.run.in_progress",
        "thread.run.step.created",
    ]
    assert h2.text == "It is sunny, noon"
    final = h2.current_run
    assert final is not None and final.status == "completed"
    assert fake.model.calls[-1][-2:] == [
        {"role": "tool", "content": "sunny", "tool_call_id": calls[0].id},
        {"role": "tool", "content": "noon", "tool_call_id": calls[1].id},
    ]
    steps = await client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread, order="asc")
    assert [s.type for s in steps.data] == ["tool_calls", "message_creation"]
    details = steps.data[0].step_details
    assert details.type == "tool_calls"
    assert [c.function.output for c in details.tool_calls if c.type == "function"] == [
        "sunny",
        "noon",
    ]


async def test_assistants_active_run_rule_and_cancel(fake: FakeOpenAI, client: openai.AsyncOpenAI):
    fake.model.add_rule("tool", Reply(tool_calls=[ToolCallSpec("f", "{}")]))
    asst, thread = await setup_thread(client)
    h = await stream_run(client, thread, asst, "use a tool")
    assert h.current_run is not None
    run_id = h.current_run.id
    with pytest.raises(openai.BadRequestError) as info:
        await client.beta.threads.messages.create(thread_id=thread, role="user", content="hi")
    assert (
        error_message(info.value)
        == f"Can't add messages to {thread} while a run {run_id} is active."
    )
    with pytest.raises(openai.BadRequestError) as info:
        await client.beta.threads.runs.create(thread_id=thread, assistant_id=asst)
    assert error_message(info.value) == f"Thread {thread} already has an active run {run_id}."
    cancelling = await client.beta.threads.runs.cancel(run_id=run_id, thread_id=thread)
    assert cancelling.status == "cancelling"
    final = await client.beta.threads.runs.poll(run_id=run_id, thread_id=thread)
    assert final.status == "cancelled" and final.cancelled_at is not None
    with pytest.raises(openai.BadRequestError):
        await client.beta.threads.runs.cancel(run_id=run_id, thread_id=thread)
    await client.beta.threads.messages.create(thread_id=thread, role="user", content="ok now")


async def test_assistants_cancel_during_gated_stream(fake: FakeOpenAI, client: openai.AsyncOpenAI):
    fake.model.gate = asyncio.Event()
    asst, thread = await setup_thread(client)
    task = asyncio.create_task(stream_run(client, thread, asst, "hello"))
    await fake.model.wait_for_gate_waiters(1)
    run = fake.assistants_state.active_run(thread)
    assert run is not None
    with pytest.raises(openai.BadRequestError):
        await client.beta.threads.runs.create(thread_id=thread, assistant_id=asst)
    await client.beta.threads.runs.cancel(run_id=run["id"], thread_id=thread)
    h = await task
    assert h.events[-3:] == [
        "thread.message.incomplete",
        "thread.run.step.cancelled",
        "thread.run.cancelled",
    ]
    assert h.current_run is not None and h.current_run.status == "cancelled"
    assert h.text == ""


@pytest.mark.parametrize("status", ["failed", "expired", "cancelled", "incomplete"])
async def test_assistants_run_status_faults(
    fake: FakeOpenAI, client: openai.AsyncOpenAI, status: str
):
    fake.model.default = Reply(text="one two three four")
    asst, thread = await setup_thread(client)
    fake.inject(Fault.run_status(status), path="/runs")  # type: ignore[arg-type]
    h = await stream_run(client, thread, asst, "hi")
    run = h.current_run
    assert run is not None and run.status == status
    assert h.events[-1] == f"thread.run.{status}"
    if status == "failed":
        assert run.last_error is not None and run.last_error.code == "server_error"
    if status == "incomplete":
        assert run.incomplete_details is not None
        assert run.incomplete_details.reason == "max_completion_tokens"
        assert h.text == "one two three four"
    else:
        assert h.text == "one "  # only the first delta went out
    page = await client.beta.threads.messages.list(thread_id=thread, limit=1)
    assert page.data[0].status == "incomplete"


async def test_assistants_expire_run_in_requires_action(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
):
    fake.model.add_rule("tool", Reply(tool_calls=[ToolCallSpec("f", "{}", id="call_1")]))
    asst, thread = await setup_thread(client)
    h = await stream_run(client, thread, asst, "tool please")
    assert h.current_run is not None
    fake.expire_run(h.current_run.id)
    run = await client.beta.threads.runs.retrieve(run_id=h.current_run.id, thread_id=thread)
    assert run.status == "expired" and run.required_action is None
    with pytest.raises(openai.BadRequestError) as info:
        await client.beta.threads.runs.submit_tool_outputs(
            run_id=run.id, thread_id=thread, tool_outputs=[{"tool_call_id": "call_1"}]
        )
    assert error_message(info.value) == 'Runs in status "expired" do not accept tool outputs.'


async def test_assistants_spec_error_event_is_swallowed(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
):
    asst, thread = await setup_thread(client)
    fake.inject(Fault.error_event("spec"), path="/runs")
    h = await stream_run(client, thread, asst, "hello")
    # The SDK helper passes the spec-shaped error through (without its event name), no raise.
    assert h.events[-2] == "thread.message.delta" and h.events[-1] in ("error", None)
    assert h.current_run is not None and h.current_run.status == "in_progress"
    run = await client.beta.threads.runs.retrieve(run_id=h.current_run.id, thread_id=thread)
    assert run.status == "failed" and run.last_error is not None


async def test_assistants_wrapped_error_event_raises(fake: FakeOpenAI, client: openai.AsyncOpenAI):
    asst, thread = await setup_thread(client)
    fake.inject(Fault.error_event("wrapped", message="boom"), path="/runs")
    with pytest.raises(openai.APIError) as info:
        await stream_run(client, thread, asst, "hello")
    assert info.value.message == "boom"
    assert fake.assistants_state.active_run(thread) is None


async def test_assistants_disconnect_mid_stream_run_continues(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
):
    asst, thread = await setup_thread(client)
    fake.inject(Fault.disconnect_after(8), path="/runs")
    with pytest.raises((openai.APIError, httpx2.HTTPError)):
        await stream_run(client, thread, asst, "hello there")
    (run,) = fake.assistants_state.thread_runs(thread)
    final = await client.beta.threads.runs.poll(run_id=run["id"], thread_id=thread)
    assert final.status == "completed"


async def test_assistants_non_stream_create_and_poll(fake: FakeOpenAI, client: openai.AsyncOpenAI):
    asst, thread = await setup_thread(client)
    run = await client.beta.threads.runs.create_and_poll(
        thread_id=thread, assistant_id=asst, additional_messages=user("polled")
    )
    assert run.status == "completed"
    msgs = await client.beta.threads.messages.list(thread_id=thread, run_id=run.id)
    (msg,) = msgs.data
    assert msg.content[0].type == "text" and msg.content[0].text.value == "echo: polled"


async def test_assistants_pagination_and_thread_messages(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
):
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "m0"}])
    for i in range(1, 5):
        await client.beta.threads.messages.create(thread_id=thread.id, role="user", content=f"m{i}")
    first = await client.beta.threads.messages.list(thread_id=thread.id, limit=2, order="asc")
    assert first.has_more
    texts = []
    async for m in client.beta.threads.messages.list(thread_id=thread.id, limit=2, order="asc"):
        block = m.content[0]
        assert block.type == "text"
        texts.append(block.text.value)
    assert texts == ["m0", "m1", "m2", "m3", "m4"]
    deleted = await client.beta.threads.delete(thread.id)
    assert deleted.deleted
    with pytest.raises(openai.NotFoundError):
        await client.beta.threads.retrieve(thread.id)


async def test_assistants_require_beta_header(fake: FakeOpenAI):
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{fake.base_url}/threads", json={}, headers={"Authorization": "Bearer test"}
        ) as resp,
    ):
        body = await resp.json()
    assert resp.status == 400
    assert "OpenAI-Beta" in body["error"]["message"]


async def test_assistants_create_thread_and_run_stream(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
):
    asst, _ = await setup_thread(client)
    handler = Recorder()
    async with client.beta.threads.create_and_run_stream(
        assistant_id=asst,
        thread={"messages": [{"role": "user", "content": "new thread"}]},
        event_handler=handler,
    ) as h:
        await h.until_done()
    assert handler.events[0] == "thread.created"
    assert handler.events[1:8] == TEXT_RUN
    assert handler.text == "echo: new thread"


async def test_request_log_and_method_scoped_faults(fake: FakeOpenAI, client: openai.AsyncOpenAI):
    asst, thread = await setup_thread(client)
    fake.inject(Fault.status(503, retry_after_ms=1), path="/threads", method="GET")
    await stream_run(client, thread, asst, "hi")  # a POST under /threads is not affected
    (run,) = fake.assistants_state.thread_runs(thread)
    got = await client.beta.threads.runs.retrieve(run_id=run["id"], thread_id=thread)
    assert got.status == "completed"
    gets = await fake.wait_for_requests(f"/threads/{thread}/runs/{run['id']}", 2, method="GET")
    assert [r.method for r in gets] == ["GET", "GET"]  # the 503, then the SDK's retry
    posts = fake.requests_to("/runs", method="POST")
    assert posts[0].json is not None and posts[0].json["assistant_id"] == asst
    assert posts[0].json["stream"] is True
    with pytest.raises(TimeoutError):
        await fake.wait_for_requests("/never", 1, timeout=0.05)
