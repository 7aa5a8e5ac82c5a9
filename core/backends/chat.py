"""The `chat` backend (the default): threads, messages, runs and run steps live in our storage;
each run streams Chat Completions from any OpenAI-compatible server.

A run loops model call → tools → model call until the model stops, with at most
``MAX_TOOL_ROUNDS`` tool rounds. Context is truncated by whole turns within
``CONTEXT_WINDOW_TOKENS − MAX_OUTPUT_TOKENS`` (the window is read from the server when unset).

What other servers need (llama.cpp, vLLM, Ollama, LiteLLM): ``tool_choice: "auto"`` whenever
tools are offered; the output limit in the parameter the server knows; a round whose stream
comes back empty is asked again once without streaming (a server that can't stream tool calls
is remembered, and its rounds with tools are not streamed after that); a stream that ends
without a finish reason is a failure; a turn too long for the server is left out of later
contexts (:mod:`core.context`) and the user is told; no usage reported means estimated usage.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

import openai
from openai import AsyncOpenAI

from core.backends.base import (
    CONTEXT_FULL,
    CUT_SHORT,
    TOO_LONG,
    RunRequest,
    new_id,
    post_streaming,
)
from core.backends.chat_stream import CompletionAccumulator, chunks_from_completion
from core.backends.chat_window import (
    DEFAULT_CONTEXT_WINDOW,
    is_openai,
    other_output_param,
    output_tokens_param,
    read_context_window,
)
from core.backends.server_errors import is_context_length_error, rejects_param
from core.backends.tool_loop import BackendRun, RoundFailed, run_tool_loop
from core.context import NOTE_ROLE, TOO_LONG_NOTE, build_context, crash_results, stale_answers
from core.events import FinishStatus, RunEvent, TextDelta, ToolCall, ToolOutput, Usage
from core.settings import Settings, check_context_window
from core.tokens import Calibrator, estimate_text, estimate_tools
from storage.base import Storage
from storage.records import RunRecord, StoredMessage

log = logging.getLogger(__name__)

SAFETY_MARGIN_TOKENS = 256


_MAX_CONTEXT = re.compile(r"maximum context length is (\d+)")
_RESULTED = re.compile(r"resulted in (\d+) tokens|\((\d+) in the messages")


class TooLong(Exception):
    """The newest turn alone is more than the server's context can take."""


@dataclass(slots=True)
class RoundInfo:
    """How one model call went: the prompt's estimated tokens and whether it streamed."""

    streamed: bool
    estimated: int = 0


