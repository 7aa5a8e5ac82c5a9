"""``POST /v1/chat/completions``: request validation like a real server, JSON and SSE replies.

Also the Chat Completions quirks of other servers (``fake.quirks``, see :mod:`.quirks`) and the
GET routes where servers report their context window (llama.cpp ``/props``, vLLM
``/v1/models``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .faults import FAULT, Fault
from .model import Completion, Messages, estimate_tokens, split_text
from .sse import SseSink, StreamAborted, sse_response
from .wire import JSON_BODY, ApiError, dumps, error_body, json_response, new_id, now, text_of

if TYPE_CHECKING:
    from .server import FakeOpenAI

ROLES = ("system", "assistant", "user", "function", "tool", "developer")
ORPHAN_TOOL_MESSAGE = (
    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message "
    "with 'tool_calls'."
)
REASONING_MODEL_PREFIXES = ("o1", "o3", "o4", "gpt-5")
"""OpenAI models that reject ``max_tokens`` (they take ``max_completion_tokens`` only)."""
UNSUPPORTED_MAX_TOKENS = (
    "Unsupported parameter: 'max_tokens' is not supported with this model. "
    "Use 'max_completion_tokens' instead."
)
MISSING_TOOL_RESPONSES = (
    "An assistant message with 'tool_calls' must be followed by tool messages responding to "
    "each 'tool_call_id'. The following tool_call_ids did not have response messages: {ids}"
)


def normalise_messages(raw: Any) -> Messages:
    """Validate ``messages`` as OpenAI does and return the normalised chat-style list."""
    if raw is None:
        raise ApiError(
            400,
            "Missing required parameter: 'messages'.",
            param="messages",
            code="missing_required_parameter",
        )
    if not isinstance(raw, list) or not raw:
        raise ApiError(
            400,
            "Invalid 'messages': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.",
            param="messages",
            code="empty_array",
        )
    out: Messages = []
    pending: list[str] = []  # tool_call_ids still owed a tool message
    answerable: set[str] = set()  # ids of the assistant message just before this tool block
    pending_from = 0
    for i, m in enumerate(raw):
        role = m.get("role") if isinstance(m, dict) else None
        if role not in ROLES:
            raise ApiError(
                400,
                f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', "
                "'function', 'tool', and 'developer'.",
                param=f"messages.[{i}].role",
                code="invalid_value",
            )
        assert isinstance(m, dict)
        if role == "tool":
            call_id = m.get("tool_call_id")
            if call_id not in answerable:
                raise ApiError(400, ORPHAN_TOOL_MESSAGE, param=f"messages.[{i}].role")
            if call_id in pending:
                pending.remove(call_id)
            out.append(
                {"role": "tool", "content": text_of(m.get("content")), "tool_call_id": call_id}
            )
            continue
        if pending:
            raise ApiError(
                400,
                MISSING_TOOL_RESPONSES.format(ids=", ".join(pending)),
                param=f"messages.[{pending_from}].role",
            )
        answerable = set()
        entry: dict[str, Any] = {"role": role, "content": text_of(m.get("content"))}
        calls = m.get("tool_calls") if role == "assistant" else None
        if calls:
            entry["tool_calls"] = [
                {
                    "id": c.get("id"),
                    "type": "function",
                    "function": {
                        "name": (c.get("function") or {}).get("name"),
                        "arguments": (c.get("function") or {}).get("arguments", ""),
                    },
                }
                for c in calls
            ]
            pending = [c["id"] for c in entry["tool_calls"]]
            answerable = set(pending)
            pending_from = i
        out.append(entry)
    if pending:
        raise ApiError(
            400,
            MISSING_TOOL_RESPONSES.format(ids=", ".join(pending)),
            param=f"messages.[{pending_from}].role",
        )
    return out


class ChatCompletions:
    """The handler; reads the model, faults and limits from the owning :class:`FakeOpenAI`."""

    def __init__(self, fake: FakeOpenAI) -> None:
        self._fake = fake

    async def create(self, request: web.Request) -> web.StreamResponse:
        body = request[JSON_BODY]
        if not isinstance(body, dict):
            raise ApiError(400, "We could not parse the JSON body of your request.")
        if not body.get("model"):
            raise ApiError(400, "you must provide a model parameter")
        quirks = self._fake.quirks
        if quirks.string_content_only:
            _require_string_content(body.get("messages"))
        if body.get("max_tokens") is not None and str(body["model"]).startswith(
            REASONING_MODEL_PREFIXES
        ):
            raise ApiError(
                400, UNSUPPORTED_MAX_TOKENS, param="max_tokens", code="unsupported_parameter"
            )
        messages = normalise_messages(body.get("messages"))
        limit = self._fake.context_limit_tokens or quirks.context_window
        if limit is not None:
            used = estimate_tokens(messages)
            if used > limit:
                if body.get("stream") and quirks.empty_stream_on_overflow:
                    return await _empty_stream(request)
                raise ApiError(
                    400,
                    f"This model's maximum context length is {limit} tokens. However, your "
                    f"messages resulted in {used} tokens. Please reduce the length of the messages.",
                    param="messages",
                    code="context_length_exceeded",
                )
        if body.get("stream") and quirks.no_streamed_tool_calls and self._auto_tools(body):
            return await _empty_stream(request)
        if body.get("stream") and quirks.empty_reply_for_auto_tools and self._auto_tools(body):
            return await _empty_reply(request, str(body["model"]))
        completion = self._fake.model.complete(messages)
        if body.get("tools") and quirks.tools_need_choice and body.get("tool_choice") is None:
            _without_tools(completion)
        if body.get("tool_choice") == "none":  # as OpenAI: no tool call, whatever the script
            _without_tools(completion)
        if quirks.no_text_with_auto_tools and self._auto_tools(body) and not completion.tool_calls:
            completion.text, completion.chunks = "", []
        if quirks.max_tokens_only and body.get("max_tokens") is not None:
            _cut_to(completion, int(body["max_tokens"]))
        fault = request[FAULT]
        if fault is not None and fault.kind == "run_status":
            if fault.terminal_status == "incomplete":
                completion.finish_reason = "length"
                fault = None
            else:
                fault = Fault.error_event("wrapped", message=fault.message)
        if body.get("stream"):
            return await self._stream(request, body, completion, fault)
        return await self._json(request, body, completion, fault)

    def _auto_tools(self, body: dict[str, Any]) -> bool:
        """Whether the request offers tools with ``tool_choice`` "auto" (explicit, or implied
        when the server reads a missing choice as "auto")."""
        choice = body.get("tool_choice")
        if choice is None and not self._fake.quirks.tools_need_choice:
            choice = "auto"
        return bool(body.get("tools")) and choice == "auto"

    async def props(self, request: web.Request) -> web.Response:
        """llama.cpp's ``GET /props``: the context window it was started with."""
        window = self._fake.quirks.context_window
        if window is None:
            raise ApiError(404, f"Invalid URL ({request.method} {request.path})")
        return json_response({"default_generation_settings": {"n_ctx": window}})

    async def models(self, request: web.Request) -> web.Response:
        """``GET /v1/models``; with a context window, vLLM-style ``max_model_len``."""
        model: dict[str, Any] = {"id": "fake-model", "object": "model", "owned_by": "fake"}
        window = self._fake.quirks.context_window
        if window is not None:
            model["max_model_len"] = window
        return json_response({"object": "list", "data": [model]})

    async def _json(
        self, request: web.Request, body: dict[str, Any], c: Completion, fault: Fault | None
    ) -> web.StreamResponse:
        await self._fake.model.wait_gate()
        if fault is not None:
            if fault.kind == "disconnect_after" and request.transport is not None:
                request.transport.close()
                return web.Response(status=500)
            if fault.kind == "stall_after":
                await asyncio.sleep(fault.seconds)
            if fault.kind == "error_event":
                raise ApiError(500, fault.message, code=fault.code)
        message: dict[str, Any] = {
            "role": "assistant",
            "content": c.text if (c.text or not c.tool_calls) else None,
            "refusal": None,
        }
        if c.tool_calls:
            message["tool_calls"] = [t.as_chat() for t in c.tool_calls]
        return json_response(
            {
                "id": new_id("chatcmpl-"),
                "object": "chat.completion",
                "created": now(),
                "model": body["model"],
                "system_fingerprint": None,
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "logprobs": None,
                        "finish_reason": c.finish_reason,
                    }
                ],
                "usage": _usage(c),
            }
        )

    async def _stream(
        self, request: web.Request, body: dict[str, Any], c: Completion, fault: Fault | None
    ) -> web.StreamResponse:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        cid, created, model = new_id("chatcmpl-"), now(), body["model"]

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            obj: dict[str, Any] = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": None,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
            if include_usage:
                obj["usage"] = None
            return dumps(obj)

        if self._fake.quirks.no_usage:
            include_usage = False

        response = sse_response()
        await response.prepare(request)
        sink = SseSink(request, response, fault, _chat_error_frame)
        try:
            await self._fake.model.wait_gate()
            first = {"role": "assistant", "content": "" if c.chunks or not c.tool_calls else None}
            await sink.send(chunk({**first, "refusal": None}))
            for piece in c.chunks:
                await _pace(c, sink)
                await sink.send(chunk({"content": piece}), delta=True)
            for index, call in enumerate(c.tool_calls):
                await _pace(c, sink)
                head = {
                    "index": index,
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": ""},
                }
                await sink.send(chunk({"tool_calls": [head]}), delta=True)
                for piece in call.argument_chunks:
                    await _pace(c, sink)
                    part = {"index": index, "function": {"arguments": piece}}
                    await sink.send(chunk({"tool_calls": [part]}), delta=True)
            await sink.fail_now()
            await sink.send(chunk({}, c.finish_reason))
            if include_usage:
                usage_chunk = {
                    "id": cid,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "system_fingerprint": None,
                    "choices": [],
                    "usage": _usage(c),
                }
                await sink.send(dumps(usage_chunk))
            await sink.send("[DONE]")
        except StreamAborted:
            return response
        await sink.finish()
        return response


