"""The `assistants` backend: a server that still speaks Assistants v2, through the official
SDK's ``beta.threads.runs.stream`` and ``submit_tool_outputs_stream``.

The SDK helper swallows some error events, so after every stream a run that is not terminal
is retrieved and handled. A run is never left in ``requires_action``: outputs are always
submitted, and a run we give up on is cancelled.
"""

from __future__ import annotations

import asyncio
import logging
import re
import warnings
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import openai
from openai import AsyncOpenAI
from openai.lib.streaming import AsyncAssistantEventHandler

from core.backends.api_support import is_missing_api, no_api, server_of, startup_problem
from core.backends.base import CUT_SHORT, TRANSIENT_ERRORS, UNAVAILABLE, RunRequest
from core.backends.tool_loop import BackendRun, run_tool_loop
from core.backends.tool_outputs import cut_off_instructions
from core.events import FinishStatus, RunEvent, TextDelta, ToolCall, ToolOutput, Usage
from core.settings import Settings, SettingsProblem
from storage.base import Storage
from storage.records import ACTIVE_RUN_STATUSES, RunRecord

log = logging.getLogger(__name__)

warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"core\.backends\.assistants")

TERMINAL = ("completed", "failed", "cancelled", "expired", "incomplete")
METADATA_KEY = "threadbridge"
_ACTIVE_RUN_RE = re.compile(r"active run (run_[A-Za-z0-9_-]+)")
POLL_TIMEOUT = 60.0

USER_ERRORS: dict[str, str] = {
    "failed": UNAVAILABLE,
    "expired": "The reply took too long and expired.",
    "cancelled": "The reply was cancelled.",
    "incomplete": CUT_SHORT,
}


