"""Running the Slack adapter: Socket Mode when SLACK_APP_TOKEN is set, otherwise HTTP mode
(an aiohttp server on PORT with ``POST /slack/events`` and ``GET /healthz``).

Once connected (Socket Mode up / HTTP server listening), the messages a crash left unanswered
are answered, once per start (``Engine.resume_interrupted``).

``serve(settings, engine)`` is what ``python -m bots slack`` runs; ``SlackService`` is the
same thing with explicit start/stop (tests and benchmarks use it to learn the bound port).
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bots.errors import StartupError
from bots.slack.app import build_app, check_no_oauth_env
from bots.slack.client import build_web_client
from bots.slack.handlers import SlackHandlers
from bots.slack.keys import PLATFORM
from bots.slack.pacing import SlackPacing
from bots.slack.reply_message import error_code
from bots.slack.tools import register_slack_tools
from core.engine import Engine
from core.settings import Settings

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


class SlackService:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        host: str = "0.0.0.0",
        pacing: SlackPacing | None = None,
        stream: bool = True,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.host = host
        self.pacing = pacing
        self.stream = stream
        self.socket_mode = bool(settings.slack_app_token)
        self.port: int | None = None
        self.app: AsyncApp | None = None
        self.handlers: SlackHandlers | None = None
        self._session: aiohttp.ClientSession | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None
        self._resumed = False

    def _check(self) -> str:
        token = self.settings.slack_bot_token
        if not token:
            raise StartupError("Invalid setting SLACK_BOT_TOKEN: is required for Slack")
        check_no_oauth_env()
        if not self.socket_mode and not self.settings.slack_signing_secret:
            raise StartupError(
                "Invalid setting SLACK_SIGNING_SECRET: is required for Slack HTTP mode "
                "(or set SLACK_APP_TOKEN for Socket Mode)"
            )
        return token

    async def start(self) -> None:
        token = self._check()
        self._session = aiohttp.ClientSession()
        try:
            client = build_web_client(token, self.settings.slack_api_url, self._session)
            try:
                me = await client.auth_test()
            except SlackApiError as exc:
                raise StartupError(
                    f"Invalid setting SLACK_BOT_TOKEN: Slack answered {error_code(exc)}"
                ) from exc
            register_slack_tools(self.engine.registry)
            self.app, self.handlers = build_app(
                self.settings,
                self.engine,
                client,
                socket_mode=self.socket_mode,
                pacing=self.pacing,
                stream=self.stream,
            )
            if self.socket_mode:
                await self._start_socket_mode()
            else:
                await self._start_http()
            await self._resume_interrupted()
            log.info(
                "slack ready as %s in %s (%s mode)",
                me.get("user_id"),
                me.get("team_id"),
                "socket" if self.socket_mode else f"http on port {self.port}",
            )
        except BaseException:
            await self.stop()
            raise

    async def _resume_interrupted(self) -> None:
        """Queue the messages a crash left unanswered (once), right after connecting: events
        arriving now await storage before they are queued, so the older messages go first."""
        if self._resumed:
            return
        self._resumed = True
        assert self.handlers is not None
        await self.engine.resume_interrupted(PLATFORM, self.handlers.reopen)

    async def _start_socket_mode(self) -> None:
        assert self.app is not None
        app_token = self.settings.slack_app_token or ""
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
            bolt_resp = await app.async_dispatch(await to_bolt_request(request))
            return await to_aiohttp_response(bolt_resp)

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

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None


async def serve(settings: Settings, engine: Engine) -> None:
    """Run the Slack adapter until cancelled, then clean up."""
    service = SlackService(settings, engine)
    await service.start()
    try:
        await asyncio.Event().wait()
    finally:
        await service.stop()
