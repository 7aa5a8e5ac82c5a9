"""The `chat` backend (the default): threads, messages, runs and run steps live in our storage;
each run streams Chat Completions from any OpenAI-compatible server.

A run loops model call → tools → model call until the model stops, with at most
``MAX_TOOL_ROUNDS`` tool rounds. Context is truncated by whole turns within
``CONTEXT_WINDOW_TOKENS − MAX_OUTPUT_TOKENS``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import openai
from openai import AsyncOpenAI, AsyncStream

from core.backends.base import CUT_SHORT, RunRequest, new_id, post_streaming
from core.backends.chat_stream import CompletionAccumulator
from core.backends.tool_loop import BackendRun, run_tool_loop
from core.context import build_context
from core.events import FinishStatus, RunEvent, TextDelta, ToolCall, ToolOutput
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

    def run(self, request: RunRequest) -> AsyncIterator[RunEvent]:
        return run_tool_loop(_ChatRun(self, request), self.settings.max_tool_rounds)

    async def open_completion(
        self, request: RunRequest, history: list[StoredMessage]
    ) -> tuple[AsyncStream[object], int]:
        """Start one streamed model call over the newest history that fits; on a context-length
        error, shrink the budget once and retry. Also returns the prompt's estimated tokens."""
        instructions = self.settings.assistant_instructions
        budget = self._history_budget(request)
        messages, estimated = build_context(instructions, history, max(budget, 64))
        try:
            return await self._post(request, messages), estimated
        except openai.BadRequestError as exc:
            if not is_context_length_error(exc):
                raise
            budget = shrunk_budget(str(exc), estimated, self.settings.max_output_tokens)
            self.learned_budget = budget
            log.info("context too long for the server; budget now %d", budget)
        messages, estimated = build_context(instructions, history, max(budget, 64))
        return await self._post(request, messages), estimated

    def _history_budget(self, request: RunRequest) -> int:
        budget = (
            self.settings.context_window_tokens
            - self.settings.max_output_tokens
            - estimate_tools(request.tools)
            - SAFETY_MARGIN_TOKENS
        )
        budget = int(budget / max(1.0, self.calibrator.ratio))
        if self.learned_budget is not None:
            budget = min(budget, self.learned_budget)
        return budget

    async def _post(
        self, request: RunRequest, messages: list[dict[str, Any]]
    ) -> AsyncStream[object]:
        return await post_streaming(
            self.client, "/chat/completions", self._params(request, messages)
        )

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


class _ChatRun(BackendRun):
    """A run whose history lives in our storage: each round is one streamed completion."""

    def __init__(self, chat: ChatBackend, request: RunRequest) -> None:
        super().__init__(chat.storage, chat.name, request)
        self.chat = chat
        self.turn_id = request.resume_turn or self.run_id
        self.acc = CompletionAccumulator()
        self.step_id = ""
        self.streaming = False

    @property
    def text_shown(self) -> bool:
        return bool(self.acc.content)  # each message streams on its own

    async def begin(self) -> None:
        text = self.request.user_text
        if self.request.resume_turn is None:
            user = StoredMessage("user", text, turn_id=self.turn_id, tokens=estimate_text(text))
            await self.storage.add_messages(self.request.thread_id, [user])
        await super().begin()

    async def stream(self) -> AsyncGenerator[RunEvent, None]:
        self.acc = acc = CompletionAccumulator()
        self.step_id = new_id("step")
        await self.storage.add_run_step(self.run_id, self.step_id, "model_call", "in_progress", {})
        self.streaming = True
        history = await self.storage.list_messages(self.request.thread_id)
        stream, estimated = await self.chat.open_completion(self.request, history)
        async with stream:
            async for chunk in stream:
                if not isinstance(chunk, dict):
                    continue
                delta = acc.add(chunk)
                if delta:
                    yield TextDelta(delta, acc.content, len(acc.content))
        if acc.usage:
            self.chat.calibrator.observe(estimated, acc.usage.prompt_tokens)

    async def end_round(self) -> list[ToolCall]:
        self.streaming = False
        acc, thread_id = self.acc, self.request.thread_id
        if acc.usage:
            self.usage.add(acc.usage)
        if acc.calls and acc.finish_reason in ("tool_calls", "stop", None):
            calls = acc.assistant_tool_calls()
            message = StoredMessage(
                "assistant", acc.text or None, turn_id=self.turn_id, tool_calls=calls
            )
            await self.storage.add_messages(thread_id, [message])
            await self.storage.update_run_step(self.step_id, "completed", {"tool_calls": calls})
            return acc.tool_calls()
        message = StoredMessage("assistant", acc.text, turn_id=self.turn_id)
        await self.storage.add_messages(thread_id, [message])
        await self.storage.update_run_step(self.step_id, "completed", {"text_chars": len(acc.text)})
        return []

    async def submit(self, outputs: list[ToolOutput]) -> None:
        results = [
            StoredMessage("tool", o.output, turn_id=self.turn_id, tool_call_id=o.tool_call_id)
            for o in outputs
        ]
        await self.storage.add_messages(self.request.thread_id, results)

    async def answer(self, calls: list[ToolCall], output: str) -> None:
        await self.submit([ToolOutput(c.id, output) for c in calls])

    async def settle(self) -> tuple[FinishStatus, str | None]:
        if self.acc.finish_reason == "length":
            return "incomplete", CUT_SHORT
        return "completed", None

    async def clean_up(self) -> None:
        if self.streaming and self.acc.text:
            # what the user saw stays in the history, without half-made tool calls
            message = StoredMessage("assistant", self.acc.text, turn_id=self.turn_id)
            await self.storage.add_messages(self.request.thread_id, [message])
