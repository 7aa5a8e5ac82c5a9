"""Assistants v2 HTTP handlers: assistants, threads, messages, runs, steps (JSON and SSE).

Enforces the ``OpenAI-Beta: assistants=v2`` header and the active-run rule with the real
error texts. Run progress comes from :mod:`.assistants_runs`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .assistants_runs import DELTA_EVENTS, Event, RunDriver, terminate
from .assistants_state import ACTIVE, Obj, snapshot
from .faults import FAULT, Fault
from .sse import SseSink, StreamAborted, sse_response
from .wire import JSON_BODY, ApiError, dumps, error_body, json_response, now

if TYPE_CHECKING:
    from .server import FakeOpenAI

BETA_REQUIRED = (
    "You must provide the 'OpenAI-Beta' header to access the Assistants API. Please try again "
    "by setting the header 'OpenAI-Beta: assistants=v2'."
)


def no_such_route() -> web.Response:
    """What a server without an API answers for its routes (the quirks ``no_assistants_api``
    and ``no_conversations_api``): a bare 404, FastAPI's shape, as LiteLLM and vLLM send."""
    return web.json_response({"detail": "Not Found"}, status=404)


def paginate(items: list[Obj], query: Any) -> Obj:
    """A cursor page like OpenAI's lists: ``order`` (default desc), ``limit``, ``after``, ``before``."""
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise ApiError(
            400,
            f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.",
            param="order",
            code="invalid_value",
        )
    try:
        limit = int(query.get("limit", 20))
    except ValueError as exc:
        raise ApiError(400, "Invalid 'limit': expected an integer.", param="limit") from exc
    if not 1 <= limit <= 100:
        raise ApiError(
            400, f"Invalid 'limit': {limit}. Expected a value between 1 and 100.", param="limit"
        )
    seq = list(reversed(items)) if order == "desc" else list(items)
    ids = [o["id"] for o in seq]
    if query.get("after") in ids:
        seq = seq[ids.index(query["after"]) + 1 :]
    if query.get("before") in ids:
        seq = seq[: ids.index(query["before"])][-limit:]
    page = seq[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(seq) > limit,
    }


def _error_frame(fault: Fault) -> bytes:
    message = fault.message or "The server had an error while processing your request."
    code = fault.code or "server_error"
    if fault.shape == "wrapped":
        payload: Obj = error_body(message, type_="server_error", code=code)
    else:
        payload = {"code": code, "message": message}
    return f"event: error\ndata: {dumps(payload)}\n\n".encode()


