"""A recording pass-through proxy between Threadbridge and the model server.

Every request is forwarded as sent and every response streamed back chunk by chunk, so the
suite can check what the server received and answered (history, ``stream``, ``max_tokens``,
``tool_choice``) without relying on what a 135M model chooses to say. ``force_tool`` names a
tool to force (``tool_choice``) once, on the next chat request that offers tools and whose last
message is the user's: the small model won't pick a tool by itself, and the suite needs a real
tool round trip. Threadbridge has no setting to force a tool, so the proxy does it.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "accept-encoding"}


@dataclass
class Exchange:
    """One request as Threadbridge sent it, what was forwarded, and the server's answer."""

    method: str
    path: str
    sent: Any
    forwarded: Any
    status: int = 0
    body: str = ""
    done: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def is_chat(self) -> bool:
        return self.path.endswith("/chat/completions") and isinstance(self.sent, dict)

    @property
    def streamed(self) -> bool:
        return bool(isinstance(self.sent, dict) and self.sent.get("stream"))

    def chunks(self) -> list[dict[str, Any]]:
        """The parsed SSE ``data:`` payloads (without ``[DONE]``) of a streamed answer."""
        out = []
        for line in self.body.splitlines():
            if line.startswith("data:"):
                data = line[5:].strip()
                if data and data != "[DONE]":
                    try:
                        out.append(json.loads(data))
                    except ValueError:
                        pass
        return out

    def content_deltas(self) -> list[str]:
        if not self.streamed:
            return [self.text()] if self.text() else []
        deltas = []
        for chunk in self.chunks():
            for choice in chunk.get("choices") or []:
                piece = (choice.get("delta") or {}).get("content")
                if piece:
                    deltas.append(piece)
        return deltas

    def text(self) -> str:
        if self.streamed:
            return "".join(self.content_deltas())
        try:
            message = json.loads(self.body)["choices"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError):
            return ""
        return message.get("content") or ""

    def finish_reasons(self) -> list[str]:
        if self.streamed:
            chunks = self.chunks()
        else:
            try:
                chunks = [json.loads(self.body)]
            except ValueError:
                return []
        return [
            choice["finish_reason"]
            for chunk in chunks
            for choice in chunk.get("choices") or []
            if choice.get("finish_reason")
        ]

    def tool_calls(self) -> list[dict[str, Any]]:
        """The tool calls the server answered with (streamed fragments merged by index)."""
        if not self.streamed:
            try:
                return json.loads(self.body)["choices"][0]["message"].get("tool_calls") or []
            except (ValueError, KeyError, IndexError, TypeError):
                return []
        calls: dict[int, dict[str, Any]] = {}
        for chunk in self.chunks():
            for choice in chunk.get("choices") or []:
                for frag in (choice.get("delta") or {}).get("tool_calls") or []:
                    call = calls.setdefault(frag.get("index", 0), {"arguments": ""})
                    if frag.get("id"):
                        call["id"] = frag["id"]
                    function = frag.get("function") or {}
                    if function.get("name"):
                        call["name"] = function["name"]
                    call["arguments"] += function.get("arguments") or ""
        return list(calls.values())

    def messages(self) -> list[dict[str, Any]]:
        return list(self.sent.get("messages") or []) if isinstance(self.sent, dict) else []

    def prompt_text(self) -> str:
        """Everything the request's messages say, as one string (for "does it remember")."""
        return json.dumps(self.messages(), ensure_ascii=False)


class RecordingProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.exchanges: list[Exchange] = []
        self.force_tool: str | None = None
        self.forced: str | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def chats(self) -> list[Exchange]:
        return [ex for ex in self.exchanges if ex.is_chat]

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_read=300), auto_decompress=True
        )
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def _rewrite(self, payload: Any) -> Any:
        if not (self.force_tool and isinstance(payload, dict) and payload.get("tools")):
            return payload
        messages = payload.get("messages") or []
        if not messages or messages[-1].get("role") != "user":
            return payload
        forced = dict(payload)
        forced["tool_choice"] = {"type": "function", "function": {"name": self.force_tool}}
        self.forced = self.force_tool
        self.force_tool = None
        return forced

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        raw = await request.read()
        try:
            sent = json.loads(raw) if raw else None
        except ValueError:
            sent = None
        forwarded = self._rewrite(sent)
        data = json.dumps(forwarded).encode() if forwarded is not sent else raw
        exchange = Exchange(request.method, request.path, sent, forwarded)
        if forwarded is not sent:
            exchange.notes.append(f"tool_choice forced to {self.forced}")
        self.exchanges.append(exchange)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        try:
            return await self._forward(request, exchange, data, headers)
        except Exception as exc:  # recorded for the failure report, then passed on as a 502
            exchange.notes.append(f"proxy: {type(exc).__name__}: {exc}")
            raise web.HTTPBadGateway(text=str(exc)) from exc

    async def _forward(
        self, request: web.Request, exchange: Exchange, data: bytes, headers: dict[str, str]
    ) -> web.StreamResponse:
        assert self._session is not None
        async with self._session.request(
            request.method, self.upstream + request.path_qs, data=data or None, headers=headers
        ) as upstream:
            exchange.status = upstream.status
            response = web.StreamResponse(status=upstream.status)
            content_type = upstream.headers.get("Content-Type")
            if content_type:
                response.headers["Content-Type"] = content_type
            await response.prepare(request)
            pieces = []
            async for piece in upstream.content.iter_any():
                pieces.append(piece)
                await response.write(piece)
            exchange.body = b"".join(pieces).decode("utf-8", "replace")
            exchange.done = True
            await response.write_eof()
            return response
