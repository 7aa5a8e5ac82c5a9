"""The fake OpenAI-compatible server: aiohttp app on 127.0.0.1, routing, request log, faults.

Usage::

    async with FakeOpenAI() as fake:
        client = openai.AsyncOpenAI(base_url=fake.base_url, api_key="test")
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any

from aiohttp import web

from .assistants import Assistants
from .assistants_state import AssistantsState
from .chat import ChatCompletions
from .conversations_state import ConversationsState
from .faults import FAULT, Fault, FaultQueue
from .model import ScriptedModel
from .quirks import Quirks
from .request_log import Recorded, RequestLog
from .responses import Responses
from .wire import JSON_BODY, ApiError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FakeOpenAI:
    """A stateful, scriptable OpenAI-compatible server for tests and benchmarks."""

    def __init__(self, *, api_key: str | None = None, host: str = "127.0.0.1") -> None:
        self.model = ScriptedModel()
        self.quirks = Quirks()
        """How a non-OpenAI server differs; all off by default."""
        self.faults = FaultQueue()
        self.log = RequestLog()
        self.assistants_state = AssistantsState()
        self.conversations_state = ConversationsState()
        self.context_limit_tokens: int | None = None
        self.poll_after_ms = 5  # sent as openai-poll-after-ms on run retrieval
        self.api_key = api_key  # when set, other keys get a 401
        self._host = host
        self._port = 0
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._chat = ChatCompletions(self)
        self._assistants = Assistants(self)
        self._responses = Responses(self)

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if not self._port:
            raise RuntimeError("FakeOpenAI is not started")
        return f"http://{self._host}:{self._port}/v1"

    async def start(self) -> FakeOpenAI:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat.create)
        app.router.add_get("/v1/models", self._chat.models)
        app.router.add_get("/props", self._chat.props)
        self._assistants.add_routes(app.router)
        self._responses.add_routes(app.router)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, 0)
        await site.start()
        self._port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeOpenAI:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run background work (e.g. a run advancing without a stream); cancelled by stop()."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- test API --------------------------------------------------------------------------

    @property
    def requests(self) -> list[Recorded]:
        return self.log.items

    def requests_to(self, path: str, method: str | None = None) -> list[Recorded]:
        return self.log.matching(path, method)

    async def wait_for_requests(
        self,
        path: str,
        n: int,
        timeout: float = 5.0,  # noqa: ASYNC109 (contract)
        method: str | None = None,
    ) -> list[Recorded]:
        return await self.log.wait_for(path, n, timeout, method)

    def inject(
        self, fault: Fault, path: str | None = None, times: int = 1, method: str | None = None
    ) -> None:
        """Queue ``fault`` for the next ``times`` requests whose path matches (FIFO)."""
        self.faults.add(fault, path, times, method)

    def expire_run(self, run_id: str) -> None:
        self._assistants.expire_run(run_id)

    # --- plumbing --------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            return await self._handle(request, handler)
        except ApiError as exc:
            return exc.response()
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
            err = ApiError(404, f"Invalid URL ({request.method} {request.path})")
            return err.response()
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def _handle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        rel = path[3:] if path.startswith("/v1/") else path
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            with contextlib.suppress(ValueError):
                body = json.loads(raw)
        request[JSON_BODY] = body
        await self.log.add(
            Recorded(
                method=request.method,
                path=rel,
                query=dict(request.query),
                json=body,
                headers={k.lower(): v for k, v in request.headers.items()},
            )
        )
        self._check_auth(request)
        fault = self.faults.take(request.method, rel)
        if fault is not None and fault.kind == "status":
            headers = {}
            if fault.retry_after_ms is not None:
                headers["retry-after-ms"] = str(fault.retry_after_ms)
            raise ApiError(fault.status_code, fault.message, code=fault.code, headers=headers)
        if fault is not None and fault.kind == "stall_before_headers":
            await asyncio.sleep(fault.seconds)
            fault = None
        request[FAULT] = fault
        return await handler(request)

    def _check_auth(self, request: web.Request) -> None:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            raise ApiError(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        if self.api_key is not None and auth[7:].strip() != self.api_key:
            raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")