class Assistants:
    """Route handlers over the fake's :class:`~.assistants_state.AssistantsState`."""

    def __init__(self, fake: FakeOpenAI) -> None:
        self._fake = fake
        self._state = fake.assistants_state
        self._driver = RunDriver(fake)

    def add_routes(self, router: web.UrlDispatcher) -> None:
        a, t = "/v1/assistants", "/v1/threads"
        run = t + "/{thread_id}/runs/{run_id}"
        routes = [
            ("POST", a, self.create_assistant),
            ("GET", a, self.list_assistants),
            ("GET", a + "/{assistant_id}", self.get_assistant),
            ("POST", a + "/{assistant_id}", self.update_assistant),
            ("DELETE", a + "/{assistant_id}", self.delete_assistant),
            ("POST", t + "/runs", self.create_thread_and_run),
            ("POST", t, self.create_thread),
            ("GET", t + "/{thread_id}", self.get_thread),
            ("POST", t + "/{thread_id}", self.update_thread),
            ("DELETE", t + "/{thread_id}", self.delete_thread),
            ("POST", t + "/{thread_id}/messages", self.create_message),
            ("GET", t + "/{thread_id}/messages", self.list_messages),
            ("GET", t + "/{thread_id}/messages/{message_id}", self.get_message),
            ("POST", t + "/{thread_id}/runs", self.create_run),
            ("GET", t + "/{thread_id}/runs", self.list_runs),
            ("GET", run, self.get_run),
            ("POST", run, self.update_run),
            ("POST", run + "/submit_tool_outputs", self.submit_tool_outputs),
            ("POST", run + "/cancel", self.cancel_run),
            ("GET", run + "/steps", self.list_steps),
            ("GET", run + "/steps/{step_id}", self.get_step),
        ]
        for method, path, handler in routes:
            router.add_route(method, path, self._beta(handler))

    def _beta(self, handler: Any) -> Any:
        async def checked(request: web.Request) -> web.StreamResponse:
            if self._fake.quirks.no_assistants_api:
                return no_such_route()
            if "assistants=v2" not in request.headers.get("OpenAI-Beta", ""):
                raise ApiError(400, BETA_REQUIRED, code="invalid_beta")
            return await handler(request)

        return checked

    @staticmethod
    def _body(request: web.Request) -> Obj:
        body = request[JSON_BODY]
        if body is None and request.method == "POST" and not request.body_exists:
            return {}
        if not isinstance(body, dict):
            raise ApiError(400, "We could not parse the JSON body of your request.")
        return body

    # --- assistants ------------------------------------------------------------------------

    async def create_assistant(self, request: web.Request) -> web.StreamResponse:
        body = self._body(request)
        if not body.get("model"):
            raise ApiError(
                400,
                "Missing required parameter: 'model'.",
                param="model",
                code="missing_required_parameter",
            )
        return json_response(self._state.create_assistant(body))

    async def list_assistants(self, request: web.Request) -> web.StreamResponse:
        return json_response(paginate(list(self._state.assistants.values()), request.query))

    async def get_assistant(self, request: web.Request) -> web.StreamResponse:
        return json_response(self._state.assistant(request.match_info["assistant_id"]))

    async def update_assistant(self, request: web.Request) -> web.StreamResponse:
        assistant = self._state.assistant(request.match_info["assistant_id"])
        body = self._body(request)
        for key in (
            "name",
            "description",
            "model",
            "instructions",
            "tools",
            "metadata",
            "temperature",
            "top_p",
            "response_format",
            "tool_resources",
        ):
            if key in body:
                assistant[key] = body[key]
        return json_response(assistant)

    async def delete_assistant(self, request: web.Request) -> web.StreamResponse:
        assistant_id = request.match_info["assistant_id"]
        self._state.assistant(assistant_id)
        del self._state.assistants[assistant_id]
        return json_response({"id": assistant_id, "object": "assistant.deleted", "deleted": True})

    # --- threads and messages --------------------------------------------------------------

    async def create_thread(self, request: web.Request) -> web.StreamResponse:
        return json_response(self._state.create_thread(self._body(request)))

    async def get_thread(self, request: web.Request) -> web.StreamResponse:
        return json_response(self._state.thread(request.match_info["thread_id"]))

    async def update_thread(self, request: web.Request) -> web.StreamResponse:
        thread = self._state.thread(request.match_info["thread_id"])
        body = self._body(request)
        if "metadata" in body:
            thread["metadata"] = body["metadata"] or {}
        return json_response(thread)

    async def delete_thread(self, request: web.Request) -> web.StreamResponse:
        thread_id = request.match_info["thread_id"]
        self._state.thread(thread_id)
        del self._state.threads[thread_id]
        self._state.messages.pop(thread_id, None)
        for run in self._state.thread_runs(thread_id):
            del self._state.runs[run["id"]]
        return json_response({"id": thread_id, "object": "thread.deleted", "deleted": True})

    async def create_message(self, request: web.Request) -> web.StreamResponse:
        thread_id = request.match_info["thread_id"]
        self._state.thread(thread_id)
        active = self._state.active_run(thread_id)
        if active is not None:
            raise ApiError(
                400, f"Can't add messages to {thread_id} while a run {active['id']} is active."
            )
        return json_response(self._state.add_message(thread_id, self._body(request)))

    async def list_messages(self, request: web.Request) -> web.StreamResponse:
        thread_id = request.match_info["thread_id"]
        self._state.thread(thread_id)
        messages = self._state.messages[thread_id]
        if request.query.get("run_id"):
            messages = [m for m in messages if m["run_id"] == request.query["run_id"]]
        return json_response(paginate(messages, request.query))

    async def get_message(self, request: web.Request) -> web.StreamResponse:
        thread_id, message_id = request.match_info["thread_id"], request.match_info["message_id"]
        self._state.thread(thread_id)
        for m in self._state.messages[thread_id]:
            if m["id"] == message_id:
                return json_response(m)
        raise ApiError(404, f"No message found with id '{message_id}'.")

    # --- runs ------------------------------------------------------------------------------

    async def create_run(self, request: web.Request) -> web.StreamResponse:
        thread_id = request.match_info["thread_id"]
        self._state.thread(thread_id)
        body = self._body(request)
        run = self._new_run(thread_id, body)
        return await self._respond(request, run, self._driver.start(run), body)

    async def create_thread_and_run(self, request: web.Request) -> web.StreamResponse:
        body = self._body(request)
        self._assistant_of(body)
        thread = self._state.create_thread(body.get("thread") or {})
        run = self._new_run(thread["id"], body)

        async def events() -> AsyncGenerator[Event, None]:
            yield "thread.created", snapshot(thread)
            async for event in self._driver.start(run):
                yield event

        return await self._respond(request, run, events(), body)

    def _assistant_of(self, body: Obj) -> Obj:
        if not body.get("assistant_id"):
            raise ApiError(
                400,
                "Missing required parameter: 'assistant_id'.",
                param="assistant_id",
                code="missing_required_parameter",
            )
        return self._state.assistant(body["assistant_id"])

    def _new_run(self, thread_id: str, body: Obj) -> Obj:
        assistant = self._assistant_of(body)
        active = self._state.active_run(thread_id)
        if active is not None:
            raise ApiError(400, f"Thread {thread_id} already has an active run {active['id']}.")
        for m in body.get("additional_messages") or []:
            self._state.add_message(thread_id, m)
        return self._state.create_run(thread_id, assistant, body)

    async def list_runs(self, request: web.Request) -> web.StreamResponse:
        thread_id = request.match_info["thread_id"]
        self._state.thread(thread_id)
        return json_response(paginate(self._state.thread_runs(thread_id), request.query))

    def _run(self, request: web.Request) -> Obj:
        return self._state.run(request.match_info["thread_id"], request.match_info["run_id"])

    async def get_run(self, request: web.Request) -> web.StreamResponse:
        headers = {"openai-poll-after-ms": str(self._fake.poll_after_ms)}
        return json_response(self._run(request), headers=headers)

    async def update_run(self, request: web.Request) -> web.StreamResponse:
        run = self._run(request)
        body = self._body(request)
        if "metadata" in body:
            run["metadata"] = body["metadata"] or {}
        return json_response(run)

    async def submit_tool_outputs(self, request: web.Request) -> web.StreamResponse:
        run = self._run(request)
        body = self._body(request)
        if run["status"] != "requires_action":
            raise ApiError(400, f'Runs in status "{run["status"]}" do not accept tool outputs.')
        ctx = self._state.contexts[run["id"]]
        outputs = body.get("tool_outputs") or []
        expected = [c["id"] for c in ctx.pending_calls]
        got = [o.get("tool_call_id") for o in outputs if isinstance(o, dict)]
        if sorted(expected) != sorted(str(g) for g in got):
            raise ApiError(
                400,
                f"Expected tool outputs for call_ids {expected}, got {got}",
                param="tool_outputs",
            )
        by_id = {str(o["tool_call_id"]): str(o.get("output", "")) for o in outputs}
        ctx.rounds.append((ctx.pending_calls, by_id))
        ctx.pending_calls = []
        step = ctx.step
        if step is not None:
            for call in step["step_details"]["tool_calls"]:
                call["function"]["output"] = by_id.get(call["id"])
            step.update(status="completed", completed_at=now(), usage=ctx.step_usage)
            ctx.step = None
        run["status"] = "queued"
        run["required_action"] = None
        return await self._respond(request, run, self._driver.resume(run, step), body)

    async def cancel_run(self, request: web.Request) -> web.StreamResponse:
        run = self._run(request)
        if run["status"] not in ACTIVE:
            raise ApiError(400, f"Cannot cancel run with status '{run['status']}'.")
        ctx = self._state.contexts[run["id"]]
        if run["status"] != "cancelling":
            run["status"] = "cancelling"
            ctx.cancel.set()
            if not ctx.driving:
                self._fake.spawn(self._finish_cancel(run))
        return json_response(snapshot(run))

    async def _finish_cancel(self, run: Obj) -> None:
        if run["status"] == "cancelling":
            terminate(self._state, run, "cancelled")

    def expire_run(self, run_id: str) -> None:
        run = self._state.runs[run_id]
        if run["status"] not in ACTIVE:
            raise ValueError(f"run {run_id} is {run['status']}, not active")
        terminate(self._state, run, "expired")

    async def list_steps(self, request: web.Request) -> web.StreamResponse:
        run = self._run(request)
        return json_response(paginate(self._state.steps[run["id"]], request.query))

    async def get_step(self, request: web.Request) -> web.StreamResponse:
        run = self._run(request)
        for step in self._state.steps[run["id"]]:
            if step["id"] == request.match_info["step_id"]:
                return json_response(step)
        raise ApiError(404, f"No run step found with id '{request.match_info['step_id']}'.")

    # --- responding: JSON (run advances in the background) or SSE ---------------------------

    async def _respond(
        self,
        request: web.Request,
        run: Obj,
        events: AsyncGenerator[Event, None],
        body: Obj,
    ) -> web.StreamResponse:
        ctx = self._state.contexts[run["id"]]
        fault = request[FAULT]
        if fault is not None and fault.kind == "run_status":
            ctx.fault_status, ctx.fault_message = fault.terminal_status, fault.message
            fault = None
        ctx.driving = True
        if not body.get("stream"):
            reply = json_response(snapshot(run))
            self._fake.spawn(self._drain(events))
            return reply
        response = sse_response()
        await response.prepare(request)
        sink = SseSink(request, response, fault, _error_frame)
        try:
            async for name, payload in events:
                if name == "done":
                    await sink.fail_now()
                data = payload if isinstance(payload, str) else dumps(payload)
                await sink.send(data, event=name, delta=name in DELTA_EVENTS)
        except StreamAborted as exc:
            if exc.reason == "error_event":
                await events.aclose()
                if run["status"] in ACTIVE:
                    terminate(self._state, run, "failed", message=fault.message if fault else None)
            else:  # the client is gone; the run carries on server-side, as a real one would
                self._fake.spawn(self._drain(events))
            return response
        await sink.finish()
        return response

    @staticmethod
    async def _drain(events: AsyncGenerator[Event, None]) -> None:
        async for _ in events:
            pass
