"""Stopping a run from outside (``RunRequest.stop``), each backend driven directly against the
fake server: the run ends ``cancelled``, is no longer active, and leaves no tool call without
an output; the same thread then answers the next message normally."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.backends.assistants import AssistantsBackend
from core.backends.base import STOPPED, Backend, RunRequest
from core.backends.chat import ChatBackend
from core.backends.responses import ResponsesBackend
from core.bootstrap import build_client
from core.events import Finished, RunEvent, TextDelta, ToolCallsRequired, ToolOutput
from storage.sqlite import SqliteStorage
from tests.fakes.openai_fake import FakeOpenAI, Fault, Reply, ToolCallSpec
from tests.harness.core import make_settings

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}

BACKENDS = {
    "chat": ChatBackend,
    "assistants": AssistantsBackend,
    "responses": ResponsesBackend,
    "responses-chained": ResponsesBackend,  # a server without the Conversations API
}


@dataclass
class Rig:
    fake: FakeOpenAI
    storage: SqliteStorage
    backend: Backend
    name: str
    seen: int = 0
    """Requests to the model endpoint before the one a test stalls."""

    def request(self, thread_id: str, text: str, stop: asyncio.Event | None = None) -> RunRequest:
        return RunRequest(thread_id, "c", text, "U1", tools=[WEATHER_TOOL], stop=stop)


@pytest.fixture(params=list(BACKENDS))
async def rig(
    request: pytest.FixtureRequest, openai_fake: FakeOpenAI, tmp_path: Path
) -> AsyncIterator[Rig]:
    openai_fake.quirks.no_conversations_api = request.param == "responses-chained"
    settings = make_settings(openai_fake, tmp_path / "s.db", request.param.split("-")[0])
    storage = SqliteStorage(settings.sqlite_path)
    await storage.open()
    backend = BACKENDS[request.param](build_client(settings), storage, settings)
    await backend.start()
    yield Rig(openai_fake, storage, backend, request.param)
    await backend.close()
    await storage.close()


async def drive(
    rig: Rig, request: RunRequest, on_event: Callable[[RunEvent], None] = lambda e: None
) -> tuple[Finished, list[RunEvent]]:
    """Run to the end, answering every tool call with "sunny"."""
    events: list[RunEvent] = []
    async for event in rig.backend.run(request):
        events.append(event)
        if isinstance(event, ToolCallsRequired):
            event.outputs = [ToolOutput(c.id, "sunny") for c in event.calls]
        on_event(event)
    assert isinstance(events[-1], Finished)
    return events[-1], events


async def assert_no_dangling_call(rig: Rig, thread_id: str) -> None:
    if rig.name == "chat":
        messages = await rig.storage.list_messages(thread_id)
        asked = [c["id"] for m in messages for c in m.tool_calls or ()]
        answered = {m.tool_call_id for m in messages if m.role == "tool"}
        assert asked and set(asked) <= answered
    elif rig.name == "responses":
        items = rig.fake.conversations_state.items[thread_id]
        asked = [i["call_id"] for i in items if i["type"] == "function_call"]
        answered = {i["call_id"] for i in items if i["type"] == "function_call_output"}
        assert set(asked) <= answered
    elif rig.name == "responses-chained":  # the calls are owed: the next request answers them
        chain = await rig.storage.get_chain(thread_id)
        assert chain is not None
        output = rig.fake.conversations_state.responses[chain.response_id]["output"]
        asked = [i["call_id"] for i in output if i["type"] == "function_call"]
        assert asked and set(asked) <= set(chain.pending)
    else:  # a run the server keeps waiting for outputs would block the thread
        statuses = {r["status"] for r in rig.fake.assistants_state.runs.values()}
        assert statuses <= {"cancelled", "cancelling", "completed"}, statuses
    assert await rig.storage.active_runs() == []


async def assert_thread_answers(rig: Rig, thread_id: str) -> None:
    finished, events = await drive(rig, rig.request(thread_id, "next"))
    assert finished.status == "completed"
    assert "".join(e.delta for e in events if isinstance(e, TextDelta)) == "echo: next"


async def test_stop_while_a_tool_runs(rig: Rig) -> None:
    rig.fake.model.add_rule(
        "weather",
        Reply(
            text="Let me check.",
            tool_calls=[ToolCallSpec("get_weather", '{"city": "Oslo"}')],
            then=Reply(text="never said"),
        ),
        times=1,
    )
    stop = asyncio.Event()
    thread_id = await rig.backend.new_thread()

    def press_stop(event: RunEvent) -> None:
        if isinstance(event, ToolCallsRequired):
            stop.set()

    finished, events = await drive(rig, rig.request(thread_id, "weather?", stop), press_stop)
    assert (finished.status, finished.error) == ("cancelled", STOPPED)
    assert "never said" not in "".join(e.delta for e in events if isinstance(e, TextDelta))
    await assert_no_dangling_call(rig, thread_id)
    await assert_thread_answers(rig, thread_id)


async def test_stop_between_deltas_keeps_the_text_shown(rig: Rig) -> None:
    rig.fake.model.add_rule("story", Reply(text="Once upon a time there was a fox."), times=1)
    stop = asyncio.Event()
    thread_id = await rig.backend.new_thread()

    def press_stop(event: RunEvent) -> None:
        if isinstance(event, TextDelta):
            stop.set()

    finished, events = await drive(rig, rig.request(thread_id, "story", stop), press_stop)
    assert finished.status == "cancelled"
    shown = [e.delta for e in events if isinstance(e, TextDelta)]
    assert len(shown) == 1
    if rig.name == "chat":
        messages = await rig.storage.list_messages(thread_id)
        assert (messages[-1].role, messages[-1].content) == ("assistant", shown[0])
    assert await rig.storage.active_runs() == []
    await assert_thread_answers(rig, thread_id)


def stall(rig: Rig) -> None:
    """Make the next model stream stall before any text."""
    if rig.name.startswith("responses"):
        rig.seen = len(rig.fake.requests_to("/responses", "POST"))
        rig.fake.inject(Fault.stall_after(2, 30), path="/responses", method="POST")
    else:
        rig.fake.model.gate = asyncio.Event()  # opened only to let the next message through


async def wait_stalled(rig: Rig) -> None:
    if rig.name.startswith("responses"):
        await rig.fake.wait_for_requests("/responses", rig.seen + 1, method="POST")
    else:
        await rig.fake.model.wait_for_gate_waiters(1)


async def test_stop_interrupts_a_stalled_stream(rig: Rig) -> None:
    stall(rig)
    stop = asyncio.Event()
    thread_id = await rig.backend.new_thread()
    running = asyncio.create_task(drive(rig, rig.request(thread_id, "hello", stop)))
    await wait_stalled(rig)
    stop.set()
    finished, _ = await asyncio.wait_for(running, 10)
    assert finished.status == "cancelled"
    assert await rig.storage.active_runs() == []
    rig.fake.model.gate = None
    await assert_thread_answers(rig, thread_id)


async def test_cancelling_the_task_is_not_taken_for_a_stop(rig: Rig) -> None:
    """With a stop event, an outside cancellation (e.g. shutdown) still cancels the task."""
    stall(rig)
    thread_id = await rig.backend.new_thread()
    running = asyncio.create_task(drive(rig, rig.request(thread_id, "hello", asyncio.Event())))
    await wait_stalled(rig)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert await rig.storage.active_runs() == []
