"""The `responses` backend: threads are OpenAI Conversations, each run is a streamed Responses
call with ``conversation=<id>`` (the server keeps the history; we keep run records).

A run loops response → tools → response (the outputs as ``function_call_output`` input) with
at most ``MAX_TOOL_ROUNDS`` tool rounds. A conversation is never left with a function call
that has no output (the next response would be a 400): calls we stop at get an error output,
and after a failure or a crash dangling calls are answered with ``{"error": "interrupted"}``.

Requests go through the SDK's generic ``post`` (its retries, errors and SSE decoding) with
events kept as plain dicts: typed event objects are costly to build per text delta.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import openai
from openai import AsyncOpenAI, AsyncStream

from core.backends.base import (
    CUT_SHORT,
    TRANSIENT_ERRORS,
    RunRequest,
    describe_error,
    post_streaming,
)
from core.backends.responses_stream import ResponseAccumulator, flat_tools
from core.backends.tool_loop import BackendRun, RoundFailed, run_tool_loop
from core.backends.tool_outputs import INTERRUPTED_OUTPUT, ROUND_LIMIT_OUTPUT
from core.events import FinishStatus, RunEvent, TextDelta, ToolCall, ToolOutput
from core.settings import Settings
from storage.base import Storage
from storage.records import RunRecord

log = logging.getLogger(__name__)

METADATA = {"threadbridge": "1"}
DANGLING_CALL = "No tool output found for function call"
ITEMS_PER_CREATE = 20
RECENT_ITEMS = 100


class ResponsesBackend:
    name = "responses"

    def __init__(self, client: AsyncOpenAI, storage: Storage, settings: Settings) -> None:
        self.client = client
        self.storage = storage
        self.settings = settings

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        await self.client.close()

    async def new_thread(self) -> str:
        conversation = await self.client.conversations.create(metadata=METADATA)
        return str(conversation.id)

    async def recover(self, run: RunRecord) -> bool:
        """Answer function calls a crash left without outputs. True if the run's user message
        reached the conversation (the server created a response for it)."""
        try:
            await self.answer_dangling_calls(run.thread_id)
        finally:
            await self.storage.mark_interrupted(run.run_id)
        return bool(run.remote_run_id)

    async def answer_dangling_calls(self, conversation_id: str) -> int:
        """Give every recent function call without an output an "interrupted" output."""
        page = await self.client.conversations.items.list(
            conversation_id, order="desc", limit=RECENT_ITEMS
        )
        answered: set[str] = set()
        dangling: list[str] = []
        for item in page.data:  # newest first: an output comes before its call
            call_id = getattr(item, "call_id", None)
            if item.type == "function_call_output" and call_id:
                answered.add(call_id)
            elif item.type == "function_call" and call_id and call_id not in answered:
                dangling.append(call_id)
        dangling.reverse()
        await self.add_outputs(conversation_id, dangling, INTERRUPTED_OUTPUT)
        if dangling:
            log.info("answered %d dangling function calls in %s", len(dangling), conversation_id)
        return len(dangling)

    async def add_outputs(self, conversation_id: str, call_ids: list[str], output: str) -> None:
        items: list[Any] = [
            {"type": "function_call_output", "call_id": c, "output": output} for c in call_ids
        ]
        for start in range(0, len(items), ITEMS_PER_CREATE):
            await self.client.conversations.items.create(
                conversation_id, items=items[start : start + ITEMS_PER_CREATE]
            )

    async def repair_quietly(self, conversation_id: str, cid: str) -> None:
        try:
            await self.answer_dangling_calls(conversation_id)
        except TRANSIENT_ERRORS as exc:
            log.warning("could not repair %s [%s]: %s", conversation_id, cid, describe_error(exc))

    # --- runs -------------------------------------------------------------------------
    def run(self, request: RunRequest) -> AsyncIterator[RunEvent]:
        return run_tool_loop(_ResponsesRun(self, request), self.settings.max_tool_rounds)

    async def open_response(
        self, request: RunRequest, inputs: list[dict[str, Any]]
    ) -> AsyncStream[object]:
        """Start one streamed response; a conversation left with a dangling call is repaired
        once."""
        try:
            return await self._post(request, inputs)
        except openai.BadRequestError as exc:
            if DANGLING_CALL not in str(exc):
                raise
            log.info("conversation %s had dangling calls; answering them", request.thread_id)
            await self.answer_dangling_calls(request.thread_id)
        return await self._post(request, inputs)

    async def _post(self, request: RunRequest, inputs: list[dict[str, Any]]) -> AsyncStream[object]:
        return await post_streaming(self.client, "/responses", self._params(request, inputs))

    def _params(self, request: RunRequest, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.settings.assistant_model,
            "conversation": request.thread_id,
            "instructions": self.settings.assistant_instructions,
            "stream": True,
            "max_output_tokens": self.settings.max_output_tokens,
        }
        if inputs:
            params["input"] = inputs
        if request.tools:
            params["tools"] = flat_tools(request.tools)
        if self.settings.assistant_temperature is not None:
            params["temperature"] = self.settings.assistant_temperature
        return params


class _ResponsesRun(BackendRun):
    """A run on a server-kept conversation: each round is one streamed response."""

    def __init__(self, backend: ResponsesBackend, request: RunRequest) -> None:
        super().__init__(backend.storage, backend.name, request)
        self.responses = backend
        self.acc = ResponseAccumulator()
        self.remote_id: str | None = None
        self.inputs: list[dict[str, Any]] = []
        if request.resume_turn is None:  # else the message reached the conversation already
            self.inputs.append({"role": "user", "content": request.user_text})

    async def stream(self) -> AsyncGenerator[RunEvent, None]:
        self.acc = acc = ResponseAccumulator()
        parts = self.parts
        stream = await self.responses.open_response(self.request, self.inputs)
        async with stream:
            async for event in stream:
                if not isinstance(event, dict):
                    continue
                delta = acc.add(event)
                if delta:
                    parts.append(delta)
                    yield TextDelta(delta, parts, len(parts))
                elif acc.response_id and self.remote_id is None:
                    self.remote_id = acc.response_id
                    await self.storage.update_run(self.run_id, remote_run_id=acc.response_id)
                if acc.status is not None:
                    break

    async def end_round(self) -> list[ToolCall]:
        acc = self.acc
        if acc.usage is not None:
            self.usage.add(acc.usage)
        if acc.status is None or acc.status in ("failed", "cancelled"):
            ended = acc.status or "without a final event"
            raise RoundFailed(f"ended {ended}: {acc.error_code or '-'}")
        calls = acc.tool_calls()
        if acc.status == "incomplete":
            if calls:
                await self.answer(calls, ROUND_LIMIT_OUTPUT)
            return []
        return calls

    async def submit(self, outputs: list[ToolOutput]) -> None:
        self.inputs = [
            {"type": "function_call_output", "call_id": o.tool_call_id, "output": o.output}
            for o in outputs
        ]

    async def answer(self, calls: list[ToolCall], output: str) -> None:
        await self.responses.add_outputs(self.request.thread_id, [c.id for c in calls], output)

    async def settle(self) -> tuple[FinishStatus, str | None]:
        if self.acc.status == "incomplete":
            return "incomplete", CUT_SHORT
        return "completed", None

    async def clean_up(self) -> None:
        """Calls a failed round or a stop left without outputs get one."""
        await self.responses.repair_quietly(self.request.thread_id, self.request.correlation_id)
