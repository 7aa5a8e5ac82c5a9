"""The fake Socket Mode endpoint: a WebSocket at ``/link`` that says hello, sends
``events_api`` and ``slash_commands`` envelopes and waits for the client's
``{"envelope_id"[, "payload"]}`` acks."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from typing import Any

from aiohttp import WSMsgType, web

log = logging.getLogger(__name__)


class SocketModeEndpoint:
    def __init__(self) -> None:
        self.connections: list[web.WebSocketResponse] = []
        self.connects = 0
        self.acks: list[dict[str, Any]] = []
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._changed = asyncio.Condition()

    async def handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connections.append(ws)
        self.connects += 1
        async with self._changed:
            self._changed.notify_all()
        await ws.send_str(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": len(self.connections),
                    "debug_info": {"host": "fake-slack", "approximate_connection_time": 3600},
                    "connection_info": {"app_id": "A0APP0001"},
                }
            )
        )
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                self.acks.append(data)
                fut = self._pending.pop(str(data.get("envelope_id")), None)
                if fut is not None and not fut.done():
                    fut.set_result(data)
        finally:
            self.connections.remove(ws)
            async with self._changed:
                self._changed.notify_all()
        return ws

    async def wait_connected(self, count: int = 1, within: float = 5.0) -> None:
        """Wait until at least ``count`` clients are connected."""
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: len(self.connections) >= count)

    async def send(
        self,
        payload: dict[str, Any],
        *,
        retry_attempt: int = 0,
        retry_reason: str = "",
        envelope_type: str = "events_api",
        accepts_response_payload: bool = False,
        within: float = 5.0,
    ) -> dict[str, Any]:
        """Send one envelope (``events_api`` unless told) and return the client's ack."""
        await self.wait_connected(within=within)
        envelope_id = f"env-{next(self._ids)}"
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[envelope_id] = fut
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": envelope_type,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if envelope_type == "events_api":
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = retry_reason
        await self.connections[-1].send_str(json.dumps(envelope))
        try:
            async with asyncio.timeout(within):
                return await fut
        finally:
            self._pending.pop(envelope_id, None)

    async def disconnect_all(self, reason: str = "refresh_requested") -> None:
        """Ask every client to reconnect, as Slack does before it recycles a connection."""
        for ws in list(self.connections):
            await ws.send_str(json.dumps({"type": "disconnect", "reason": reason}))

    async def close(self) -> None:
        for ws in list(self.connections):
            await ws.close()
