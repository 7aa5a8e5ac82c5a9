"""The `chat` backend (the default): threads, messages, runs and run steps live in our storage;
each run streams Chat Completions from any OpenAI-compatible server.

A run loops model call → tools → model call until the model stops, with at most
``MAX_TOOL_ROUNDS`` tool rounds. Context is truncated by whole turns within
``CONTEXT_WINDOW_TOKENS − MAX_OUTPUT_TOKENS``.
"""

from __future__ import annotations

import logging
import re
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
    new_id,
    round_limit_error,
    start_run,
)
from core.backends.chat_stream import CompletionAccumulator
from core.context import build_context
from core.events import (
    Finished,
    FinishStatus,
    Progress,
    RunEvent,
    TextDelta,
    ToolCallsRequired,
    Usage,
)
from core.settings import Settings
from core.tokens import Calibrator, estimate_text, estimate_tools
from storage.base import Storage
from storage.records import RunRecord, StoredMessage

log = logging.getLogger(__name__)

SAFETY_MARGIN_TOKENS = 256


def is_context_length_error(exc: BaseException) -> bool:
    if not isinstance(exc, openai.BadRequestError):
        return False
    code = getattr(exc, "code", None)
    text = str(exc).lower()
    return code == "context_length_exceeded" or "context length" in text or "context_length" in text


_MAX_CONTEXT = re.compile(r"maximum context length is (\d+)")
_RESULTED = re.compile(r"resulted in (\d+) tokens")


