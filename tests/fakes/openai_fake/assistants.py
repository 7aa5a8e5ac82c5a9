"""Assistants v2 HTTP handlers (work in progress)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from .server import FakeOpenAI


class Assistants:
    def __init__(self, fake: FakeOpenAI) -> None:
        self._fake = fake

    def add_routes(self, router: web.UrlDispatcher) -> None:
        pass

    def expire_run(self, run_id: str) -> None:
        raise KeyError(run_id)
