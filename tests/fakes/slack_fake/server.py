"""``FakeSlack``: a stateful fake of the Slack Web API, file uploads and Socket Mode on
127.0.0.1 (ephemeral port), for driving the real slack_sdk and Bolt in tests.

    async with FakeSlack() as slack:
        client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.base_url)
        slack.inject("chat.update", Fault.rate_limited(1))
        posted = await slack.say("U1", "C1", f"<@{BOT_USER_ID}> hi")   # delivers the events
        await slack.wait_for(lambda: slack.ws.bot_messages("C1"))

It keeps a request log (``slack.requests``), per-method fault injection (``inject``),
workspace-wide rate limits (``set_rate_limit``, or ``enforce_tiers`` for Slack's documented
tiers), per-channel rate limits (``set_channel_rate_limit``, or ``enforce_channel_limits`` for
chat.postMessage's one per second per channel), and pushes events and slash commands (``slash_command``) to the app over Socket Mode
(default) or signed HTTP (``use_http_events``). Bot messages are echoed back as events, as
Slack does, so the app's "ignore my own messages" rules are exercised.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.slack_fake import events as ev
from tests.fakes.slack_fake.delivery import Delivery, EventDelivery, HttpDelivery, SocketDelivery
from tests.fakes.slack_fake.faults import (
    SLACK_CHANNEL_LIMITS,
    SLACK_TIERS,
    Fault,
    Injection,
    RateLimit,
)
from tests.fakes.slack_fake.methods import ApiError, Methods
from tests.fakes.slack_fake.socket_mode import SocketModeEndpoint
from tests.fakes.slack_fake.state import (
    APP_TOKEN,
    BOT_TOKEN,
    BOT_USER_ID,
    AssistantThread,
    Message,
    Workspace,
)

log = logging.getLogger(__name__)


@dataclass
class ApiRequest:
    """One Web API call as the fake saw it."""

    method: str
    args: dict[str, Any]
    http_method: str
    content_type: str
    at: float
    status: int = 200
    ok: bool = True
    error: str | None = None
    response: dict[str, Any] = field(default_factory=dict)


@dataclass
class UserPost:
    """A message a simulated user posted, and the events Slack delivered for it."""

    channel: str
    ts: str
    event_ids: list[str]
    deliveries: list[Delivery]


class FakeSlack:
    def __init__(self, *, echo_bot_messages: bool = True) -> None:
        self.ws = Workspace()
        self.requests: list[ApiRequest] = []
        self.injections: list[Injection] = []
        self.rate_limits: dict[str, RateLimit] = {}
        self.channel_limits: dict[str, tuple[float, int]] = {}
        """Per-channel limits by method: (per minute, burst)."""
        self._channel_buckets: dict[tuple[str, str], RateLimit] = {}
        self.status_429: Counter[str] = Counter()
        """429 answers per method (injected or from a rate limit)."""
        self.limited_429: Counter[str] = Counter()
        """429 answers per method caused by a configured rate limit only."""
        self.limited_429_by_channel: Counter[tuple[str, str]] = Counter()
        """429 answers from per-channel limits, by (method, channel)."""
        self.latency = 0.0
        """Seconds added to every Web API call (benchmarks)."""
        self.echo_bot_messages = echo_bot_messages
        self.socket = SocketModeEndpoint()
        self.delivery: EventDelivery | None = SocketDelivery(self.socket)
        """Where events go; None records them without delivering (tests of the fake alone)."""
        self.sent_events: list[tuple[dict[str, Any], int, Delivery]] = []
        self.commands: list[tuple[dict[str, str], Delivery]] = []
        """Slash commands delivered, with what the app answered."""
        self.command_responses: list[tuple[str, dict[str, Any]]] = []
        """Messages the app sent to a command's ``response_url``: (trigger id, JSON body)."""
        self.on_request: Callable[[ApiRequest], None] | None = None
        self.methods = Methods(
            self.ws,
            upload_base=lambda: f"{self.url}/upload/",
            socket_url=lambda: f"ws://127.0.0.1:{self.port}/link",
            on_bot_message=self._echo,
        )
        self._table = self.methods.table()
        self._changed: asyncio.Condition | None = None
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.port = 0

    # --- lifecycle -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The Web API base URL to give ``AsyncWebClient(base_url=…)`` / SLACK_API_URL."""
        return f"{self.url}/api/"

    async def __aenter__(self) -> FakeSlack:
        self._changed = asyncio.Condition()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/respond/{trigger}", self._respond)
        app.router.add_get("/link", self.socket.handler)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.socket.close()
        if isinstance(self.delivery, HttpDelivery):
            await self.delivery.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- scripting -------------------------------------------------------------------------
    def inject(
        self,
        method: str,
        fault: Fault,
        *,
        times: int | None = 1,
        after: int = 0,
        when: Callable[[dict[str, Any]], bool] | None = None,
    ) -> Injection:
        """Make ``method`` fail with ``fault`` (``times`` times, after ``after`` good calls)."""
        inj = Injection(method, fault, times=times, after=after, when=when)
        self.injections.append(inj)
        return inj

    def set_rate_limit(self, method: str, per_minute: float, burst: int = 1) -> None:
        """A workspace-wide limit for ``method``; excess calls get 429 with Retry-After."""
        self.rate_limits[method] = RateLimit(per_minute, burst)

    def enforce_tiers(self, speedup: float = 1.0) -> None:
        """Slack's documented rate tiers (:data:`SLACK_TIERS`) for the methods a reply uses,
        workspace-wide; ``speedup`` multiplies the rates (not the bursts) to compress time."""
        for method, (per_minute, burst) in SLACK_TIERS.items():
            self.set_rate_limit(method, per_minute * speedup, burst)

    def set_channel_rate_limit(self, method: str, per_minute: float, burst: int = 1) -> None:
        """A limit for ``method`` in each channel (by its ``channel`` argument) on its own;
        excess calls get 429 with Retry-After."""
        self.channel_limits[method] = (per_minute, burst)
        self._channel_buckets = {k: v for k, v in self._channel_buckets.items() if k[0] != method}

    def enforce_channel_limits(self, speedup: float = 1.0) -> None:
        """Slack's per-channel limits (:data:`SLACK_CHANNEL_LIMITS`: chat.postMessage about
        once a second per channel); ``speedup`` multiplies the rates, not the bursts."""
        for method, (per_minute, burst) in SLACK_CHANNEL_LIMITS.items():
            self.set_channel_rate_limit(method, per_minute * speedup, burst)

    def use_http_events(self, url: str, signing_secret: str) -> HttpDelivery:
        """Deliver events as signed HTTP POSTs to ``url`` instead of over Socket Mode."""
        self.delivery = HttpDelivery(url, signing_secret)
        return self.delivery

    def calls(self, method: str | None = None) -> list[ApiRequest]:
        return [r for r in self.requests if method is None or r.method == method]

    async def wait_for(self, predicate: Callable[[], Any], within: float = 5.0) -> Any:
        """Wait until ``predicate()`` is truthy; re-checked after every API call and event."""
        assert self._changed is not None
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(predicate)
        return predicate()

    async def _notify(self) -> None:
        if self._changed is not None:
            async with self._changed:
                self._changed.notify_all()

    # --- simulated users -------------------------------------------------------------------
    async def say(
        self,
        user: str,
        channel: str,
        text: str,
        *,
        thread_ts: str | None = None,
        bot_id: str | None = None,
    ) -> UserPost:
        """A user (or, with ``bot_id``, another app's bot user) posts a message. Slack delivers
        a ``message`` event and, when a human mentions the bot outside a DM, an
        ``app_mention`` event too (message first, the harder order)."""
        ch = self.ws.channels[channel]
        msg = Message(channel, self.ws.next_ts(), user=user, thread_ts=thread_ts, text=text)
        msg.bot_id = bot_id
        self.ws.messages[(channel, msg.ts)] = msg
        payloads = [ev.event_callback(ev.message_event(msg, ch))]
        if ch.type != "im" and not bot_id and f"<@{BOT_USER_ID}>" in text:
            payloads.append(ev.event_callback(ev.app_mention_event(msg)))
        deliveries = [await self.send_event(p) for p in payloads]
        return UserPost(channel, msg.ts, [p["event_id"] for p in payloads], deliveries)

    async def dm(self, user: str, text: str, *, thread_ts: str | None = None) -> UserPost:
        return await self.say(user, self.ws.dm_with(user).id, text, thread_ts=thread_ts)

    async def edit(self, channel: str, ts: str, text: str) -> Delivery:
        """A user edits a message: Slack sends a ``message_changed`` event."""
        msg = self.ws.messages[(channel, ts)]
        previous, msg.text = msg.text, text
        return await self.send_event(
            ev.event_callback(ev.message_changed_event(msg, self.ws.channels[channel], previous))
        )

    async def delete(self, channel: str, ts: str) -> Delivery:
        """A user deletes a message: Slack sends a ``message_deleted`` event."""
        msg = self.ws.messages.pop((channel, ts))
        return await self.send_event(
            ev.event_callback(ev.message_deleted_event(msg, self.ws.channels[channel]))
        )

    async def join(self, user: str, channel: str) -> Delivery:
        ch = self.ws.channels[channel]
        if user not in ch.members:
            ch.members.append(user)
        msg = Message(channel, self.ws.next_ts(), user=user, subtype="channel_join")
        self.ws.messages[(channel, msg.ts)] = msg
        return await self.send_event(ev.event_callback(ev.member_joined_event(user, ch, msg.ts)))

    async def open_assistant_thread(
        self, user: str, *, context_channel: str | None = None
    ) -> tuple[str, str]:
        """A user opens the assistant pane: Slack creates the thread root in the DM and sends
        ``assistant_thread_started``. Returns (channel, thread_ts)."""
        ch = self.ws.dm_with(user)
        root = Message(ch.id, self.ws.next_ts(), user=BOT_USER_ID, subtype="assistant_app_thread")
        root.bot_id = None
        self.ws.messages[(ch.id, root.ts)] = root
        self.ws.assistant_threads[(ch.id, root.ts)] = AssistantThread(ch.id, root.ts, user)
        await self.send_event(
            ev.event_callback(
                ev.assistant_thread_started_event(user, ch.id, root.ts, context_channel)
            )
        )
        return ch.id, root.ts

    async def change_assistant_context(
        self, channel: str, thread_ts: str, viewing: str
    ) -> Delivery:
        """The user switches to channel ``viewing`` with the pane open:
        ``assistant_thread_context_changed``."""
        thread = self.ws.assistant_threads[(channel, thread_ts)]
        return await self.send_event(
            ev.event_callback(
                ev.assistant_thread_context_changed_event(thread.user, channel, thread_ts, viewing)
            )
        )

    async def slash_command(
        self, user: str, channel: str, command: str, text: str = ""
    ) -> Delivery:
        """A user types ``command text`` in ``channel``. Returns what the app answered (the
        response the user sees privately)."""
        ch = self.ws.channels[channel]
        payload = ev.slash_command(
            user, self.ws.users[user].name, ch, command, text, f"{self.url}/respond/"
        )
        payload["response_url"] += payload["trigger_id"]
        if self.delivery is None:
            result = Delivery(0, "not delivered")
        else:
            result = await self.delivery.deliver_command(payload)
        self.commands.append((payload, result))
        await self._notify()
        return result

    async def replay_command(self, index: int = -1) -> Delivery:
        """The same slash-command request delivered again (as a replay of a captured, still
        correctly signed request would be)."""
        payload, _ = self.commands[index]
        assert self.delivery is not None
        result = await self.delivery.deliver_command(dict(payload))
        self.commands.append((payload, result))
        await self._notify()
        return result

    async def send_event(
        self, payload: dict[str, Any], *, retry_num: int = 0, retry_reason: str = ""
    ) -> Delivery:
        """Push one event_callback payload to the app through the current delivery."""
        if self.delivery is None:
            result = Delivery(0, "not delivered")
        else:
            result = await self.delivery.deliver(
                payload, retry_num=retry_num, retry_reason=retry_reason
            )
        self.sent_events.append((payload, retry_num, result))
        await self._notify()
        return result

    async def redeliver(self, event_id: str, retry_num: int = 1) -> Delivery:
        """Slack's retry of an earlier delivery, same event_id, with a retry number."""
        payload = next(p for p, _, _ in self.sent_events if p["event_id"] == event_id)
        return await self.send_event(payload, retry_num=retry_num, retry_reason="http_timeout")

    def _echo(self, msg: Message) -> None:
        if not self.echo_bot_messages:
            return
        payload = ev.event_callback(ev.message_event(msg, self.ws.channels[msg.channel]))

        async def push() -> None:
            try:
                await self.send_event(payload)
            except Exception as exc:  # the app may be gone already; echoes are best effort
                log.debug("echo delivery failed: %r", exc)

        task = asyncio.get_running_loop().create_task(push())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- HTTP handlers ---------------------------------------------------------------------
    async def _args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        ctype = request.content_type
        if request.can_read_body:
            if ctype == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    args.update(body)
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                args.update({k: v for k, v in form.items() if isinstance(v, str)})
        return args

    @staticmethod
    def _token(request: web.Request, args: dict[str, Any]) -> str | None:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth[len("Bearer ") :]
        token = args.pop("token", None)
        return str(token) if token else None

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        token = self._token(request, args)
        args.pop("token", None)
        rec = ApiRequest(method, args, request.method, request.content_type, time.monotonic())
        self.requests.append(rec)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            return await self._answer(rec, token)
        finally:
            if self.on_request is not None:
                self.on_request(rec)
            await self._notify()

    async def _answer(self, rec: ApiRequest, token: str | None) -> web.Response:
        for inj in self.injections:
            fault = inj.take(rec.method, rec.args)
            if fault is None:
                continue
            if fault.kind == "delay":
                await asyncio.sleep(fault.seconds)
                break
            if fault.kind == "ratelimited":
                return self._too_many(rec, fault.retry_after)
            if fault.kind == "status":
                rec.status, rec.ok, rec.error = fault.status, False, f"http_{fault.status}"
                return web.Response(status=fault.status, text="fake server error")
            self._fault_side_effects(rec, fault.code)
            return self._error(rec, fault.code)
        limit = self.rate_limits.get(rec.method)
        if limit is not None:
            retry_after = limit.take()
            if retry_after is not None:
                self.limited_429[rec.method] += 1
                return self._too_many(rec, retry_after)
        per_channel = self.channel_limits.get(rec.method)
        if per_channel is not None and rec.args.get("channel"):
            where = (rec.method, str(rec.args["channel"]))
            bucket = self._channel_buckets.get(where)
            if bucket is None:
                bucket = self._channel_buckets[where] = RateLimit(*per_channel)
            retry_after = bucket.take()
            if retry_after is not None:
                self.limited_429[rec.method] += 1
                self.limited_429_by_channel[where] += 1
                return self._too_many(rec, retry_after)
        handler = self._table.get(rec.method)
        if handler is None:
            return self._error(rec, "unknown_method")
        wanted = APP_TOKEN if rec.method == "apps.connections.open" else BOT_TOKEN
        if token != wanted:
            return self._error(rec, "not_authed" if token is None else "invalid_auth")
        try:
            payload = handler(rec.args)
        except ApiError as exc:
            return self._error(rec, exc.code)
        rec.response = {"ok": True, **payload}
        return web.json_response(rec.response)

    def _fault_side_effects(self, rec: ApiRequest, code: str) -> None:
        """An injected stream expiry really ends the stream, as it would on Slack."""
        if code == "message_not_in_streaming_state" and "ts" in rec.args:
            msg = self.ws.message(str(rec.args.get("channel")), str(rec.args["ts"]))
            if msg is not None and msg.stream_state == "streaming":
                msg.stream_state = "expired"

    def _error(self, rec: ApiRequest, code: str) -> web.Response:
        rec.ok, rec.error = False, code
        rec.response = {"ok": False, "error": code}
        return web.json_response(rec.response)

    def _too_many(self, rec: ApiRequest, retry_after: int) -> web.Response:
        self.status_429[rec.method] += 1
        rec.status, rec.ok, rec.error = 429, False, "ratelimited"
        rec.response = {"ok": False, "error": "ratelimited"}
        return web.json_response(
            rec.response, status=429, headers={"Retry-After": str(retry_after)}
        )

    async def _respond(self, request: web.Request) -> web.Response:
        """A command's ``response_url``: delayed responses are recorded."""
        body = await request.json()
        self.command_responses.append((request.match_info["trigger"], body))
        await self._notify()
        return web.Response(text="ok")

    async def _upload(self, request: web.Request) -> web.Response:
        f = self.ws.files.get(request.match_info["file_id"])
        if f is None:
            return web.Response(status=404, text="unknown upload")
        data = await request.read()
        if request.content_type == "multipart/form-data":
            return web.Response(status=400, text="send the raw bytes")
        f.content = data
        await self._notify()
        return web.Response(text=f"OK - {len(data)}")
