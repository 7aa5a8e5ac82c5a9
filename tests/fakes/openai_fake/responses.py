"""Responses and Conversations HTTP handlers: ``/v1/responses`` (JSON and SSE) and
``/v1/conversations[/{id}[/items[/{item_id}]]]``.

A response with ``conversation=`` reads the stored items before its input, and appends the
input at once and each output item as it is done (so a crash after a function call leaves
the call in the conversation without an output, as on the real service). Calls and outputs
are paired like the real API checks them. With ``fake.context_limit_tokens`` set, a context
over it is a 400 ``context_length_exceeded``, unless the request says ``truncation: "auto"``:
then the oldest items are left out of what the model sees (the conversation keeps them), and
only a newest item too big on its own is still a 400. SSE events are ``event: <type>`` +
``data: {"type", "sequence_number", …}`` with no ``[DONE]``.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .assistants import no_such_route, paginate
from .conversations_state import (
    ConversationsState,
    Obj,
    check_tool_pairs,
    normalise_input,
    to_messages,
)
from .faults import FAULT, Fault
from .model import Completion, estimate_tokens
from .sse import SseSink, StreamAborted, sse_response
from .wire import JSON_BODY, ApiError, dumps, error_body, json_response, new_id, now

if TYPE_CHECKING:
    from .server import FakeOpenAI

Event = tuple[str, Obj]
DELTA_EVENTS = ("response.output_text.delta", "response.function_call_arguments.delta")
EXCLUSIVE = (
    "Mutually exclusive parameters: Ensure you are only providing one of: "
    "'previous_response_id' or 'conversation'."
)
FAILED_STATUSES = {"failed": "failed", "expired": "failed", "cancelled": "cancelled"}
DEFAULT_FAILURE = "The server had an error while processing your request. Sorry about that!"
CONTEXT_EXCEEDED = (
    "Your input exceeds the context window of this model. Please adjust your input and try again."
)


@dataclass(slots=True)
class _Plan:
    """One response being produced: its wire object, where it stores items, how it ends."""

    response: Obj
    conversation: str | None
    context: list[Obj]
    completion: Completion
    stop: str | None  # a run_status fault: failed / cancelled / incomplete


def _usage(c: Completion) -> Obj:
    return {
        "input_tokens": c.prompt_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": c.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": c.prompt_tokens + c.completion_tokens,
    }


def _fit(context: list[Obj], instructions: str | None, limit: int | None, auto: bool) -> list[Obj]:
    """What the model sees of ``context`` within ``limit`` tokens: all of it, or with
    ``truncation: "auto"`` the newest items that fit (never an output without its call);
    else a 400 as the real service answers."""
    if limit is None or estimate_tokens(to_messages(context, instructions)) <= limit:
        return context
    if auto:
        for start in range(1, len(context)):
            seen = context[start:]
            calls = {i.get("call_id") for i in seen if i["type"] == "function_call"}
            seen = [i for i in seen if i["type"] != "function_call_output" or i["call_id"] in calls]
            if seen and estimate_tokens(to_messages(seen, instructions)) <= limit:
                return seen
    raise ApiError(400, CONTEXT_EXCEEDED, param="input", code="context_length_exceeded")


def _check_tools(tools: Any) -> list[Obj]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise ApiError(400, "Invalid type for 'tools': expected an array.", param="tools")
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or not tool.get("type"):
            raise ApiError(
                400,
                f"Missing required parameter: 'tools[{i}].type'.",
                param=f"tools[{i}].type",
                code="missing_required_parameter",
            )
        if tool["type"] == "function" and not tool.get("name"):
            raise ApiError(
                400,
                f"Missing required parameter: 'tools[{i}].name'.",
                param=f"tools[{i}].name",
                code="missing_required_parameter",
            )
    return tools


class Responses:
    """Route handlers over the fake's :class:`ConversationsState` and scripted model."""

    def __init__(self, fake: FakeOpenAI) -> None:
        self._fake = fake
        self._state: ConversationsState = fake.conversations_state
        self._contexts: dict[str, list[Obj]] = {}  # response id → its full item context

    def add_routes(self, router: web.UrlDispatcher) -> None:
        c = "/v1/conversations"
        routes = [
            ("POST", "/v1/responses", self.create_response),
            ("GET", "/v1/responses/{response_id}", self.get_response),
        ]
        conversations = [
            ("POST", c, self.create_conversation),
            ("GET", c + "/{conv_id}", self.get_conversation),
            ("POST", c + "/{conv_id}", self.update_conversation),
            ("DELETE", c + "/{conv_id}", self.delete_conversation),
            ("GET", c + "/{conv_id}/items", self.list_items),
            ("POST", c + "/{conv_id}/items", self.create_items),
            ("GET", c + "/{conv_id}/items/{item_id}", self.get_item),
            ("DELETE", c + "/{conv_id}/items/{item_id}", self.delete_item),
        ]
        for method, path, handler in routes:
            router.add_route(method, path, handler)
        for method, path, handler in conversations:
            router.add_route(method, path, self._conversations_api(handler))

    def _conversations_api(self, handler: Any) -> Any:
        async def checked(request: web.Request) -> web.StreamResponse:
            if self._fake.quirks.no_conversations_api:
                return no_such_route()
            result: web.StreamResponse = await handler(request)
            return result

        return checked

    @staticmethod
    def _body(request: web.Request) -> Obj:
        body = request[JSON_BODY]
        if body is None and not request.body_exists:
            return {}
        if not isinstance(body, dict):
            raise ApiError(400, "We could not parse the JSON body of your request.")
        return body

    # --- conversations ---------------------------------------------------------------------

    async def create_conversation(self, request: web.Request) -> web.StreamResponse:
        return json_response(self._state.create(self._body(request)))

    async def get_conversation(self, request: web.Request) -> web.StreamResponse:
        return json_response(self._state.get(request.match_info["conv_id"]))

    async def update_conversation(self, request: web.Request) -> web.StreamResponse:
        conv = self._state.get(request.match_info["conv_id"])
        body = self._body(request)
        if "metadata" in body:
            conv["metadata"] = body["metadata"] or {}
        return json_response(conv)

    async def delete_conversation(self, request: web.Request) -> web.StreamResponse:
        conv_id = request.match_info["conv_id"]
        self._state.get(conv_id)
        del self._state.conversations[conv_id]
        del self._state.items[conv_id]
        return json_response({"id": conv_id, "object": "conversation.deleted", "deleted": True})

    async def list_items(self, request: web.Request) -> web.StreamResponse:
        conv_id = request.match_info["conv_id"]
        self._state.get(conv_id)
        return json_response(paginate(self._state.items[conv_id], request.query))

    async def create_items(self, request: web.Request) -> web.StreamResponse:
        conv_id = request.match_info["conv_id"]
        added = self._state.add_items(conv_id, self._body(request).get("items"))
        return json_response(
            {
                "object": "list",
                "data": added,
                "first_id": added[0]["id"],
                "last_id": added[-1]["id"],
                "has_more": False,
            }
        )

    def _item(self, request: web.Request) -> tuple[list[Obj], Obj]:
        conv_id, item_id = request.match_info["conv_id"], request.match_info["item_id"]
        self._state.get(conv_id)
        items = self._state.items[conv_id]
        for item in items:
            if item["id"] == item_id:
                return items, item
        raise ApiError(404, f"Item with id '{item_id}' not found.")

    async def get_item(self, request: web.Request) -> web.StreamResponse:
        return json_response(self._item(request)[1])

    async def delete_item(self, request: web.Request) -> web.StreamResponse:
        items, item = self._item(request)
        items.remove(item)
        return json_response(self._state.get(request.match_info["conv_id"]))

    # --- responses -------------------------------------------------------------------------

    async def get_response(self, request: web.Request) -> web.StreamResponse:
        return json_response(self._state.response(request.match_info["response_id"]))

    async def create_response(self, request: web.Request) -> web.StreamResponse:
        body = self._body(request)
        plan = self._plan(body, request[FAULT])
        fault = request[FAULT]
        if fault is not None and fault.kind == "run_status":
            fault = None
        events = self._events(plan)
        if body.get("stream"):
            return await self._stream(request, plan, events, fault)
        return await self._json(request, plan, events, fault)

    def _plan(self, body: Obj, fault: Fault | None) -> _Plan:
        if not body.get("model"):
            raise ApiError(
                400,
                "Missing required parameter: 'model'.",
                param="model",
                code="missing_required_parameter",
            )
        conv_ref = body.get("conversation")
        if self._fake.quirks.no_conversations_api:
            conv_ref = None  # silently ignored, as LiteLLM does
        previous = body.get("previous_response_id")
        if conv_ref and previous:
            raise ApiError(400, EXCLUSIVE, param="conversation")
        conv_id = conv_ref.get("id") if isinstance(conv_ref, dict) else conv_ref
        tools = _check_tools(body.get("tools"))
        new_items = normalise_input(body.get("input"))
        prior: list[Obj] = []
        if conv_id:
            self._state.get(conv_id)
            prior = self._state.items[conv_id]
        elif previous:
            self._state.response(previous)
            prior = self._contexts.get(previous, [])
        context = [*prior, *new_items]
        if not context:
            raise ApiError(
                400,
                "Missing required parameter: 'input'.",
                param="input",
                code="missing_required_parameter",
            )
        check_tool_pairs(context)
        instructions = body.get("instructions")
        auto = body.get("truncation") == "auto"
        seen = _fit(context, instructions, self._fake.context_limit_tokens, auto)
        if conv_id:
            self._state.items[conv_id].extend(new_items)
            context = self._state.items[conv_id]
        else:
            context = [copy.deepcopy(i) for i in context]
        completion = self._fake.model.complete(to_messages(seen, instructions))
        stop: str | None = None
        if fault is not None and fault.kind == "run_status":
            status = fault.terminal_status
            stop = "incomplete" if status == "incomplete" else FAILED_STATUSES[status]
        response: Obj = {
            "id": new_id("resp"),
            "object": "response",
            "created_at": now(),
            "status": "in_progress",
            "background": False,
            "conversation": {"id": conv_id} if conv_id else None,
            "error": None,
            "incomplete_details": None,
            "instructions": instructions,
            "max_output_tokens": body.get("max_output_tokens"),
            "metadata": body.get("metadata") or {},
            "model": body["model"],
            "output": [],
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": previous,
            "store": body.get("store", True),
            "temperature": body.get("temperature", 1.0),
            "text": {"format": {"type": "text"}},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": tools,
            "top_p": body.get("top_p", 1.0),
            "truncation": body.get("truncation", "disabled"),
            "usage": None,
            "user": None,
        }
        if not self._fake.quirks.no_stored_responses:
            self._state.responses[response["id"]] = response
            self._contexts[response["id"]] = context
        if fault is not None and fault.message:
            response["_fault_message"] = fault.message
        return _Plan(response, conv_id, context, completion, stop)

    # --- producing a response's events -----------------------------------------------------

    def _store(self, plan: _Plan, item: Obj) -> None:
        """An output item is done: it joins the conversation (or the response's context)."""
        stored = copy.deepcopy(item)
        if plan.conversation is None:
            plan.context.append(stored)
        elif plan.conversation in self._state.items:
            self._state.items[plan.conversation].append(stored)

    def _snap(self, plan: _Plan) -> Obj:
        return {k: copy.deepcopy(v) for k, v in plan.response.items() if not k.startswith("_")}

    def _end(self, plan: _Plan, status: str) -> Event:
        resp = plan.response
        resp["status"] = status
        resp["usage"] = _usage(plan.completion)
        if status == "failed":
            message = resp.get("_fault_message") or DEFAULT_FAILURE
            resp["error"] = {"code": "server_error", "message": message}
        elif status == "incomplete":
            resp["incomplete_details"] = {"reason": "max_output_tokens"}
        return f"response.{status}", {"response": self._snap(plan)}

    async def _pace(self, plan: _Plan, first: bool) -> None:
        delay = plan.completion.delay
        if delay and not first:
            await asyncio.sleep(delay)

    async def _events(self, plan: _Plan) -> AsyncGenerator[Event, None]:
        c = plan.completion
        yield "response.created", {"response": self._snap(plan)}
        yield "response.in_progress", {"response": self._snap(plan)}
        await self._fake.model.wait_gate()
        out = plan.response["output"]
        first = True
        if c.chunks or not c.tool_calls:
            msg: Obj = {
                "id": new_id("msg"),
                "type": "message",
                "status": "in_progress",
                "role": "assistant",
                "content": [],
            }
            index = len(out)
            out.append(msg)
            yield "response.output_item.added", {"output_index": index, "item": copy.deepcopy(msg)}
            part: Obj = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            where = {"item_id": msg["id"], "output_index": index, "content_index": 0}
            yield "response.content_part.added", {**where, "part": copy.deepcopy(part)}
            msg["content"].append(part)
            for i, piece in enumerate(c.chunks):
                await self._pace(plan, first)
                first = False
                if plan.stop in ("failed", "cancelled") and i > 0:
                    msg["status"] = "incomplete"
                    yield self._end(plan, plan.stop)
                    return
                part["text"] += piece
                yield "response.output_text.delta", {**where, "delta": piece, "logprobs": []}
            if plan.stop in ("failed", "cancelled"):
                msg["status"] = "incomplete"
                yield self._end(plan, plan.stop)
                return
            yield "response.output_text.done", {**where, "text": part["text"], "logprobs": []}
            yield "response.content_part.done", {**where, "part": copy.deepcopy(part)}
            msg["status"] = "incomplete" if plan.stop == "incomplete" else "completed"
            self._store(plan, msg)
            yield "response.output_item.done", {"output_index": index, "item": copy.deepcopy(msg)}
        for call in c.tool_calls:
            item: Obj = {
                "id": new_id("fc"),
                "type": "function_call",
                "status": "in_progress",
                "call_id": call.id,
                "name": call.name,
                "arguments": "",
            }
            index = len(out)
            out.append(item)
            await self._pace(plan, first)
            first = False
            yield "response.output_item.added", {"output_index": index, "item": copy.deepcopy(item)}
            for piece in call.argument_chunks:
                await self._pace(plan, False)
                item["arguments"] += piece
                yield (
                    "response.function_call_arguments.delta",
                    {"item_id": item["id"], "output_index": index, "delta": piece},
                )
            if plan.stop in ("failed", "cancelled"):
                yield self._end(plan, plan.stop)
                return
            done = {"item_id": item["id"], "output_index": index, "name": call.name}
            yield "response.function_call_arguments.done", {**done, "arguments": item["arguments"]}
            item["status"] = "completed"
            self._store(plan, item)
            yield "response.output_item.done", {"output_index": index, "item": copy.deepcopy(item)}
        yield self._end(plan, "incomplete" if plan.stop == "incomplete" else "completed")

    # --- responding ------------------------------------------------------------------------

    async def _json(
        self,
        request: web.Request,
        plan: _Plan,
        events: AsyncGenerator[Event, None],
        fault: Fault | None,
    ) -> web.StreamResponse:
        if fault is not None and fault.kind == "disconnect_after" and request.transport:
            request.transport.close()
            self._fake.spawn(self._drain(events))
            return web.Response(status=500)
        if fault is not None and fault.kind == "stall_after":
            await asyncio.sleep(fault.seconds)
        if fault is not None and fault.kind == "error_event":
            await events.aclose()
            self._end(plan, "failed")
            raise ApiError(500, fault.message, code=fault.code)
        await self._drain(events)
        return json_response(self._snap(plan))

    async def _stream(
        self,
        request: web.Request,
        plan: _Plan,
        events: AsyncGenerator[Event, None],
        fault: Fault | None,
    ) -> web.StreamResponse:
        seq = 0

        def error_frame(f: Fault) -> bytes:
            message = f.message or DEFAULT_FAILURE
            if f.shape == "wrapped":
                payload: Obj = error_body(message, type_="server_error", code=f.code)
            else:
                code = f.code or "server_error"
                payload = {"type": "error", "code": code, "message": message, "param": None}
                payload["sequence_number"] = seq
            return f"event: error\ndata: {dumps(payload)}\n\n".encode()

        response = sse_response()
        await response.prepare(request)
        sink = SseSink(request, response, fault, error_frame)
        try:
            async for kind, payload in events:
                if kind in ("response.completed", "response.incomplete"):
                    await sink.fail_now()
                data = dumps({"type": kind, "sequence_number": seq, **payload})
                seq += 1
                await sink.send(data, event=kind, delta=kind in DELTA_EVENTS)
        except StreamAborted as exc:
            if exc.reason == "error_event":
                await events.aclose()
                if plan.response["status"] == "in_progress":
                    if fault is not None and fault.message:
                        plan.response["_fault_message"] = fault.message
                    self._end(plan, "failed")
            else:  # the client is gone; the response carries on server-side
                self._fake.spawn(self._drain(events))
            return response
        await sink.finish()
        return response

    @staticmethod
    async def _drain(events: AsyncGenerator[Event, None]) -> None:
        async for _ in events:
            pass
