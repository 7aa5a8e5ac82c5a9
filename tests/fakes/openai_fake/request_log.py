"""The request log: every request the fake received, and a condition wait on it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from .faults import path_matches


@dataclass(frozen=True, slots=True)
class Recorded:
    """One request. ``path`` is relative to ``/v1`` (e.g. ``/chat/completions``);
    ``headers`` has lower-case names."""

    method: str
    path: str
    query: dict[str, str]
    json: Any | None
    headers: dict[str, str]


class RequestLog:
    def __init__(self) -> None:
        self.items: list[Recorded] = []
        self._changed = asyncio.Condition()

    async def add(self, item: Recorded) -> None:
        self.items.append(item)
        async with self._changed:
            self._changed.notify_all()

    def matching(self, path: str | None, method: str | None = None) -> list[Recorded]:
        return [
            r
            for r in self.items
            if path_matches(path, r.path) and (method is None or r.method == method.upper())
        ]

    async def wait_for(
        self,
        path: str | None,
        n: int,
        timeout: float = 5.0,  # noqa: ASYNC109 (contract)
        method: str | None = None,
    ) -> list[Recorded]:
        """Wait until at least ``n`` matching requests arrived; raise TimeoutError otherwise."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.matching(path, method)) >= n)
        return self.matching(path, method)
