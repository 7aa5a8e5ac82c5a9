"""How the fake Slack pushes events to the app: over Socket Mode, or as signed HTTP POSTs to
the app's Request URL (``X-Slack-Signature``, ``X-Slack-Request-Timestamp`` and, for
retries, ``X-Slack-Retry-Num`` / ``X-Slack-Retry-Reason``)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from slack_sdk.signature import SignatureVerifier

from tests.fakes.slack_fake.socket_mode import SocketModeEndpoint


@dataclass
class Delivery:
    """What the app answered to one delivery."""

    status: int
    body: str


class EventDelivery(Protocol):
    async def deliver(
        self, payload: dict[str, Any], *, retry_num: int = 0, retry_reason: str = ""
    ) -> Delivery: ...


class SocketDelivery:
    def __init__(self, endpoint: SocketModeEndpoint) -> None:
        self.endpoint = endpoint

    async def deliver(
        self, payload: dict[str, Any], *, retry_num: int = 0, retry_reason: str = ""
    ) -> Delivery:
        ack = await self.endpoint.send(payload, retry_attempt=retry_num, retry_reason=retry_reason)
        return Delivery(200, json.dumps(ack))


class HttpDelivery:
    """Signed POSTs to the app's Events API Request URL."""

    def __init__(self, url: str, signing_secret: str) -> None:
        self.url = url
        self.verifier = SignatureVerifier(signing_secret)
        self._session: aiohttp.ClientSession | None = None

    async def post(
        self,
        body: str,
        *,
        content_type: str = "application/json",
        retry_num: int = 0,
        retry_reason: str = "",
        timestamp: int | None = None,
        signature: str | None = None,
    ) -> Delivery:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        sig = signature or self.verifier.generate_signature(timestamp=ts, body=body) or ""
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": sig,
        }
        if retry_num:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.post(self.url, data=body.encode(), headers=headers) as resp:
            return Delivery(resp.status, await resp.text())

    async def deliver(
        self, payload: dict[str, Any], *, retry_num: int = 0, retry_reason: str = ""
    ) -> Delivery:
        return await self.post(json.dumps(payload), retry_num=retry_num, retry_reason=retry_reason)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
