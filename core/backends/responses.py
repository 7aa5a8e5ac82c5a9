"""The `responses` backend: threads are OpenAI Conversations, each run is a streamed Responses
call with ``conversation=<id>`` (the server keeps the history; we keep run records).

On a server without the Conversations API (found at start-up, see
:mod:`core.backends.responses_probe`) threads are our own ids (``thread_…``) and every
response continues the thread's last one with ``previous_response_id``; the last response id
and the outputs its function calls are still owed are kept in storage
(:class:`~storage.records.ResponseChain`), so memory survives restarts. Only a response that
ended (completed or incomplete) moves the chain on: a failed, dropped or stopped one is left
out, with the user message it carried. Owed outputs (calls we stopped at, or a crash left
unanswered) are sent first in the next request's input.

A run loops response → tools → response (the outputs as ``function_call_output`` input) with
at most ``MAX_TOOL_ROUNDS`` tool rounds. A conversation is never left with a function call
that has no output (the next response would be a 400): calls we stop at get an error output,
and after a failure or a crash dangling calls are answered with ``{"error": "interrupted"}``
(calls a crash cut off while they ran: an unknown outcome, not to be repeated unchecked).

Every request says ``truncation: "auto"``, so a conversation grown past the model's context
has its oldest items left out by the server instead of failing every later message with a
400 (a server that rejects the parameter has it dropped for good). A context-length error
that still comes (the newest message, or a round's tool outputs, too big on their own) ends
the run with words saying so, and the calls whose outputs did not fit get an error output.

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
    CONTEXT_FULL,
    CUT_SHORT,
    TOO_LONG,
    TRANSIENT_ERRORS,
    RunRequest,
    describe_error,
    new_id,
    post_streaming,
)
from core.backends.responses_probe import history_mode
from core.backends.responses_stream import ResponseAccumulator, flat_tools
from core.backends.server_errors import is_context_length_error, rejects_param
from core.backends.tool_loop import BackendRun, RoundFailed, run_tool_loop
from core.backends.tool_outputs import (
    INTERRUPTED_OUTPUT,
    ROUND_LIMIT_OUTPUT,
    UNKNOWN_OUTCOME_OUTPUT,
    tool_error,
)
from core.events import FinishStatus, RunEvent, TextDelta, ToolCall, ToolOutput
from core.settings import Settings
from storage.base import Storage
from storage.records import ResponseChain, RunRecord

log = logging.getLogger(__name__)

METADATA = {"threadbridge": "1"}
DANGLING_CALL = "No tool output found for function call"
ITEMS_PER_CREATE = 20
RECENT_ITEMS = 100
TOO_LONG_OUTPUT = tool_error("the output was too long for the model's context")
"""Calls whose outputs the server refused as too long for the context."""
CONTEXT_EXCEEDED = "context_length_exceeded"
CHAINED_NAME = "responses-chained"
"""The backend's name in chained mode: threads of the other mode are not continued (a stored
conversation id is no thread to chain, a ``thread_…`` id no conversation)."""


class ResponsesBackend:
    name = "responses"

    def __init__(self, client: AsyncOpenAI, storage: Storage, settings: Settings) -> None:
        self.client = client
        self.storage = storage
        self.settings = settings
        self.chained = False
        """No Conversations API: responses are chained with ``previous_response_id``."""
        self.truncation = True
        """Send ``truncation: "auto"`` (False once the server rejected the parameter)."""

    async def start(self) -> None:
        """Find how this server keeps history (raises SettingsProblem if it can't)."""
        if await history_mode(self.client, self.settings) == "chained":
            self.chained = True
            self.name = CHAINED_NAME
            log.warning(
                "the model server has no Conversations API: chaining responses with "
                "previous_response_id (history kept by response id)"
            )

    async def close(self) -> None:
        await self.client.close()

    async def new_thread(self) -> str:
        if self.chained:
            return new_id("thread")
        conversation = await self.client.conversations.create(metadata=METADATA)
        return str(conversation.id)

    async def recover(self, run: RunRecord) -> bool:
        """Answer function calls a crash left without outputs. True if the run's user message
        reached the conversation (the server created a response for it); chained: if a
        response of the run ended and became the thread's last (its owed outputs go with the
        next request)."""
        try:
            calls = await self.storage.tool_calls(run.run_id)
            running = {c.call_id for c in calls if not c.finished}
            if self.chained:
                chain = await self.storage.get_chain(run.thread_id)
                if chain is None or chain.run_id != run.run_id:
                    return False
                owed = chain.pending
                owed.update({c: UNKNOWN_OUTCOME_OUTPUT for c in running if c in owed})
                await self.storage.set_chain(chain)
                return True
            if run.backend == CHAINED_NAME:  # the server has the Conversations API now
                return False
            await self.answer_dangling_calls(run.thread_id, running=running)
        finally:
            await self.storage.mark_interrupted(run.run_id)
        return bool(run.remote_run_id)

    async def answer_dangling_calls(
        self,
        conversation_id: str,
        output: str = INTERRUPTED_OUTPUT,
        running: set[str] | None = None,
    ) -> int:
        """Give every recent function call without an output ``output`` ("interrupted"), or
        an unknown outcome for the calls in ``running`` (a crash cut them off as they ran)."""
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
        running = running or set()
        unknown = [c for c in dangling if c in running]
        await self.add_outputs(conversation_id, unknown, UNKNOWN_OUTCOME_OUTPUT)
        not_run = [c for c in dangling if c not in running]
        await self.add_outputs(conversation_id, not_run, output)
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
        self, request: RunRequest, inputs: list[dict[str, Any]], chain: ResponseChain | None
    ) -> AsyncStream[object]:
        """Start one streamed response (chained: continuing ``chain``); a conversation left
        with a dangling call is repaired once."""
        params = self._params(request, inputs, chain)
        try:
            return await self._post(params)
        except openai.BadRequestError as exc:
            if self.chained or DANGLING_CALL not in str(exc):
                raise
            log.info("conversation %s had dangling calls; answering them", request.thread_id)
            await self.answer_dangling_calls(request.thread_id)
        return await self._post(params)

    async def _post(self, params: dict[str, Any]) -> AsyncStream[object]:
        """A 400 rejecting ``truncation`` stops it being sent, for good, and retries once."""
        try:
            return await post_streaming(self.client, "/responses", params)
        except openai.BadRequestError as exc:
            if "truncation" not in params or not rejects_param(exc, "truncation"):
                raise
            self.truncation = False
            log.warning("the model server rejects truncation; not sending it from now on")
        params = {k: v for k, v in params.items() if k != "truncation"}
        return await post_streaming(self.client, "/responses", params)

    def _params(
        self, request: RunRequest, inputs: list[dict[str, Any]], chain: ResponseChain | None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.settings.assistant_model,
            "instructions": self.settings.assistant_instructions,
            "stream": True,
            "max_output_tokens": self.settings.max_output_tokens,
        }
        if self.truncation:
            params["truncation"] = "auto"
        if not self.chained:
            params["conversation"] = request.thread_id
        elif chain is not None:
            params["previous_response_id"] = chain.response_id
            inputs = owed_outputs(chain, inputs) + inputs
        if inputs:
            params["input"] = inputs
        if request.tools:
            params["tools"] = flat_tools(request.tools)
            if request.tool_choice != "auto":
                params["tool_choice"] = request.tool_choice
        if self.settings.assistant_temperature is not None:
            params["temperature"] = self.settings.assistant_temperature
        return params