class AssistantsBackend:
    name = "assistants"

    def __init__(self, client: AsyncOpenAI, storage: Storage, settings: Settings) -> None:
        self.client = client
        self.storage = storage
        self.settings = settings
        self.assistant_id: str = settings.assistant_id or ""

    @property
    def runs(self) -> Any:
        return self.client.beta.threads.runs

    # --- lifecycle --------------------------------------------------------------------
    async def start(self) -> None:
        """Find (or make) the assistant; a server without the Assistants API, or one that
        can't be reached, is one line (SettingsProblem), not a traceback."""
        try:
            if self.assistant_id:
                await self._check_assistant()
            else:
                self.assistant_id = await self._ensure_assistant()
        except TRANSIENT_ERRORS as exc:
            if isinstance(exc, openai.APIStatusError) and is_missing_api(exc, self.settings):
                raise self._no_api(exc) from exc
            raise startup_problem(exc, self.settings, "setting up the assistant") from exc

    def _no_api(self, exc: openai.APIStatusError) -> SettingsProblem:
        request = f"{exc.request.method} {exc.request.url.path}"
        advice = "use ASSISTANT_BACKEND=chat (any server) or responses"
        return SettingsProblem(
            "ASSISTANT_BACKEND", no_api(self.settings, "Assistants", request, exc, advice)
        )

    async def _check_assistant(self) -> None:
        """ASSISTANT_ID must name an assistant on the server."""
        try:
            await self.client.beta.assistants.retrieve(self.assistant_id)
        except openai.NotFoundError as exc:
            await self.client.beta.assistants.list(limit=1)  # 404 too: no Assistants API
            server = server_of(self.settings)
            raise SettingsProblem(
                "ASSISTANT_ID", f"the model server at {server} has no assistant {self.assistant_id}"
            ) from exc

    async def close(self) -> None:
        await self.client.close()

    def _desired(self) -> dict[str, Any]:
        s = self.settings
        desired: dict[str, Any] = {
            "model": s.assistant_model,
            "name": s.assistant_name,
            "instructions": s.assistant_instructions,
            "metadata": {METADATA_KEY: s.assistant_name},
        }
        if s.assistant_temperature is not None:
            desired["temperature"] = s.assistant_temperature
        return desired

    async def _ensure_assistant(self) -> str:
        """Create the assistant, or update the one we made before: idempotent by metadata."""
        desired = self._desired()
        found = None
        async for assistant in self.client.beta.assistants.list(limit=100, order="desc"):
            if (assistant.metadata or {}).get(METADATA_KEY) == self.settings.assistant_name:
                found = assistant
                break
        if found is None:
            created = await self.client.beta.assistants.create(**desired)
            log.info("created assistant %s", created.id)
            return str(created.id)
        current: dict[str, Any] = {
            "model": found.model,
            "name": found.name,
            "instructions": found.instructions,
            "metadata": dict(found.metadata or {}),
        }
        if "temperature" in desired:
            current["temperature"] = found.temperature
        if current != desired:
            await self.client.beta.assistants.update(found.id, **desired)
            log.info("updated assistant %s", found.id)
        return str(found.id)

    async def new_thread(self) -> str:
        thread = await self.client.beta.threads.create()
        return str(thread.id)

    async def recover(self, run: RunRecord) -> bool:
        """Cancel the server run; if the crash came before we learned its id, cancel every
        active run on the thread. True if the run (and so its user message) reached the
        server."""
        reached = bool(run.remote_run_id)
        if run.remote_run_id:
            await self.cancel_quietly(run.thread_id, run.remote_run_id)
        else:
            async for remote in self.runs.list(run.thread_id, limit=20, order="desc"):
                if remote.status in ACTIVE_RUN_STATUSES and remote.status != "cancelling":
                    reached = True
                    await self.cancel_quietly(run.thread_id, remote.id)
        await self.storage.mark_interrupted(run.run_id)
        return reached

    async def cancel_quietly(self, thread_id: str, remote_run_id: str) -> None:
        try:
            await self.runs.cancel(remote_run_id, thread_id=thread_id)
        except TRANSIENT_ERRORS as exc:
            log.info("cancel of %s failed: %s", remote_run_id, type(exc).__name__)

    # --- runs -------------------------------------------------------------------------
    def run(self, request: RunRequest) -> AsyncIterator[RunEvent]:
        return run_tool_loop(_AssistantsRun(self, request), self.settings.max_tool_rounds)

    def open_run(self, request: RunRequest) -> _RetryingManager:
        """The run stream manager; an active run left on the thread is cancelled first."""
        params: dict[str, Any] = {
            "thread_id": request.thread_id,
            "assistant_id": self.assistant_id,
            "event_handler": _Handler(),
            "max_completion_tokens": self.settings.max_output_tokens,
        }
        if request.resume_turn is None:  # else the message reached the thread before the crash
            params["additional_messages"] = [{"role": "user", "content": request.user_text}]
        if request.cut_off:  # the cancelled run's tool calls got no output: say what happened
            params["additional_instructions"] = cut_off_instructions(request.cut_off)
        if request.tools:
            params["tools"] = request.tools
        return _RetryingManager(self, params)


