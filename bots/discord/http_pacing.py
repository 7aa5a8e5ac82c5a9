"""Pacing applied to every HTTP request discord.py makes, through its ``http_trace`` option (an
aiohttp ``TraceConfig``), right before the request is sent:

- every REST request takes a slot of the bot-wide pacer, so the bot as a whole stays under
  Discord's global limit (50 requests per second): message posts and edits, typing, threads,
  reactions, tool calls and command sync alike. Interaction callbacks and interaction webhooks
  are exempt, as they are on Discord; the gateway is not REST.
- message posts and edits also take a slot of their channel's pacer, and interaction webhook
  calls one of their token's, in the same step (see :func:`bots.common.pacing_wait.acquire`).
- after a successful response, its ``X-RateLimit-Limit`` and ``X-RateLimit-Reset-After``
  headers tighten the budget of that route's pacer when Discord reports a stricter limit than
  ours; see :mod:`bots.discord.pacing`.

Retries discord.py makes after a 429 pass through here again, so they are paced too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Hashable
from typing import Any

import aiohttp
import discord.http

from bots.common.pacing_wait import acquire
from bots.discord.pacing import GLOBAL_KEY, Pacer, Pacers

log = logging.getLogger(__name__)

_POSTS = re.compile(r"^/channels/(\d+)/messages$")
_EDITS = re.compile(r"^/channels/(\d+)/messages/\d+$")
_CALLBACK = re.compile(r"^/interactions/\d+/[^/]+/callback$")
_WEBHOOK = re.compile(r"^/webhooks/\d+/([^/]+)(?:/.*)?$")


def api_path(url: str, base: str) -> str | None:
    """The route path of a REST ``url`` under the API ``base`` (no query), else None."""
    base = base.rstrip("/")
    if not url.startswith(base + "/"):
        return None
    return url[len(base) :].split("?", 1)[0]


def holds_for(pacers: Pacers, method: str, path: str) -> list[tuple[Pacer, Hashable]]:
    """The pacers (and keys) a request to ``path`` takes a slot of."""
    if _CALLBACK.match(path):
        return []
    if webhook := _WEBHOOK.match(path):
        return [(pacers.webhooks, webhook.group(1))]
    holds: list[tuple[Pacer, Hashable]] = [(pacers.requests, GLOBAL_KEY)]
    if method == "POST" and (post := _POSTS.match(path)):
        holds.append((pacers.posts, int(post.group(1))))
    elif method == "PATCH" and (edit := _EDITS.match(path)):
        holds.append((pacers.edits, int(edit.group(1))))
    return holds


def route_pacer(pacers: Pacers, method: str, path: str) -> tuple[str, Pacer] | None:
    """The pacer whose budget a response of this route informs."""
    if method == "POST" and _POSTS.match(path):
        return "message posts per channel", pacers.posts
    if method == "PATCH" and _EDITS.match(path):
        return "message edits per channel", pacers.edits
    if method in ("PATCH", "POST") and _WEBHOOK.match(path):
        return "interaction webhook calls per token", pacers.webhooks
    return None


def reported_limit(headers: Any) -> tuple[int, float] | None:
    """``(limit, reset after)`` from Discord's rate-limit headers, if present and sane."""
    try:
        count = int(headers["X-RateLimit-Limit"])
        per = float(headers["X-RateLimit-Reset-After"])
    except (KeyError, ValueError):
        return None
    return (count, per) if count > 0 and per > 0 else None


class RequestPacing:
    """The trace hooks for one bot's :class:`Pacers`."""

    def __init__(self, pacers: Pacers) -> None:
        self.pacers = pacers

    def trace_config(self) -> aiohttp.TraceConfig:
        config = aiohttp.TraceConfig()
        config.on_request_start.append(self._on_start)
        config.on_request_end.append(self._on_end)
        return config

    async def _on_start(
        self, session: aiohttp.ClientSession, ctx: Any, params: aiohttp.TraceRequestStartParams
    ) -> None:
        path = api_path(str(params.url), discord.http.Route.BASE)
        if path is not None:
            await acquire(*holds_for(self.pacers, params.method, path))

    async def _on_end(
        self, session: aiohttp.ClientSession, ctx: Any, params: aiohttp.TraceRequestEndParams
    ) -> None:
        if not 200 <= params.response.status < 300:
            return
        path = api_path(str(params.url), discord.http.Route.BASE)
        found = route_pacer(self.pacers, params.method, path) if path else None
        reported = reported_limit(params.response.headers)
        if found is None or reported is None:
            return
        name, pacer = found
        if pacer.tighten(*reported):
            budget = pacer.budget
            log.info(
                "Discord reports a stricter limit: %s paced to %d per %.2f s",
                name,
                budget.count,
                budget.per,
            )
