"""The tool loop every backend runs: model round → tools → model round, until the model stops.

The loop owns what is the same whatever protocol a backend speaks: the run record's status
through the rounds, the tool round limit, the outputs of calls that get none, the paragraph
break after a tool round, transient errors (the run ends ``failed``: interrupted if the user
saw text, else unavailable), a stop request (the run ends ``cancelled`` with every tool call
answered, see :mod:`core.backends.stop`), the task being cancelled (the run is recorded
``cancelled``, then the cancellation goes on), and the final ``Finished`` event.

A backend supplies one :class:`BackendRun` per run: the steps of its protocol.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator

from core.backends.base import (
    INTERRUPTED,
    STOPPED,
    TRANSIENT_ERRORS,
    UNAVAILABLE,
    RunRequest,
    describe_error,
    end_run,
    new_id,
    round_limit_error,
    start_run,
)
from core.backends.stop import StopGuard, Stopped
from core.backends.tool_outputs import (
    INTERRUPTED_OUTPUT,
    NO_OUTPUT,
    REPEATED_OUTPUT,
    ROUND_LIMIT_OUTPUT,
)
from core.events import (
    Finished,
    FinishStatus,
    Progress,
    RunEvent,
    ToolCall,
    ToolCallsRequired,
    ToolOutput,
    Usage,
)
from storage.base import Storage
from storage.records import RunStatus

log = logging.getLogger(__name__)


class RoundFailed(Exception):
    """The server ended a round as failed (no transport error): handled like a transient error."""


FAILURES: tuple[type[BaseException], ...] = (*TRANSIENT_ERRORS, RoundFailed)


class BackendRun(ABC):
    """One run of one request on one backend: what the tool loop asks of the protocol."""

    first_status: RunStatus = "in_progress"

    def __init__(self, storage: Storage, backend: str, request: RunRequest) -> None:
        self.storage = storage
        self.backend = backend
        self.request = request
        self.run_id = new_id("run")
        self.usage = Usage()
        self.parts: list[str] = []
        """The run's text so far, if the backend streams it here (a paragraph break is added
        after each tool round)."""

    @property
    def text_shown(self) -> bool:
        """Whether a failure now cuts off text the user saw."""
        return bool(self.parts)

    async def begin(self) -> None:
        """Record the run (a backend that keeps the history stores the user message first)."""
        await start_run(self.storage, self.backend, self.request, self.first_status, self.run_id)

    @abstractmethod
    def stream(self) -> AsyncGenerator[RunEvent, None]:
        """One model round, yielding its text. A stop may interrupt it at any await."""

    @abstractmethod
    async def end_round(self) -> list[ToolCall]:
        """Book the round just streamed; return the tool calls it asks for (none: the model is
        done). Raises :class:`RoundFailed` if the server says the round failed."""

    @abstractmethod
    async def submit(self, outputs: list[ToolOutput]) -> None:
        """Hand the last round's tool outputs (one per call, in order) to the next round."""

    @abstractmethod
    async def answer(self, calls: list[ToolCall], output: str) -> None:
        """Close calls that will not run (round limit, stop), so the thread stays valid."""

    can_answer_without_tools = False
    """The protocol can ask for one more round with ``tool_choice: "none"`` (the loop does
    so instead of ending on the round limit or a call the model repeats)."""

    @abstractmethod
    async def settle(self) -> tuple[FinishStatus, str | None]:
        """How the run ended once the model asks for no tools: its status and user error."""

    async def clean_up(self) -> None:
        """After a failure or a stop: leave the thread valid for the next run."""
        return None

    async def abandon(self) -> None:
        """The task is being cancelled: release what the run holds on the server."""
        return None


SAME_TOOLS_ROUNDS = 3
"""A model that calls the same tools this many rounds in a row (small local models do when
their chat template drops tool results, varying the arguments a little each time) is taken
for looping: it gets one last round without tools to answer in text."""


async def run_tool_loop(run: BackendRun, max_rounds: int) -> AsyncIterator[RunEvent]:
    """Begin ``run``, stream its rounds and tool calls, and end with ``Finished``."""
    storage, request, run_id = run.storage, run.request, run.run_id
    await run.begin()
    stop = StopGuard(request.stop)
    status: FinishStatus = "failed"
    error: str | None = UNAVAILABLE
    try:
        rounds = 0
        made: set[tuple[str, str]] = set()
        recent: list[frozenset[str]] = []  # the tools each round called
        while True:
            stop.check()
            events = run.stream()  # wrapped only if the run can be stopped: the hot path
            async for event in events if stop.signal is None else stop.interruptible(events):
                yield event
            calls = await run.end_round()
            if not calls:
                status, error = await run.settle()
                break
            if stop.requested:
                await run.answer(calls, INTERRUPTED_OUTPUT)
                raise Stopped
            names = frozenset(c.name for c in calls)
            repeated = all((c.name, c.arguments) in made for c in calls) or (
                recent[-SAME_TOOLS_ROUNDS + 1 :] == [names] * (SAME_TOOLS_ROUNDS - 1)
            )
            looping = repeated and run.can_answer_without_tools
            if rounds >= max_rounds or looping:
                if run.can_answer_without_tools and request.tool_choice == "auto":
                    # one last round that must answer in text, not an error for the user
                    await run.answer(
                        calls, ROUND_LIMIT_OUTPUT if rounds >= max_rounds else REPEATED_OUTPUT
                    )
                    request.tool_choice = "none"
                    log.info("%s run %s: last round without tools", run.backend, run_id)
                    continue
                await run.answer(calls, ROUND_LIMIT_OUTPUT)
                status, error = "incomplete", round_limit_error(rounds)
                break
            made.update((c.name, c.arguments) for c in calls)
            recent.append(names)
            rounds += 1
            await storage.update_run(run_id, status="requires_action")
            required = ToolCallsRequired(calls, run_id=run_id)
            yield required
            given = {o.tool_call_id: o.output for o in required.outputs}
            await run.submit([ToolOutput(c.id, given.get(c.id, NO_OUTPUT)) for c in calls])
            await storage.update_run(run_id, status="in_progress")
            if run.parts:
                run.parts.append("\n\n")
            yield Progress("message_started")
    except FAILURES as exc:
        cid = request.correlation_id
        log.warning("%s run %s failed [%s]: %s", run.backend, run_id, cid, describe_error(exc))
        await run.clean_up()
        status, error = "failed", INTERRUPTED if run.text_shown else UNAVAILABLE
    except Stopped:
        log.info("%s run %s stopped [%s]", run.backend, run_id, request.correlation_id)
        await run.clean_up()
        status, error = "cancelled", STOPPED
    except BaseException:
        await run.abandon()
        await storage.update_run(run_id, status="cancelled", error="cancelled")
        raise
    finally:
        stop.close()
    yield await end_run(storage, run_id, Finished(status, run.usage, error))