def shrunk_budget(error_text: str, estimated: int, max_output: int) -> int:
    """A history budget (in our estimate's units) after a context-length error: from the limit
    and count the server reported when it says them, else half of what we sent."""
    limit, used = _MAX_CONTEXT.search(error_text), _RESULTED.search(error_text)
    if limit and used and estimated > 0:
        server_limit = int(limit.group(1))
        ratio = max(0.25, int(used.group(1)) / estimated)
        reserve = min(max_output, server_limit // 4)
        return max(64, int((server_limit - reserve) / ratio * 0.9))
    return max(64, estimated // 2)


class ChatBackend:
    name = "chat"

    def __init__(self, client: AsyncOpenAI, storage: Storage, settings: Settings) -> None:
        self.client = client
        self.storage = storage
        self.settings = settings
        self.calibrator = Calibrator()
        self.learned_budget: int | None = None
        """A tighter budget learned from the server's context-length errors."""

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        await self.client.close()

    async def new_thread(self) -> str:
        thread_id = new_id("thread")
        await self.storage.create_thread(thread_id)
        return thread_id

    async def recover(self, run: RunRecord) -> bool:
        await self.storage.mark_interrupted(run.run_id)
        return True  # the user message is stored before the run record

    async def run(self, request: RunRequest) -> AsyncIterator[RunEvent]:
        run_id = new_id("run")
        turn_id = request.resume_turn or run_id
        if request.resume_turn is None:
            user = StoredMessage(
                "user", request.user_text, turn_id=turn_id, tokens=estimate_text(request.user_text)
            )
            await self.storage.add_messages(request.thread_id, [user])
        await start_run(self.storage, self.name, request, "in_progress", run_id)
        usage = Usage()
        status: FinishStatus = "failed"
        error: str | None = UNAVAILABLE
        acc = CompletionAccumulator()
        ok = False
        try:
            rounds = 0
            while True:
                acc = CompletionAccumulator()
                step_id = new_id("step")
                await self.storage.add_run_step(run_id, step_id, "model_call", "in_progress", {})
                ok = False
                async for event in self._complete(request, acc):
                    yield event
                ok = True
                if acc.usage:
                    usage.add(acc.usage)
                if acc.calls and acc.finish_reason in ("tool_calls", "stop", None):
                    calls = acc.tool_calls()
                    assistant = StoredMessage(
                        "assistant",
                        acc.text or None,
                        turn_id=turn_id,
                        tool_calls=acc.assistant_tool_calls(),
                    )
                    await self.storage.add_messages(request.thread_id, [assistant])
                    details = {"tool_calls": acc.assistant_tool_calls()}
                    await self.storage.update_run_step(step_id, "completed", details)
                    if rounds >= self.settings.max_tool_rounds:
                        await self._store_tool_results(
                            request.thread_id, turn_id, calls, "tool round limit reached"
                        )
                        status = "incomplete"
                        error = round_limit_error(rounds)
                        break
                    rounds += 1
                    await self.storage.update_run(run_id, status="requires_action")
                    required = ToolCallsRequired(calls)
                    yield required
                    outputs = {o.tool_call_id: o.output for o in required.outputs}
                    await self.storage.add_messages(
                        request.thread_id,
                        [
                            StoredMessage(
                                "tool",
                                outputs.get(c.id, '{"error": "no output"}'),
                                turn_id=turn_id,
                                tool_call_id=c.id,
                            )
                            for c in calls
                        ],
                    )
                    await self.storage.update_run(run_id, status="in_progress")
                    yield Progress("message_started")
                    continue
                await self.storage.add_messages(
                    request.thread_id,
                    [StoredMessage("assistant", acc.text, turn_id=turn_id)],
                )
                await self.storage.update_run_step(
                    step_id, "completed", {"text_chars": len(acc.text)}
                )
                if acc.finish_reason == "length":
                    status, error = (
                        "incomplete",
                        CUT_SHORT,
                    )
                else:
                    status, error = "completed", None
                break
        except TRANSIENT_ERRORS as exc:
            log.warning(
                "chat run %s failed [%s]: %s", run_id, request.correlation_id, describe_error(exc)
            )
            if not ok and acc.text:
                # what the user saw stays in the history, without half-made tool calls
                await self.storage.add_messages(
                    request.thread_id, [StoredMessage("assistant", acc.text, turn_id=turn_id)]
                )
            status, error = "failed", INTERRUPTED if acc.text else UNAVAILABLE
        except BaseException:
            await self.storage.update_run(run_id, status="cancelled", error="cancelled")
            raise
        yield await end_run(self.storage, run_id, Finished(status, usage, error))

    async def _complete(
        self, request: RunRequest, acc: CompletionAccumulator
    ) -> AsyncIterator[RunEvent]:
        """One streamed model call; on a context-length error, shrink once and retry."""
        history = await self.storage.list_messages(request.thread_id)
        budget = (
            self.settings.context_window_tokens
            - self.settings.max_output_tokens
            - estimate_tools(request.tools)
            - SAFETY_MARGIN_TOKENS
        )
        budget = int(budget / max(1.0, self.calibrator.ratio))
        if self.learned_budget is not None:
            budget = min(budget, self.learned_budget)
        for attempt in range(2):
            messages, estimated = build_context(
                self.settings.assistant_instructions, history, max(budget, 64)
            )
            try:
                # The SDK's generic request: its retries, errors and SSE decoding, but chunks
                # stay plain dicts (typed chunk objects cost ~160 µs each to construct).
                stream = await self.client.post(
                    "/chat/completions",
                    body=self._params(request, messages),
                    cast_to=object,
                    stream=True,
                    stream_cls=AsyncStream[object],
                )
            except openai.BadRequestError as exc:
                if attempt == 0 and is_context_length_error(exc):
                    budget = shrunk_budget(str(exc), estimated, self.settings.max_output_tokens)
                    self.learned_budget = budget
                    log.info("context too long for the server; budget now %d", budget)
                    continue
                raise
            async with stream:
                async for chunk in stream:
                    if not isinstance(chunk, dict):
                        continue
                    delta = acc.add(chunk)
                    if delta:
                        yield TextDelta(delta, acc.content, len(acc.content))
            if acc.usage:
                self.calibrator.observe(estimated, acc.usage.prompt_tokens)
            return

    def _params(self, request: RunRequest, messages: list[dict[str, Any]]) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.settings.assistant_model,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_completion_tokens": self.settings.max_output_tokens,
        }
        if request.tools:
            params["tools"] = request.tools
        if self.settings.assistant_temperature is not None:
            params["temperature"] = self.settings.assistant_temperature
        return params

    async def _store_tool_results(
        self, thread_id: str, turn_id: str, calls: list[Any], reason: str
    ) -> None:
        await self.storage.add_messages(
            thread_id,
            [
                StoredMessage(
                    "tool", f'{{"error": "{reason}"}}', turn_id=turn_id, tool_call_id=c.id
                )
                for c in calls
            ],
        )