async def _empty_stream(request: web.Request) -> web.StreamResponse:
    """200 and an event stream that ends at once: no chunk, no finish_reason, no [DONE]."""
    response = sse_response()
    await response.prepare(request)
    await response.write_eof()
    return response


async def _empty_reply(request: web.Request, model: str) -> web.StreamResponse:
    """200 and a well-formed stream of an empty assistant message, ending with ``stop``."""
    response = sse_response()
    await response.prepare(request)
    cid, created = new_id("chatcmpl"), now()
    for delta, finish in (({"role": "assistant"}, None), ({"content": ""}, None), ({}, "stop")):
        chunk = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        await response.write(f"data: {dumps(chunk)}\n\n".encode())
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


def _require_string_content(raw: Any) -> None:
    """llama-cpp-python: a message whose content is not a string is a 500."""
    for m in raw if isinstance(raw, list) else ():
        if isinstance(m, dict) and not isinstance(m.get("content"), str):
            raise ApiError(500, "Internal Server Error: message content must be a string")


def _without_tools(c: Completion) -> None:
    """The tools were ignored: the model answers in text instead of calling them."""
    if c.tool_calls:
        c.tool_calls = []
        c.text = c.text or "I have no tools to call."
        c.chunks = split_text(c.text, 4)
        c.finish_reason = "stop"


def _cut_to(c: Completion, max_tokens: int) -> None:
    """Honour ``max_tokens`` (about 4 characters a token): longer replies stop at ``length``."""
    if c.completion_tokens <= max_tokens:
        return
    c.text = c.text[: max(1, max_tokens) * 4]
    c.chunks = split_text(c.text, 4)
    c.tool_calls = []
    c.finish_reason = "length"
    c.completion_tokens = max_tokens


async def _pace(c: Completion, sink: SseSink) -> None:
    if c.delay and sink.sent > 1:
        await asyncio.sleep(c.delay)


def _usage(c: Completion) -> dict[str, Any]:
    return {
        "prompt_tokens": c.prompt_tokens,
        "completion_tokens": c.completion_tokens,
        "total_tokens": c.prompt_tokens + c.completion_tokens,
    }


def _chat_error_frame(fault: Fault) -> bytes:
    body = error_body(
        fault.message or "The server had an error while processing your request. Sorry about that!",
        type_="server_error",
        code=fault.code,
    )
    return f"data: {dumps(body)}\n\n".encode()