def shrunk_budget(error_text: str, estimated: int, max_output: int) -> int:
    """A history budget (in our estimate's units) after a context-length error: from the limit
    and count the server reported when it says them, else half of what we sent."""
    limit, used = _MAX_CONTEXT.search(error_text), _RESULTED.search(error_text)
    if limit and used and estimated > 0:
        server_limit = int(limit.group(1))
        ratio = max(0.25, int(used.group(1) or used.group(2)) / estimated)
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
        self.window = settings.context_window_tokens or DEFAULT_CONTEXT_WINDOW
        self.output_param = output_tokens_param(settings.output_tokens_param, self._base_url)
        self.streams_tool_calls = True
        """False once the server answered a streamed round with tools with an empty stream
        and the same round without streaming worked (llama-cpp-python)."""

    @property
    def _base_url(self) -> str:
        return str(self.client.base_url)

    async def start(self) -> None:
        """Check the context window against MAX_OUTPUT_TOKENS; read it from the server when
        CONTEXT_WINDOW_TOKENS is unset. Raises SettingsProblem when there is no room."""
        settings = self.settings
        if settings.context_window_tokens is not None:
            check_context_window(settings.context_window_tokens, settings.max_output_tokens)
            return
        source = ""
        if not is_openai(self._base_url):
            model = settings.assistant_model
            self.window, source = await read_context_window(self.client, self._base_url, model)
        if source:
            log.info("context window %d tokens (read from %s)", self.window, source)
        else:
            log.info(
                "the server reports no context window; assuming %d tokens "
                "(set CONTEXT_WINDOW_TOKENS to change it)",
                self.window,
            )
        check_context_window(self.window, settings.max_output_tokens, source or None)

    async def close(self) -> None:
        await self.client.close()

    async def new_thread(self) -> str:
        thread_id = new_id("thread")
        await self.storage.create_thread(thread_id)
        return thread_id

    async def recover(self, run: RunRecord) -> bool:
        """Calls the crash left unanswered get their results (an unknown outcome for those
        that were running, see :func:`core.context.crash_results`)."""
        running = {c.call_id for c in await self.storage.tool_calls(run.run_id) if not c.finished}
        tail = await self.storage.list_messages(run.thread_id, since_tokens=1)
        await self.storage.add_messages(run.thread_id, crash_results(tail, running))
        await self.storage.mark_interrupted(run.run_id)
        return True  # the user message is stored before the run record

    def run(self, request: RunRequest) -> AsyncIterator[RunEvent]:
        return run_tool_loop(_ChatRun(self, request), self.settings.max_tool_rounds)

    async def completion(
        self, request: RunRequest, history: list[StoredMessage], info: RoundInfo
    ) -> AsyncGenerator[dict[str, Any], None]:
        """The chunks of one model call over the newest history that fits.

        On a context-length error the budget shrinks once and the call is retried; a second
        one raises :class:`TooLong`. An empty stream (no chunk at all) raises TooLong when the
        prompt is larger than the window, else the call is made once more without streaming
        (``info.streamed`` turns False)."""
        instructions = self.settings.assistant_instructions
        budget = self._history_budget(request)
        messages, info.estimated = build_context(instructions, history, max(budget, 64))
        shrunk = False
        while True:
            try:
                reply = await self._send(request, messages, info.streamed)
            except openai.BadRequestError as exc:
                if not is_context_length_error(exc):
                    raise
                if shrunk:
                    raise TooLong from exc
                shrunk = True
                max_output = self.settings.max_output_tokens
                budget = shrunk_budget(str(exc), info.estimated, max_output)
                self.learned_budget = budget
                log.info("context too long for the server; budget now %d", budget)
                messages, info.estimated = build_context(instructions, history, max(budget, 64))
                continue
            if not info.streamed:
                for chunk in chunks_from_completion(reply):
                    yield chunk
                return
            seen = False
            async with reply:
                async for chunk in reply:
                    if isinstance(chunk, dict):
                        seen = True
                        yield chunk
            if seen:
                return
            if self._over_window(info.estimated):
                raise TooLong
            log.info("the server sent an empty stream; asking once more without streaming")
            info.streamed = False

    def _over_window(self, estimated: int) -> bool:
        prompt = self.calibrator.scale(estimated)
        return prompt + self.settings.max_output_tokens > self.window

    def history_reach(self, request: RunRequest) -> int:
        """How much history to read from storage (``since_tokens``): the budget's worth of
        whole turns, with room to spare (stored sizes are a lower bound of the estimate)."""
        return 2 * max(self._history_budget(request), 64)

    def _history_budget(self, request: RunRequest) -> int:
        budget = (
            self.window
            - self.settings.max_output_tokens
            - estimate_tools(request.tools)
            - SAFETY_MARGIN_TOKENS
        )
        budget = int(budget / max(1.0, self.calibrator.ratio))
        if self.learned_budget is not None:
            budget = min(budget, self.learned_budget)
        return budget

    async def _send(self, request: RunRequest, messages: list[dict[str, Any]], stream: bool) -> Any:
        """One request, streamed or not. A 400 rejecting the output-limit parameter switches
        to the other one for good (OUTPUT_TOKENS_PARAM=auto only) and retries once."""
        params = self._params(request, messages, stream)
        try:
            return await self._post(params, stream)
        except openai.BadRequestError as exc:
            param = self.output_param
            if self.settings.output_tokens_param != "auto" or not rejects_param(exc, param):
                raise
            self.output_param = other_output_param(param)
            log.info("the server rejects %s; sending %s from now on", param, self.output_param)
        return await self._post(self._params(request, messages, stream), stream)

    async def _post(self, params: dict[str, Any], stream: bool) -> Any:
        if stream:
            return await post_streaming(self.client, "/chat/completions", params)
        return await self.client.post("/chat/completions", body=params, cast_to=object)

    def _params(
        self, request: RunRequest, messages: list[dict[str, Any]], stream: bool
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.settings.assistant_model,
            "messages": messages,
            self.output_param: self.settings.max_output_tokens,
        }
        if stream:
            params["stream"] = True
            params["stream_options"] = {"include_usage": True}
        if request.tools:
            params["tools"] = request.tools
            params["tool_choice"] = request.tool_choice
        if self.settings.assistant_temperature is not None:
            params["temperature"] = self.settings.assistant_temperature
        return params


