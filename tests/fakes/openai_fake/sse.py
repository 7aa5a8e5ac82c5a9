"""Server-sent-events output with stream faults applied (disconnect, stall, error event)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Literal

from aiohttp import web

from .faults import Fault
from .wire import new_id, sse_frame

AbortReason = Literal["disconnect", "error_event", "client_gone"]


class StreamAborted(Exception):
    """The stream ended early, by a fault or because the client went away."""

    def __init__(self, reason: AbortReason) -> None:
        super().__init__(reason)
        self.reason: AbortReason = reason


def sse_response() -> web.StreamResponse:
    return web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "x-request-id": new_id("req"),
        }
    )


class SseSink:
    """Writes SSE events to one response; ``error_frame(fault)`` renders the protocol's error."""

    def __init__(
        self,
        request: web.Request,
        response: web.StreamResponse,
        fault: Fault | None,
        error_frame: Callable[[Fault], bytes],
    ) -> None:
        self._request = request
        self._response = response
        self._fault = fault
        self._error_frame = error_frame
        self.sent = 0
        self._deltas = 0
        self._stalled = False

    async def send(self, data: str, event: str | None = None, *, delta: bool = False) -> None:
        fault = self._fault
        if fault is not None:
            await self._before(fault)
        await self._write(sse_frame(data, event))
        self.sent += 1
        if delta:
            self._deltas += 1
        if (
            fault is not None
            and fault.kind == "error_event"
            and fault.after_events is None
            and self._deltas == 1
            and delta
        ):
            await self._fail_with_error(fault)

    async def _before(self, fault: Fault) -> None:
        if fault.kind == "disconnect_after" and self.sent >= fault.n_events:
            transport = self._request.transport
            if transport is not None:
                transport.close()
            raise StreamAborted("disconnect")
        if fault.kind == "stall_after" and self.sent >= fault.n_events and not self._stalled:
            self._stalled = True
            await asyncio.sleep(fault.seconds)
        if (
            fault.kind == "error_event"
            and fault.after_events is not None
            and self.sent >= fault.after_events
        ):
            await self._fail_with_error(fault)

    async def fail_now(self) -> None:
        """Emit the error event of an error-event fault now (e.g. a stream with no deltas)."""
        if self._fault is not None and self._fault.kind == "error_event":
            await self._fail_with_error(self._fault)

    async def _fail_with_error(self, fault: Fault) -> None:
        await self._write(self._error_frame(fault))
        raise StreamAborted("error_event")

    async def _write(self, frame: bytes) -> None:
        try:
            await self._response.write(frame)
        except (ConnectionError, RuntimeError) as exc:
            raise StreamAborted("client_gone") from exc

    async def finish(self) -> None:
        try:
            await self._response.write_eof()
        except (ConnectionError, RuntimeError):
            pass
