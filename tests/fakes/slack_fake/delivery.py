"""How the fake Slack pushes events and slash commands to the app: over Socket Mode
(``events_api`` / ``slash_commands`` envelopes), or as signed HTTP POSTs to the app's Request
URL (``X-Slack-Signature``, ``X-Slack-Request-Timestamp`` and, for retried events,
``X-Slack-Retry-Num`` / ``X-Slack-Retry-Reason``): events as JSON, commands form-encoded."""

from __future__ import annotations

import json
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from slack_sdk.signature import SignatureVerifier

from tests.fakes.slack_fake.socket_mode import SocketModeEndpoint


@dataclass
class Delivery:
    """What the app answered to one delivery. For a slash command, ``body`` is the response
    the user sees (the HTTP response body, or the Socket Mode ack's payload)."""

    status: int
    body: str
    content_type: str = "application/json"

    def json(self) -> dict[str, Any]:
        """The answer as Slack reads it: a JSON object, or plain text meaning ``{"text": …}``."""
        if not self.content_type.startswith("application/json"):
            return {"text": self.body} if self.body else {}
        data = json.loads(self.body) if self.body else {}
        return data if isinstance(data, dict) else {}


class EventDelivery(Protocol):
    async def deliver(
        self, payload: dict[str, Any], *, retry_num: int = 0, retry_reason: str = ""
    ) -> Delivery: ...

    async def deliver_command(self, payload: dict[str, str]) -> Delivery: ...


class SocketDelivery:
    def __init__(self, endpoint: SocketModeEndpoint) -> None:
        self.endpoint = endpoint

    async def deliver(
        self, payload: dict[str, Any], *, retry_num: int = 0, retry_reason: str = ""
    ) -> Delivery:
        ack = await self.endpoint.send(payload, retry_attempt=retry_num, retry_reason=retry_reason)
        return Delivery(200, json.dumps(ack))

    async def deliver_command(self, payload: dict[str, str]) -> Delivery:
        ack = await self.endpoint.send(
            payload, envelope_type="slash_commands", accepts_response_payload=True
        )
        return Delivery(200, json.dumps(ack.get("payload") or {}))


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
            return Delivery(resp.status, await resp.text(), resp.content_type)

    async def deliver(
        self, payload: dict[str, Any], *, retry_num: int = 0, retry_reason: str = ""
    ) -> Delivery:
        return await self.post(json.dumps(payload), retry_num=retry_num, retry_reason=retry_reason)

    async def deliver_command(self, payload: dict[str, str]) -> Delivery:
        return await self.post(
            urllib.parse.urlencode(payload), content_type="application/x-www-form-urlencoded"
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
