"""FakeDiscord: REST (``/api/v10``) and the gateway (``/gw``) on one aiohttp server on
127.0.0.1 with an ephemeral port, plus the scripting API tests use to act as users.

    async with FakeDiscord() as fake:
        discord.http.Route.BASE = fake.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = fake.gateway_url
        ...
        msg = await fake.user_says(fake.general["id"], fake.alice["id"], "hi <@bot>")
        inter = await fake.slash("ask", {"prompt": "hello"}, fake.alice["id"], channel_id)
        await fake.wait_for(lambda: ..., timeout=5)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import yarl
from aiohttp import web

from tests.fakes.discord_fake import permissions as perms
from tests.fakes.discord_fake.faults import Buckets, Fault, Hold, Injection, Limit, RateLimitHit
from tests.fakes.discord_fake.gateway import Gateway
from tests.fakes.discord_fake.interactions import FakeInteraction
from tests.fakes.discord_fake.rest import Rest, json_response
from tests.fakes.discord_fake.snowflakes import SnowflakeMaker
from tests.fakes.discord_fake.world import DM, TEXT, World

API_PREFIX = "/api/v10"
GLOBAL = "global"
"""The limit name of the bot-wide window over all REST requests but interaction endpoints."""
_INTERACTION_ROUTE = re.compile(r"^/(?:interactions/\d+/[^/]+/callback|webhooks/\d+/[^/]+)")

DISCORD_LIKE_LIMITS = {
    "messages_post": Limit(5, 5.0),
    "messages_patch": Limit(5, 5.0),
    "webhook": Limit(5, 2.0),
    "reactions": Limit(1, 0.25),
    GLOBAL: Limit(50, 1.0),
}
"""Per-channel (or per-token) windows similar to what Discord reports for these routes, and
the global limit of 50 requests per second (interaction endpoints are exempt)."""


@dataclass(slots=True)
class LoggedRequest:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int
    at: float
    response_headers: dict[str, str] = field(default_factory=dict)


class FakeDiscord:
    """A stateful, scriptable Discord for tests: see the module docstring."""

    def __init__(
        self, *, limits: dict[str, Limit] | None = None, token: str = "fake-token"
    ) -> None:
        self.ids = SnowflakeMaker()
        self.world = World(self.ids)
        self.token = token
        self.buckets = Buckets(dict(limits or {}))
        self.requests: list[LoggedRequest] = []
        self.rate_limited: list[RateLimitHit] = []
        self.injections: list[Injection] = []
        self.holds: list[Hold] = []
        self.report_limits = True
        """False: successful responses carry no ``X-RateLimit-*`` headers, like a hidden
        sub-limit Discord doesn't report, so clients can't pace from them."""
        self.interactions: dict[str, FakeInteraction] = {}
        self.callback_deadline = 3.0
        self.gateway = Gateway(self)
        self.rest = Rest(self)
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.on_request: Callable[[LoggedRequest], None] | None = None
        self._populate()

    # --- default world ------------------------------------------------------------------------
    def _populate(self) -> None:
        w = self.world
        self.guild = w.add_guild()
        gid = self.guild["id"]
        self.member_role = w.add_role(gid, "Member", 0)
        self.mod_role = w.add_role(gid, "Moderator", perms.SEND_MESSAGES)
        self.general = w.add_text_channel(gid, "general")
        self.random = w.add_text_channel(gid, "random")
        deny_send = {"id": gid, "type": 0, "allow": "0", "deny": str(perms.SEND_MESSAGES)}
        allow_mods = {
            "id": self.mod_role["id"],
            "type": 0,
            "allow": str(perms.SEND_MESSAGES),
            "deny": "0",
        }
        self.announcements = w.add_text_channel(gid, "announcements", [deny_send, allow_mods])
        self.alice = self.add_member("alice", roles=[self.member_role["id"]])
        self.bob = self.add_member("bob", roles=[self.member_role["id"], self.mod_role["id"]])

    def add_member(
        self, name: str, roles: list[str] | None = None, bot: bool = False
    ) -> dict[str, Any]:
        user = self.world.add_user(name, bot=bot)
        self.world.add_member(self.guild["id"], user["id"], roles)
        return user

    def add_channel(self, name: str) -> dict[str, Any]:
        return self.world.add_text_channel(self.guild["id"], name)

    @property
    def bot(self) -> dict[str, Any]:
        return self.world.bot

    # --- lifecycle ----------------------------------------------------------------------------
    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/gw", self.gateway.handle)
        app.router.add_get("/gw/", self.gateway.handle)
        self._route_meta: dict[Any, tuple[str | None, str | None]] = {}
        for method, path, handler, bucket, major in self.rest.routes():
            route = app.router.add_route(method, API_PREFIX + path, handler)
            self._route_meta[route.resource] = (bucket, major)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server: Any = site._server
        self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for hold in self.holds:
            hold.release()
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> yarl.URL:
        return yarl.URL(f"ws://127.0.0.1:{self.port}/gw")

    # --- request pipeline: log, faults, rate limits -------------------------------------------
    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path.startswith("/gw"):
            return await handler(request)
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
        path = request.path.removeprefix(API_PREFIX)
        response = await self._respond(request, handler, path)
        self.log_request(
            request.method,
            path,
            dict(request.query),
            body,
            response.status,
            dict(response.headers),
        )
        return response

    async def _respond(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
        path: str,
    ) -> web.StreamResponse:
        if request.headers.get("Authorization") not in (f"Bot {self.token}", None):
            return json_response({"message": "401: Unauthorized", "code": 0}, 401)
        bucket, major_name = self._route_meta.get(request.match_info.route.resource, (None, None))
        major = request.match_info.get(major_name or "", "")
        for inj in self.injections:
            if inj.matches(request.method, path):
                inj.times -= 1
                if inj.fault.http_status == 429:
                    self._record_429(bucket or "injected", major, request.method, path, True)
                return json_response(inj.fault.body, inj.fault.http_status, inj.fault.headers)
        if GLOBAL in self.buckets.limits and not _INTERACTION_ROUTE.match(path):
            allowed, _, retry_after = self.buckets.take(GLOBAL, "")
            if not allowed:
                self._record_429(GLOBAL, "", request.method, path, False)
                body = {"message": "You are being rate limited.", "retry_after": retry_after}
                body["global"] = True
                global_headers = {
                    "Via": "1.1 google",
                    "X-RateLimit-Global": "true",
                    "X-RateLimit-Scope": "global",
                    "Retry-After": f"{retry_after:.3f}",
                }
                return json_response(body, 429, global_headers)
        headers: dict[str, str] = {}
        if bucket is not None:
            allowed, headers, retry_after = self.buckets.take(bucket, major)
            if not allowed:
                self._record_429(bucket, major, request.method, path, False)
                body = {"message": "You are being rate limited.", "retry_after": retry_after}
                body["global"] = False
                headers = {**headers, "Via": "1.1 google", "X-RateLimit-Scope": "user"}
                return json_response(body, 429, headers)
        response = await handler(request)
        for k, v in headers.items() if self.report_limits else ():
            response.headers[k] = v
        for hold in self.holds:
            if hold.matches(request.method, path):
                hold.times -= 1
                await hold.wait_released()
                break
        return response

    def _record_429(self, bucket: str, major: str, method: str, path: str, injected: bool) -> None:
        self.rate_limited.append(
            RateLimitHit(bucket, major, method, path, injected, time.monotonic())
        )

    def log_request(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: Any,
        status: int,
        response_headers: dict[str, str] | None = None,
    ) -> None:
        entry = LoggedRequest(
            method, path, query, body, status, time.monotonic(), dict(response_headers or {})
        )
        self.requests.append(entry)
        if self.on_request is not None:
            self.on_request(entry)
        self.notify()

    def inject(
        self, fault: Fault, *, method: str | None = None, path: str | None = None, times: int = 1
    ) -> Injection:
        """Answer the next ``times`` matching requests (path substring) with ``fault``."""
        inj = Injection(fault, method, path, times)
        self.injections.append(inj)
        return inj

    def hold(self, *, method: str | None = None, path: str | None = None, times: int = 1) -> Hold:
        """Delay the responses of the next ``times`` matching requests (path substring) until
        ``release()``; the request takes effect (and is echoed on the gateway) at once."""
        held = Hold(method, path, times)
        self.holds.append(held)
        return held

    # --- waiting ------------------------------------------------------------------------------
    def notify(self) -> None:
        self._changed.set()

    async def wait_for(self, predicate: Callable[[], Any], within: float = 5.0) -> Any:
        """Wait until ``predicate()`` is truthy: re-checked on every change of the fake's state,
        and every 10 ms for predicates about the client's side; bounded by ``within``."""
        async with asyncio.timeout(within):
            while True:
                result = predicate()
                if result:
                    return result
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), 0.01)

    async def dispatch(self, event: str, data: Any) -> None:
        await self.gateway.dispatch(event, data)
        self.notify()

    async def wait_connected(self, within: float = 5.0) -> None:
        await self.wait_for(lambda: any(s.identified for s in self.gateway.sessions), within)

    # --- acting as users ----------------------------------------------------------------------
    async def user_says(
        self,
        channel_id: str,
        user_id: str,
        content: str,
        *,
        reply_to: str | None = None,
        attachments: list[str] | None = None,
    ) -> dict[str, Any]:
        """A user posts a message (dispatched as MESSAGE_CREATE); ``attachments``: file names."""
        msg = self.world.new_message(
            channel_id, user_id, content, reply_to=reply_to, attachments=attachments
        )
        await self.dispatch("MESSAGE_CREATE", msg)
        return msg

    async def dm(
        self, user_id: str, content: str, *, attachments: list[str] | None = None
    ) -> dict[str, Any]:
        channel = self.world.dm_channel(user_id)
        return await self.user_says(channel["id"], user_id, content, attachments=attachments)

    async def user_thread(self, channel_id: str, user_id: str, name: str) -> dict[str, Any]:
        """A user opens a public thread of their own (dispatched as THREAD_CREATE)."""
        thread = self.world.add_thread(channel_id, name, user_id)
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        return thread

    async def system_message(self, channel_id: str, user_id: str, type_: int = 7) -> dict[str, Any]:
        """E.g. type 7: a member joined."""
        msg = self.world.new_message(channel_id, user_id, "", msg_type=type_)
        await self.dispatch("MESSAGE_CREATE", msg)
        return msg

    async def slash(
        self,
        name: str,
        options: dict[str, str],
        user_id: str,
        channel_id: str,
        *,
        created_at: float | None = None,
    ) -> FakeInteraction:
        """A user runs ``/name`` (dispatched as INTERACTION_CREATE). ``created_at`` back-dates
        the interaction id, which is what token expiry is measured from."""
        channel = self.world.channels[channel_id]
        gid = channel.get("guild_id")
        iid = self.ids.next(at=created_at)
        token = "tok_" + secrets.token_urlsafe(24)
        scope = self.world.commands.get(gid or "", []) + self.world.commands.get("global", [])
        command = next((c for c in scope if c["name"] == name), None)
        payload: dict[str, Any] = {
            "id": iid,
            "application_id": self.world.app_id,
            "type": 2,
            "data": {
                "id": command["id"] if command else self.ids.next(),
                "name": name,
                "type": 1,
                "options": [{"name": k, "type": 3, "value": v} for k, v in options.items()],
            },
            "channel_id": channel_id,
            "channel": self._channel_stub(channel),
            "token": token,
            "version": 1,
            "app_permissions": str(perms.ALL),
            "locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": gid} if gid else {"1": user_id},
            "context": 0 if gid else 1,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if gid:
            payload["guild_id"] = gid
            payload["guild_locale"] = "en-US"
            member = self.world.member_payload(gid, user_id, with_user=True)
            member["permissions"] = str(self.world.permissions_in(user_id, channel_id))
            payload["member"] = member
        else:
            payload["user"] = self.world.users[user_id]
        inter = FakeInteraction(iid, token, name, user_id, channel_id, gid, payload)
        self.interactions[token] = inter
        await self.dispatch("INTERACTION_CREATE", payload)
        return inter

    def expire(self, inter: FakeInteraction) -> None:
        """The interaction's token stops working now (as it does 15 minutes after creation)."""
        inter.revoked = True

    @staticmethod
    def _channel_stub(channel: dict[str, Any]) -> dict[str, Any]:
        if channel["type"] == DM:
            return {"id": channel["id"], "type": DM, "recipients": channel["recipients"]}
        return {k: v for k, v in channel.items() if k != "permission_overwrites"} | {
            "permissions": str(perms.ALL)
        }

    # --- queries for assertions ---------------------------------------------------------------
    def messages_in(self, channel_id: str) -> list[dict[str, Any]]:
        return self.world.channel_messages(channel_id)

    def bot_messages(self, channel_id: str) -> list[dict[str, Any]]:
        return [
            m
            for m in self.world.channel_messages(channel_id)
            if m["author"]["id"] == self.bot["id"] and not m.get("deleted")
        ]

    def original(self, inter: FakeInteraction) -> dict[str, Any] | None:
        return self.world.messages.get(inter.original_id) if inter.original_id else None

    def threads_of(self, channel_id: str) -> list[dict[str, Any]]:
        return [c for c in self.world.channels.values() if c.get("parent_id") == channel_id]

    def requests_to(self, method: str, fragment: str) -> list[LoggedRequest]:
        return [r for r in self.requests if r.method == method and fragment in r.path]


__all__ = ["DISCORD_LIKE_LIMITS", "TEXT", "FakeDiscord", "LoggedRequest"]