class _AssistantsRun(BackendRun):
    """A run that lives on the server: each round is one event stream of the remote run."""

    first_status = "queued"

    def __init__(self, backend: AssistantsBackend, request: RunRequest) -> None:
        super().__init__(backend.storage, backend.name, request)
        self.assistants = backend
        self.outputs: list[ToolOutput] | None = None
        self.remote: Any = None
        self.remote_id: str | None = None

    def _manager(self) -> Any:
        """The first round opens the run; the next ones submit the last round's outputs."""
        if self.outputs is None:
            return self.assistants.open_run(self.request)
        return self.assistants.runs.submit_tool_outputs_stream(
            thread_id=self.request.thread_id,
            run_id=self.remote.id,
            tool_outputs=[
                {"tool_call_id": o.tool_call_id, "output": o.output} for o in self.outputs
            ],
            event_handler=_Handler(),
        )

    async def stream(self) -> AsyncGenerator[RunEvent, None]:
        parts = self.parts
        async with self._manager() as stream:
            async for event in stream:
                if event.event == "thread.message.delta":
                    for content in event.data.delta.content or ():
                        text = getattr(getattr(content, "text", None), "value", None)
                        if content.type == "text" and text:
                            parts.append(text)
                            yield TextDelta(text, parts, len(parts))
                else:
                    await self._book(event.event, event.data)
        self.remote = stream.current_run

    async def _book(self, kind: str, data: Any) -> None:
        """Record the remote run's id and its steps."""
        if kind == "thread.run.created":
            self.remote_id = data.id
            await self.storage.update_run(self.run_id, remote_run_id=data.id, status="in_progress")
        elif kind == "thread.run.step.created":
            await self.storage.add_run_step(
                self.run_id, data.id, data.step_details.type, data.status, {}
            )
        elif kind in ("thread.run.step.completed", "thread.run.step.failed"):
            details = data.step_details.model_dump(mode="json")
            await self.storage.update_run_step(data.id, data.status, details)

    async def end_round(self) -> list[ToolCall]:
        if self.remote is None or self.remote.status != "requires_action":
            return []
        return _tool_calls(self.remote)

    async def submit(self, outputs: list[ToolOutput]) -> None:
        self.outputs = outputs  # sent when the next round opens its stream

    async def answer(self, calls: list[ToolCall], output: str) -> None:
        """Outputs can't close calls we won't run here: the remote run is cancelled instead."""
        await self.assistants.cancel_quietly(self.request.thread_id, self.remote.id)

    async def settle(self) -> tuple[FinishStatus, str | None]:
        """Make sure the run is terminal: retrieve, poll, and cancel as a last resort."""
        remote, thread_id = self.remote, self.request.thread_id
        if remote is not None and remote.status not in TERMINAL:
            try:
                async with asyncio.timeout(POLL_TIMEOUT):
                    remote = await self.assistants.runs.poll(
                        remote.id, thread_id, poll_interval_ms=200
                    )
            except TimeoutError:
                await self.assistants.cancel_quietly(thread_id, remote.id)
            if remote.status == "requires_action":
                await self.assistants.cancel_quietly(thread_id, remote.id)
        status, error = _outcome(remote)
        if remote is not None and remote.usage is not None:
            self.usage = Usage(remote.usage.prompt_tokens, remote.usage.completion_tokens)
        if remote is not None and getattr(remote, "last_error", None) is not None:
            cid = self.request.correlation_id
            code = remote.last_error.code
            log.warning("assistants run %s ended %s [%s]: %s", self.run_id, status, cid, code)
        return status, error

    async def clean_up(self) -> None:
        if self.remote_id:
            await self.assistants.cancel_quietly(self.request.thread_id, self.remote_id)

    async def abandon(self) -> None:
        if self.remote_id:
            cancel = self.assistants.cancel_quietly(self.request.thread_id, self.remote_id)
            await asyncio.shield(cancel)


class _RetryingManager:
    """Opens ``runs.stream``; if the thread still has an active run, cancels it and retries once."""

    def __init__(self, backend: AssistantsBackend, params: dict[str, Any]) -> None:
        self.backend = backend
        self.params = params
        self._inner: Any = None

    async def __aenter__(self) -> Any:
        runs = self.backend.runs
        try:
            self._inner = runs.stream(**self.params)
            return await self._inner.__aenter__()
        except openai.BadRequestError as exc:
            match = _ACTIVE_RUN_RE.search(str(exc))
            if not match:
                raise
            stale = match.group(1)
            thread_id = self.params["thread_id"]
            log.info("cancelling stale run %s before a new one", stale)
            await self.backend.cancel_quietly(thread_id, stale)
            async with asyncio.timeout(POLL_TIMEOUT):
                await runs.poll(stale, thread_id, poll_interval_ms=200)
            self.params["event_handler"] = _Handler()
            self._inner = runs.stream(**self.params)
            return await self._inner.__aenter__()

    async def __aexit__(self, *exc: Any) -> Any:
        return await self._inner.__aexit__(*exc)


class _Handler(AsyncAssistantEventHandler):
    """One handler per stream (the SDK forbids reuse); events are read by iterating it."""


def _tool_calls(run: Any) -> list[ToolCall]:
    action = run.required_action
    if action is None or action.submit_tool_outputs is None:
        return []
    return [
        ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments or "")
        for c in action.submit_tool_outputs.tool_calls
    ]


def _outcome(remote: Any) -> tuple[FinishStatus, str | None]:
    if remote is None:
        return "failed", UNAVAILABLE
    status = remote.status
    if status == "completed":
        return "completed", None
    if status in USER_ERRORS:
        return status, USER_ERRORS[status]
    return "failed", UNAVAILABLE
