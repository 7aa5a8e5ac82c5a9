"""The Slack adapter (the contract of :mod:`bots.common.adapter`): Socket Mode when
SLACK_APP_TOKEN is set, otherwise HTTP mode (an aiohttp server on PORT with
``POST /slack/events`` and ``GET /healthz``). Once connected (Socket Mode up / HTTP server
listening), the messages a crash left unanswered are answered (:meth:`SlackAdapter.reopen`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError

from bots.common.observer import Observer, ignore
from bots.errors import StartupError
from bots.slack.app import build_app, check_no_oauth_env, prime_authorization
from bots.slack.client import build_web_client
from bots.slack.intake import SlackIntake
from bots.slack.keys import PLATFORM
from bots.slack.pacing import SlackPacing
from bots.slack.port import SlackReplyPort
from bots.slack.reply_message import error_code
from bots.slack.settings import SlackSettings
from bots.slack.tools import TOOLS
from core.engine import Engine
from core.messages import IncomingMessage
from core.settings import load

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
SECRET_PATTERNS = ((r"\b(xox[abpr]-|xapp-)[A-Za-z0-9-_]{6,}", r"\1…"),)
"""Slack bot, user and app-level tokens, masked in every log line."""


def refusal(body: bytes, headers: Mapping[str, str]) -> tuple[int, str] | None:
    """Junk that must not reach Bolt (it would answer 500 with a traceback): a body that is
    not UTF-8 (400) or a request timestamp that is not a number (401, as a bad signature)."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return 400, "the body is not UTF-8"
    stamp = headers.get("X-Slack-Request-Timestamp")
    if stamp is not None and not stamp.strip().isdigit():
        return 401, "the request timestamp is not a number"
    return None


def configured() -> bool:
    return load(SlackSettings).configured


def create(options: Mapping[str, Any]) -> SlackAdapter:
    return SlackAdapter(load(SlackSettings))


class SlackAdapter:
    platform = PLATFORM
    tools = TOOLS
    secret_patterns = SECRET_PATTERNS

    def __init__(
        self,
        settings: SlackSettings,
        *,
        host: str = "0.0.0.0",
        pacing: SlackPacing | None = None,
        stream: bool = True,
        observe: Observer = ignore,
    ) -> None:
        self.settings = settings
        self.host = host
        self.pacing = pacing
        self.stream = stream
        self.observe = observe
        self.socket_mode = settings.socket_mode
        self.port: int | None = None
        self.app: AsyncApp | None = None
        self.intake: SlackIntake | None = None
        self._session: aiohttp.ClientSession | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None
        self._closed = asyncio.Event()

    def _check(self) -> str:
        token = self.settings.bot_token
        if not token:
            raise StartupError("Invalid setting SLACK_BOT_TOKEN: is required for Slack")
        check_no_oauth_env()
        if not self.socket_mode and not self.settings.signing_secret:
            raise StartupError(
                "Invalid setting SLACK_SIGNING_SECRET: is required for Slack HTTP mode "
                "(or set SLACK_APP_TOKEN for Socket Mode)"
            )
        return token

    async def start(self, engine: Engine) -> None:
        token = self._check()
        self._session = aiohttp.ClientSession()
        try:
            client = build_web_client(token, self.settings.api_url, self._session)
            try:
                me = await client.auth_test()
            except SlackApiError as exc:
                raise StartupError(
                    f"Invalid setting SLACK_BOT_TOKEN: Slack answered {error_code(exc)}"
                ) from exc
            self.app, self.intake = build_app(
                self.settings,
                engine,
                client,
                socket_mode=self.socket_mode,
                pacing=self.pacing,
                stream=self.stream,
                observe=self.observe,
            )
            prime_authorization(self.app, me)
            if self.socket_mode:
                await self._start_socket_mode()
            else:
                await self._start_http()
            log.info(
                "slack ready as %s in %s (%s mode)",
                me.get("user_id"),
                me.get("team_id"),
                "socket" if self.socket_mode else f"http on port {self.port}",
            )
        except BaseException:
            await self.stop()
            raise

    async def reopen(self, msg: IncomingMessage) -> SlackReplyPort | None:
        """See :meth:`bots.slack.intake.SlackIntake.reopen`. Resumed right after connecting:
        events arriving then await storage before they are queued, so older messages go
        first."""
        assert self.intake is not None, "start() first"
        return await self.intake.reopen(msg)

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def _start_socket_mode(self) -> None:
        assert self.app is not None
        app_token = self.settings.app_token or ""
        try:  # the SDK would retry a rejected app token forever; fail start-up instead
            await self.app.client.apps_connections_open(app_token=app_token)
        except SlackApiError as exc:
            raise StartupError(
                f"Invalid setting SLACK_APP_TOKEN: Slack answered {error_code(exc)}"
            ) from exc
        self._socket = AsyncSocketModeHandler(self.app, app_token)
        await self._socket.connect_async()

    async def _start_http(self) -> None:
        app = self.app
        assert app is not None

        async def events(request: web.Request) -> web.Response:
            body = await request.read()
            refused = refusal(body, request.headers)
            if refused is not None:
                status, why = refused
                log.warning("slack events: refused a request (%d): %s", status, why)
                return web.Response(status=status, text=why)
            try:  # Bolt parses the body before it checks the signature
                bolt_request = AsyncBoltRequest(
                    body=body.decode("utf-8"),
                    query=request.query_string,
                    headers=request.headers,  # type: ignore[arg-type]
                )
            except ValueError:
                log.warning("slack events: refused a request (400): the body can't be parsed")
                return web.Response(status=400, text="the body can't be parsed")
            return await to_aiohttp_response(await app.async_dispatch(bolt_request))

        async def healthz(request: web.Request) -> web.Response:
            return web.json_response({"ok": True, "platform": "slack", "mode": "http"})

        web_app = web.Application()
        web_app.router.add_post(EVENTS_PATH, events)
        web_app.router.add_get("/healthz", healthz)
        self._runner = web.AppRunner(web_app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.settings.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.settings.port

    async def stop_taking(self) -> None:
        """Close the event socket or the HTTP listener: Slack delivers what comes next to the
        next process (an unacknowledged Socket Mode event, an HTTP retry). The web client stays
        open for the replies still streaming."""
        self._closed.set()
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def stop(self) -> None:
        await self.stop_taking()
        if self._session is not None:
            await self._session.close()
            self._session = None
