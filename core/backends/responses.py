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

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import openai
from openai import AsyncOpenAI, AsyncStream

from core.backends.base import (
    CUT_SHORT,
    INTERRUPTED,
    TRANSIENT_ERRORS,
    UNAVAILABLE,
    RunRequest,
    describe_error,
    end_run,
    round_limit_error,
    start_run,
)
from core.backends.responses_stream import ResponseAccumulator, flat_tools
from core.events import (
    Finished,
    FinishStatus,
    Progress,
    RunEvent,
    TextDelta,
    ToolCall,
    ToolCallsRequired,
    Usage,
)
from core.settings import Settings
from storage.base import Storage
from storage.records import RunRecord

log = logging.getLogger(__name__)

METADATA = {"threadbridge": "1"}
INTERRUPTED_OUTPUT = json.dumps({"error": "interrupted"})
NO_OUTPUT = json.dumps({"error": "no output"})
ROUND_LIMIT_OUTPUT = json.dumps({"error": "tool round limit reached"})
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
        await self._add_outputs(conversation_id, dangling, INTERRUPTED_OUTPUT)
        if dangling:
            log.info("answered %d dangling function calls in %s", len(dangling), conversation_id)
        return len(dangling)

    async def _add_outputs(self, conversation_id: str, call_ids: list[str], output: str) -> None:
        items: list[Any] = [
            {"type": "function_call_output", "call_id": c, "output": output} for c in call_ids
        ]
        for start in range(0, len(items), ITEMS_PER_CREATE):
            await self.client.conversations.items.create(
                conversation_id, items=items[start : start + ITEMS_PER_CREATE]
            )

    async def _repair_quietly(self, conversation_id: str, cid: str) -> None:
        try:
            await self.answer_dangling_calls(conversation_id)
        except TRANSIENT_ERRORS as exc:
            log.warning("could not repair %s [%s]: %s", conversation_id, cid, describe_error(exc))

    # --- runs -------------------------------------------------------------------------
    async def run(self, request: RunRequest) -> AsyncIterator[RunEvent]:
        record = await start_run(self.storage, self.name, request, "in_progress")
        run_id = record.run_id
        usage = Usage()
        parts: list[str] = []
        status: FinishStatus = "failed"
        error: str | None = UNAVAILABLE
        inputs: list[dict[str, Any]] = []
        if request.resume_turn is None:  # else the message reached the conversation already
            inputs.append({"role": "user", "content": request.user_text})
        try:
            rounds = 0
            while True:
                acc = ResponseAccumulator()
                async for event in self._respond(request, inputs, acc, parts, record):
                    yield event
                if acc.usage is not None:
                    usage.add(acc.usage)
                calls = acc.tool_calls()
                if acc.status is None or acc.status in ("failed", "cancelled"):
                    log.warning(
                        "responses run %s ended %s [%s]: %s",
                        run_id,
                        acc.status or "without a final event",
                        request.correlation_id,
                        acc.error_code or "-",
                    )
                    await self._repair_quietly(request.thread_id, request.correlation_id)
                    status, error = "failed", INTERRUPTED if parts else UNAVAILABLE
                    break
                if acc.status == "incomplete":
                    if calls:
                        await self._answer(request.thread_id, calls, ROUND_LIMIT_OUTPUT)
                    status, error = "incomplete", CUT_SHORT
                    break
                if not calls:
                    status, error = "completed", None
                    break
                if rounds >= self.settings.max_tool_rounds:
                    await self._answer(request.thread_id, calls, ROUND_LIMIT_OUTPUT)
                    status = "incomplete"
                    error = round_limit_error(rounds)
                    break
                rounds += 1
                await self.storage.update_run(run_id, status="requires_action")
                required = ToolCallsRequired(calls)
                yield required
                outputs = {o.tool_call_id: o.output for o in required.outputs}
                inputs = [
                    {
                        "type": "function_call_output",
                        "call_id": c.id,
                        "output": outputs.get(c.id, NO_OUTPUT),
                    }
                    for c in calls
                ]
                await self.storage.update_run(run_id, status="in_progress")
                if parts:
                    parts.append("\n\n")
                yield Progress("message_started")
        except TRANSIENT_ERRORS as exc:
            log.warning(
                "responses run %s failed [%s]: %s",
                run_id,
                request.correlation_id,
                describe_error(exc),
            )
            await self._repair_quietly(request.thread_id, request.correlation_id)
            status, error = "failed", INTERRUPTED if parts else UNAVAILABLE
        except BaseException:
            await self.storage.update_run(run_id, status="cancelled", error="cancelled")
            raise
        yield await end_run(self.storage, run_id, Finished(status, usage, error))

    async def _answer(self, conversation_id: str, calls: list[ToolCall], output: str) -> None:
        """Outputs for calls we won't run, so the conversation stays valid."""
        await self._add_outputs(conversation_id, [c.id for c in calls], output)

    async def _respond(
        self,
        request: RunRequest,
        inputs: list[dict[str, Any]],
        acc: ResponseAccumulator,
        parts: list[str],
        record: RunRecord,
    ) -> AsyncIterator[RunEvent]:
        """One streamed response; a conversation left with a dangling call is repaired once."""
        params = self._params(request, inputs)
        for attempt in range(2):
            try:
                stream = await self.client.post(
                    "/responses",
                    body=params,
                    cast_to=object,
                    stream=True,
                    stream_cls=AsyncStream[object],
                )
            except openai.BadRequestError as exc:
                if attempt == 0 and DANGLING_CALL in str(exc):
                    log.info(
                        "conversation %s had dangling calls; answering them", params["conversation"]
                    )
                    await self.answer_dangling_calls(request.thread_id)
                    continue
                raise
            async with stream:
                async for event in stream:
                    if not isinstance(event, dict):
                        continue
                    delta = acc.add(event)
                    if delta:
                        parts.append(delta)
                        yield TextDelta(delta, parts, len(parts))
                    elif acc.response_id and record.remote_run_id is None:
                        record.remote_run_id = acc.response_id
                        await self.storage.update_run(record.run_id, remote_run_id=acc.response_id)
                    if acc.status is not None:
                        break
            return

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
