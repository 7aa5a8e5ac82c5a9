"""Wire-level helpers shared by every endpoint: ids, timestamps, OpenAI-style errors, SSE frames."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from aiohttp import web

JSON_BODY: web.RequestKey[Any] = web.RequestKey("json_body")
"""The parsed JSON body of a request (None when absent or malformed), set by the middleware."""

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "invalid_request_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    429: "requests",
    500: "server_error",
    502: "server_error",
    503: "server_error",
}

_DEFAULT_MESSAGES = {
    400: "Invalid request.",
    401: "Incorrect API key provided.",
    404: "Not found.",
    409: "Conflict.",
    429: "Rate limit reached for requests. Please try again shortly.",
    500: "The server had an error while processing your request. Sorry about that!",
    502: "Bad gateway.",
    503: "The engine is currently overloaded, please try again later.",
}


def new_id(prefix: str) -> str:
    """An id shaped like OpenAI's, e.g. ``run_3f9c…`` or ``chatcmpl-…`` (pass the separator)."""
    sep = "" if prefix.endswith(("-", "_")) else "_"
    return f"{prefix}{sep}{secrets.token_hex(12)}"


def now() -> int:
    return int(time.time())


def error_body(
    message: str, *, type_: str, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


class ApiError(Exception):
    """Raised by handlers to answer with an OpenAI-style JSON error."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        *,
        param: str | None = None,
        code: str | None = None,
        type_: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.message = message or _DEFAULT_MESSAGES.get(status, f"HTTP {status}")
        self.param = param
        self.code = code
        self.type_ = type_ or _ERROR_TYPES.get(status, "api_error")
        self.headers = headers or {}
        super().__init__(f"{status}: {self.message}")

    def response(self) -> web.Response:
        body = error_body(self.message, type_=self.type_, param=self.param, code=self.code)
        headers = {"x-request-id": new_id("req"), **self.headers}
        return web.json_response(body, status=self.status, headers=headers)


def json_response(payload: Any, *, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(payload, headers={"x-request-id": new_id("req"), **(headers or {})})


def sse_frame(data: str, event: str | None = None) -> bytes:
    """One SSE event. ``data`` must not contain newlines (compact JSON never does)."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data}\n\n".encode()


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def text_of(content: Any) -> str:
    """Plain text of a message ``content``: a string, a list of parts, or None."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out: list[str] = []
        for part in content:
            if isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, dict):  # Assistants: {"type":"text","text":{"value":...}}
                    text = text.get("value")
                if isinstance(text, str):
                    out.append(text)
        return "".join(out)
    return str(content)
