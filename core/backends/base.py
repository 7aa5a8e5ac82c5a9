"""The backend protocol: create threads, stream a run as normalised events, recover runs.

Backends never raise out of ``run()`` for model or transport faults: they end with a
``Finished`` event whose ``error`` is safe to show a user. Tool calls are yielded as
``ToolCallsRequired``; the consumer fills ``outputs`` before iterating further.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx2
import openai
from openai import AsyncOpenAI, AsyncStream

from core.events import Finished, RunEvent
from storage.base import Storage
from storage.records import RunRecord, RunStatus

log = logging.getLogger(__name__)

UNAVAILABLE = "The assistant is unavailable right now."
INTERRUPTED = "The reply was interrupted."
CUT_SHORT = "The reply hit the length limit and was cut short."
STOPPED = "The reply was stopped."
TOO_LONG = "That message is too long for this model. Please send a shorter one."
CONTEXT_FULL = "This reply needed more room than this model's context has; it was left out."


def round_limit_error(rounds: int) -> str:
    return f"I stopped after {rounds} rounds of tool calls."


@dataclass(slots=True)
class RunRequest:
    thread_id: str
    conversation: str
    user_text: str
    user_id: str
    tools: list[dict[str, Any]] = field(default_factory=list)
    correlation_id: str = ""
    inbox_id: int | None = None
    resume_turn: str | None = None
    """Set when answering a message whose run a crash interrupted: the id of that run. The
    user message is already in the thread, so it is not added again."""
    stop: asyncio.Event | None = None
    """Set it to stop the run: it ends ``cancelled`` (see :mod:`core.backends.stop`)."""
    cut_off: list[str] = field(default_factory=list)
    """Tools a crash cut off while they ran, when this run answers that message again."""
    tool_choice: Literal["auto", "none"] = "auto"
    """``none`` for a last round that must answer in text (the tool loop sets it)."""


class Backend(Protocol):
    name: str

    async def start(self) -> None:
        """Prepare the backend (e.g. create or update the assistant)."""

    async def new_thread(self) -> str:
        """Create an empty assistant thread and return its id."""

    def run(self, request: RunRequest) -> AsyncIterator[RunEvent]:
        """Store the user message, then stream one run to its end (see
        :func:`core.backends.tool_loop.run_tool_loop`)."""

    async def recover(self, run: RunRecord) -> bool:
        """Close a run left active by a crash (cancel it on the server if it lives there).
        Return True if the run's user message is already in the thread."""

    async def close(self) -> None: ...


async def start_run(
    storage: Storage,
    backend: str,
    request: RunRequest,
    status: RunStatus,
    run_id: str | None = None,
) -> RunRecord:
    """Record a new run of ``request`` (with its inbox message, for crash recovery)."""
    record = RunRecord(
        run_id or new_id("run"),
        request.thread_id,
        backend,
        request.conversation,
        status,
        inbox_id=request.inbox_id,
    )
    await storage.create_run(record)
    return record


async def end_run(storage: Storage, run_id: str, finished: Finished) -> Finished:
    """Record a run's outcome and token usage; return the event that ends the run. Estimated
    usage (the server reported none) is marked ``extra["usage_estimated"]``."""
    await storage.update_run(
        run_id,
        status=finished.status,
        error=finished.error,
        prompt_tokens=finished.usage.prompt_tokens,
        completion_tokens=finished.usage.completion_tokens,
    )
    if finished.usage.estimated:
        record = await storage.get_run(run_id)
        extra = record.extra if record is not None else {}
        await storage.update_run(run_id, extra={**extra, "usage_estimated": True})
    return finished


def describe_error(exc: BaseException) -> str:
    """A short log description of a transport or API error: its type, HTTP status and error
    code, never its text (some servers echo the request, i.e. message bodies, in it; the text
    goes to the DEBUG log only)."""
    status = getattr(exc, "status_code", None)
    code = getattr(exc, "code", None)
    log.debug("error text: %s", str(exc)[:1000])
    parts = [type(exc).__name__]
    if status:
        parts.append(str(status))
    if isinstance(code, str) and code:
        parts.append(f"code={code[:64]}")
    return " ".join(parts)


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (openai.APIError, httpx2.HTTPError)
"""What a run can fail with mid-stream: openai 3.x lets raw httpx2 errors through sometimes."""


async def post_streaming(
    client: AsyncOpenAI, path: str, body: dict[str, Any]
) -> AsyncStream[object]:
    """A streamed request through the SDK's generic ``post``: its retries, error mapping and SSE
    decoding, but events stay plain dicts (typed event objects cost ~160 µs each to build)."""
    stream: AsyncStream[object] = await client.post(
        path, body=body, cast_to=object, stream=True, stream_cls=AsyncStream[object]
    )
    return stream
