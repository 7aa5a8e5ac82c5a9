"""The Assistants run lifecycle: advances a run's state and yields its stream events.

A driver is an async generator of ``(event_name, payload)`` pairs; state changes happen as it
is iterated, so a streaming handler forwards events as they come and a non-streaming request
(or a stream whose client went away) simply drains it in the background.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

from .assistants_state import ACTIVE, AssistantsState, Obj, RunContext, snapshot, usage_of
from .model import Completion
from .wire import now

if TYPE_CHECKING:
    from .server import FakeOpenAI

Event = tuple[str, Any]
DONE: Event = ("done", "[DONE]")
DELTA_EVENTS = ("thread.message.delta", "thread.run.step.delta")

_STEP_STATUS = {"failed": "failed", "expired": "expired", "cancelled": "cancelled"}
_MESSAGE_REASON = {
    "failed": "run_failed",
    "expired": "run_expired",
    "cancelled": "run_cancelled",
    "incomplete": "max_tokens",
}
DEFAULT_FAILURE = "Sorry, something went wrong."


def terminate(
    state: AssistantsState,
    run: Obj,
    status: str,
    *,
    code: str = "server_error",
    message: str | None = None,
) -> list[Event]:
    """End ``run`` in a terminal ``status`` now; returns the events that announce it."""
    ctx = state.contexts[run["id"]]
    t = now()
    events: list[Event] = []
    msg = ctx.message
    if msg is not None and msg["status"] == "in_progress":
        msg.update(
            status="incomplete",
            incomplete_at=t,
            incomplete_details={"reason": _MESSAGE_REASON.get(status, "run_failed")},
        )
        events.append(("thread.message.incomplete", snapshot(msg)))
    step = ctx.step
    if step is not None and step["status"] == "in_progress":
        step_status = _STEP_STATUS.get(status, "completed")
        step["status"] = step_status
        step[f"{step_status}_at"] = t
        step["usage"] = ctx.step_usage
        if step_status == "failed":
            step["last_error"] = {"code": "server_error", "message": message or DEFAULT_FAILURE}
        events.append((f"thread.run.step.{step_status}", snapshot(step)))
    run["required_action"] = None
    run["status"] = status
    run["usage"] = usage_of(ctx.prompt_tokens, ctx.completion_tokens)
    if status == "failed":
        run["failed_at"] = t
        run["last_error"] = {"code": code, "message": message or DEFAULT_FAILURE}
    elif status == "cancelled":
        run["cancelled_at"] = t
    elif status == "completed":
        run["completed_at"] = t
    elif status == "incomplete":
        run["incomplete_details"] = {"reason": "max_completion_tokens"}
    ctx.message = None
    ctx.step = None
    ctx.cancel.set()
    events.append((f"thread.run.{status}", snapshot(run)))
    return events


class RunDriver:
    """Produces run events for the Assistants handlers, using the fake's scripted model."""

    def __init__(self, fake: FakeOpenAI) -> None:
        self._fake = fake
        self._state = fake.assistants_state

    async def start(self, run: Obj) -> AsyncGenerator[Event, None]:
        """A new run (already stored as ``queued``): created → queued → the model steps."""
        yield "thread.run.created", snapshot(run)
        yield "thread.run.queued", snapshot(run)
        async for event in self._advance(run):
            yield event

    async def resume(self, run: Obj, completed_step: Obj | None) -> AsyncGenerator[Event, None]:
        """After tool outputs were accepted (run already ``queued``)."""
        if completed_step is not None:
            yield "thread.run.step.completed", snapshot(completed_step)
        yield "thread.run.queued", snapshot(run)
        async for event in self._advance(run):
            yield event

    async def _advance(self, run: Obj) -> AsyncGenerator[Event, None]:
        ctx = self._state.contexts[run["id"]]
        ctx.driving = True
        try:
            if run["status"] not in ACTIVE:  # ended meanwhile (e.g. cancelled, expired)
                yield DONE
                return
            if run["status"] == "cancelling":
                for event in terminate(self._state, run, "cancelled"):
                    yield event
                yield DONE
                return
            run["status"] = "in_progress"
            run["started_at"] = run["started_at"] or now()
            yield "thread.run.in_progress", snapshot(run)
            completion = self._fake.model.complete(self._state.model_input(run))
            ctx.prompt_tokens += completion.prompt_tokens
            ctx.completion_tokens += completion.completion_tokens
            ctx.step_usage = usage_of(completion.prompt_tokens, completion.completion_tokens)
            if ctx.fault_status == "incomplete":
                completion.finish_reason = "length"
            await self._fake.model.wait_gate(ctx.cancel)
            if completion.tool_calls:
                steps = self._tool_step(run, ctx, completion)
            else:
                steps = self._message_step(run, ctx, completion)
            async for event in steps:
                yield event
            yield DONE
        finally:
            ctx.driving = False

    def _interrupted(self, run: Obj, ctx: RunContext) -> str | None:
        """The terminal status to end in now, if the run was cancelled or faulted."""
        if run["status"] == "cancelling":
            return "cancelled"
        if ctx.fault_status in ("failed", "expired", "cancelled"):
            return ctx.fault_status
        return None

    def _end(self, run: Obj, ctx: RunContext, status: str) -> list[Event]:
        events: list[Event] = []
        if status == "cancelled" and run["status"] != "cancelling":
            run["status"] = "cancelling"
            events.append(("thread.run.cancelling", snapshot(run)))
        return events + terminate(self._state, run, status, message=ctx.fault_message)

    async def _pace(self, completion: Completion, first: bool) -> None:
        if completion.delay and not first:
            await asyncio.sleep(completion.delay)

    async def _message_step(
        self, run: Obj, ctx: RunContext, completion: Completion
    ) -> AsyncGenerator[Event, None]:
        msg = self._state.add_message(
            run["thread_id"],
            {"role": "assistant", "content": []},
            run_id=run["id"],
            assistant_id=run["assistant_id"],
            status="in_progress",
        )
        ctx.message = msg
        details = {"type": "message_creation", "message_creation": {"message_id": msg["id"]}}
        ctx.step = step = self._state.create_step(run, details)
        yield "thread.run.step.created", snapshot(step)
        yield "thread.run.step.in_progress", snapshot(step)
        yield "thread.message.created", snapshot(msg)
        yield "thread.message.in_progress", snapshot(msg)
        text = ""
        for i, piece in enumerate(completion.chunks):
            await self._pace(completion, i == 0)
            stop = self._interrupted(run, ctx)
            if stop is not None and (i > 0 or run["status"] == "cancelling"):
                for event in self._end(run, ctx, stop):
                    yield event
                return
            text += piece
            msg["content"] = [{"type": "text", "text": {"value": text, "annotations": []}}]
            block = {"index": 0, "type": "text", "text": {"value": piece, "annotations": []}}
            yield (
                "thread.message.delta",
                {
                    "id": msg["id"],
                    "object": "thread.message.delta",
                    "delta": {"content": [block]},
                },
            )
        stop = self._interrupted(run, ctx)
        if stop is None and completion.finish_reason == "length":
            stop = "incomplete"
        if stop is not None:
            for event in self._end(run, ctx, stop):
                yield event
            return
        t = now()
        msg.update(status="completed", completed_at=t)
        yield "thread.message.completed", snapshot(msg)
        step.update(status="completed", completed_at=t, usage=ctx.step_usage)
        yield "thread.run.step.completed", snapshot(step)
        ctx.message = ctx.step = None
        for event in terminate(self._state, run, "completed"):
            yield event

    async def _tool_step(
        self, run: Obj, ctx: RunContext, completion: Completion
    ) -> AsyncGenerator[Event, None]:
        details: Obj = {"type": "tool_calls", "tool_calls": []}
        ctx.step = step = self._state.create_step(run, details)
        yield "thread.run.step.created", snapshot(step)
        yield "thread.run.step.in_progress", snapshot(step)
        first = True
        for index, call in enumerate(completion.tool_calls):
            stop = self._interrupted(run, ctx)
            if stop is not None:
                for event in self._end(run, ctx, stop):
                    yield event
                return
            head = {
                "index": index,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": "", "output": None},
            }
            await self._pace(completion, first)
            first = False
            yield "thread.run.step.delta", self._step_delta(step, head)
            for piece in call.argument_chunks:
                await self._pace(completion, False)
                part = {"index": index, "type": "function", "function": {"arguments": piece}}
                yield "thread.run.step.delta", self._step_delta(step, part)
        details["tool_calls"] = [
            {**c.as_chat(), "function": {"name": c.name, "arguments": c.arguments, "output": None}}
            for c in completion.tool_calls
        ]
        stop = self._interrupted(run, ctx)
        if stop is None and completion.finish_reason == "length":
            stop = "incomplete"
        if stop is not None:
            for event in self._end(run, ctx, stop):
                yield event
            return
        ctx.pending_calls = [c.as_chat() for c in completion.tool_calls]
        run["status"] = "requires_action"
        run["required_action"] = {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {"tool_calls": [c.as_chat() for c in completion.tool_calls]},
        }
        yield "thread.run.requires_action", snapshot(run)

    @staticmethod
    def _step_delta(step: Obj, tool_call: Obj) -> Obj:
        return {
            "id": step["id"],
            "object": "thread.run.step.delta",
            "delta": {"step_details": {"type": "tool_calls", "tool_calls": [tool_call]}},
        }