class _ChatRun(BackendRun):
    """A run whose history lives in our storage: each round is one model call, streamed
    unless the server can't stream it."""

    can_answer_without_tools = True

    def __init__(self, chat: ChatBackend, request: RunRequest) -> None:
        super().__init__(chat.storage, chat.name, request)
        self.chat = chat
        self.turn_id = request.resume_turn or self.run_id
        self.acc = CompletionAccumulator()
        self.step_id = ""
        self.streaming = False
        self.rounds = 0
        self.too_long = False

    @property
    def text_shown(self) -> bool:
        return bool(self.acc.content)  # each message streams on its own

    async def begin(self) -> None:
        text = self.request.user_text
        thread_id = self.request.thread_id
        if self.request.resume_turn is None:
            user = StoredMessage("user", text, turn_id=self.turn_id, tokens=estimate_text(text))
            await self.storage.add_messages(thread_id, [user])
        else:  # the crashed run's answer, if it stored one, gives way to this one
            tail = await self.storage.list_messages(thread_id, since_tokens=1)
            await self.storage.delete_messages(thread_id, stale_answers(tail, self.turn_id))
        await super().begin()

    async def stream(self) -> AsyncGenerator[RunEvent, None]:
        self.acc = acc = CompletionAccumulator()
        self.step_id = new_id("step")
        self.rounds += 1
        await self.storage.add_run_step(self.run_id, self.step_id, "model_call", "in_progress", {})
        self.streaming = True
        reach = self.chat.history_reach(self.request)
        history = await self.storage.list_messages(self.request.thread_id, since_tokens=reach)
        tools = bool(self.request.tools)
        info = RoundInfo(streamed=not tools or self.chat.streams_tool_calls)
        asked_streamed = info.streamed
        async for event in self._read(history, info):
            yield event
        if self.too_long:
            return
        acc = self.acc
        if tools and info.streamed and acc.empty() and self.request.tool_choice == "auto":
            # some servers (llama-cpp-python) answer a streamed round with tools with an
            # empty message: they can't stream what the model chose; ask once unstreamed
            log.info("a streamed round with tools came back empty; asking once more unstreamed")
            info.streamed = False
            async for event in self._read(history, info):
                yield event
            if self.too_long:
                return
            acc = self.acc
        if tools and acc.empty() and self.request.tool_choice == "auto":
            # a model that can't handle the tools (a small local one) still answers in text
            log.info("an empty reply with tools offered; asking once more without tools")
            self.request.tool_choice = "none"
            info.streamed = True
            async for event in self._read(history, info):
                yield event
            if self.too_long:
                return
            acc = self.acc
        if acc.finish_reason is None:
            raise RoundFailed("the reply ended without a finish reason")
        if tools and asked_streamed and not info.streamed and self.chat.streams_tool_calls:
            self.chat.streams_tool_calls = False
            log.info("the server can't stream tool calls; rounds with tools are not streamed")
        if acc.usage:
            self.chat.calibrator.observe(info.estimated, acc.usage.prompt_tokens)
        else:
            acc.usage = Usage(
                self.chat.calibrator.scale(info.estimated),
                acc.estimated_completion_tokens(),
                estimated=True,
            )

    async def _read(
        self, history: list[StoredMessage], info: RoundInfo
    ) -> AsyncGenerator[RunEvent, None]:
        """One model call into a fresh accumulator, its text as deltas."""
        self.acc = acc = CompletionAccumulator()
        try:
            async for chunk in self.chat.completion(self.request, history, info):
                delta = acc.add(chunk)
                if delta:
                    yield TextDelta(delta, acc.content, len(acc.content))
        except TooLong:
            self.too_long = True

    async def end_round(self) -> list[ToolCall]:
        self.streaming = False
        acc, thread_id = self.acc, self.request.thread_id
        if self.too_long:
            note = StoredMessage(NOTE_ROLE, TOO_LONG_NOTE, turn_id=self.turn_id)
            await self.storage.add_messages(thread_id, [note])
            await self.storage.update_run_step(self.step_id, "failed", {"error": "too_long"})
            return []
        if acc.usage:
            self.usage.add(acc.usage)
        if acc.calls and acc.finish_reason in ("tool_calls", "stop"):
            calls = acc.assistant_tool_calls()
            message = StoredMessage("assistant", acc.text, turn_id=self.turn_id, tool_calls=calls)
            await self.storage.add_messages(thread_id, [message])
            await self.storage.update_run_step(self.step_id, "completed", {"tool_calls": calls})
            return acc.tool_calls()
        if acc.text:  # an empty reply leaves no empty message in the history
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
        if self.too_long:
            return "failed", TOO_LONG if self.rounds == 1 else CONTEXT_FULL
        if self.acc.finish_reason == "length":
            return "incomplete", CUT_SHORT
        return "completed", None

    async def clean_up(self) -> None:
        if self.streaming and self.acc.text:
            # what the user saw stays in the history, without half-made tool calls
            message = StoredMessage("assistant", self.acc.text, turn_id=self.turn_id)
            await self.storage.add_messages(self.request.thread_id, [message])