def owed_outputs(chain: ResponseChain, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``function_call_output`` items for the chain's owed calls that ``inputs`` don't answer."""
    given = {i.get("call_id") for i in inputs if i.get("type") == "function_call_output"}
    return [
        {"type": "function_call_output", "call_id": call_id, "output": output}
        for call_id, output in chain.pending.items()
        if call_id not in given
    ]


class _ResponsesRun(BackendRun):
    """A run on a server-kept conversation (or a chain of responses): each round is one
    streamed response."""

    def __init__(self, backend: ResponsesBackend, request: RunRequest) -> None:
        super().__init__(backend.storage, backend.name, request)
        self.responses = backend
        self.acc = ResponseAccumulator()
        self.remote_id: str | None = None
        self.inputs: list[dict[str, Any]] = []
        if request.resume_turn is None:  # else the message reached the conversation already
            self.inputs.append({"role": "user", "content": request.user_text})
        self.chain: ResponseChain | None = None
        """Chained mode: the response the next round continues."""
        self.rounds = 0
        self.too_long = False
        """The server said the round's input is too long for the model's context."""

    async def begin(self) -> None:
        await super().begin()
        if self.responses.chained:
            self.chain = await self.storage.get_chain(self.request.thread_id)

    async def stream(self) -> AsyncGenerator[RunEvent, None]:
        self.acc = acc = ResponseAccumulator()
        self.rounds += 1
        parts = self.parts
        try:
            stream = await self.responses.open_response(self.request, self.inputs, self.chain)
        except openai.BadRequestError as exc:
            if not is_context_length_error(exc):
                raise
            self.too_long = True
            return
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
        if acc.status == "failed" and acc.error_code == CONTEXT_EXCEEDED:
            self.too_long = True
        if self.too_long:
            await self._refused()
            return []
        if acc.status is None or acc.status in ("failed", "cancelled"):
            ended = acc.status or "without a final event"
            raise RoundFailed(f"ended {ended}: {acc.error_code or '-'}")
        calls = acc.tool_calls()
        if self.responses.chained:
            await self._advance_chain(calls)
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

    async def _refused(self) -> None:
        """The round's input was too long for the context: the calls whose outputs it carried
        are answered with an error output instead (chained: owed it)."""
        cid = self.request.correlation_id
        log.warning(
            "responses run %s: input too long for the model's context [%s]", self.run_id, cid
        )
        owed = [i["call_id"] for i in self.inputs if i.get("type") == "function_call_output"]
        if not self.responses.chained:
            thread_id = self.request.thread_id
            try:
                await self.responses.answer_dangling_calls(thread_id, TOO_LONG_OUTPUT)
            except TRANSIENT_ERRORS as exc:
                log.warning("could not repair %s [%s]: %s", thread_id, cid, describe_error(exc))
        elif self.chain is not None and owed:
            self.chain.pending.update({call_id: TOO_LONG_OUTPUT for call_id in owed})
            await self.storage.set_chain(self.chain)

    async def _advance_chain(self, calls: list[ToolCall]) -> None:
        """The response ended: the thread continues from it, its calls owed an output until
        the next request carries one."""
        if not self.acc.response_id:
            raise RoundFailed("ended without a response id to chain from")
        owed = {c.id: INTERRUPTED_OUTPUT for c in calls}
        self.chain = ResponseChain(self.request.thread_id, self.acc.response_id, self.run_id, owed)
        self.inputs = []
        await self.storage.set_chain(self.chain)

    async def answer(self, calls: list[ToolCall], output: str) -> None:
        if not self.responses.chained:
            await self.responses.add_outputs(self.request.thread_id, [c.id for c in calls], output)
        elif self.chain is not None:  # always, after a round: the calls are owed, with output
            self.chain.pending.update({c.id: output for c in calls})
            await self.storage.set_chain(self.chain)

    async def settle(self) -> tuple[FinishStatus, str | None]:
        if self.too_long:
            return "failed", TOO_LONG if self.rounds == 1 else CONTEXT_FULL
        if self.acc.status == "incomplete":
            return "incomplete", CUT_SHORT
        return "completed", None

    async def clean_up(self) -> None:
        """Calls a failed round or a stop left without outputs get one (chained: they are
        owed, and go with the next request)."""
        if self.responses.chained:
            return
        await self.responses.repair_quietly(self.request.thread_id, self.request.correlation_id)
