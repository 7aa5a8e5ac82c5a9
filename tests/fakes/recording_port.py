"""A recording reply port: a stand-in platform that keeps every post, edit and finish.

Used by core end-to-end tests and the core benchmark; it is a platform, not a mock of our code.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from core.port import BasePort


@dataclass(slots=True)
class PortCall:
    op: str
    handle: int
    text: str
    at: float


@dataclass
class RecordingPort(BasePort):
    max_length: int = 4000
    edit_interval: float = 0.01
    native_status: bool = False
    calls: list[PortCall] = field(default_factory=list)
    texts: dict[int, str] = field(default_factory=dict)
    finished: dict[int, str] = field(default_factory=dict)
    statuses: list[str | None] = field(default_factory=list)
    thinking: int = 0

    async def post(self, text: str) -> Any:
        handle = len(self.texts) + 1
        self._record("post", handle, text)
        return handle

    async def edit(self, handle: Any, text: str) -> None:
        assert handle not in self.finished, "edit after finish"
        self._record("edit", handle, text)

    async def finish(self, handle: Any, text: str, changed: bool) -> None:
        assert handle not in self.finished, "finished twice"
        self.finished[handle] = text
        self._record("finish", handle, text)

    async def show_thinking(self) -> None:
        self.thinking += 1

    async def show_status(self, handle: Any | None, status: str | None) -> bool:
        self.statuses.append(status)
        return self.native_status

    def _record(self, op: str, handle: int, text: str) -> None:
        assert len(text) <= self.max_length, f"{op} of {len(text)} chars > {self.max_length}"
        self.texts[handle] = text
        self.calls.append(PortCall(op, handle, text, time.monotonic()))

    @property
    def messages(self) -> list[str]:
        """The final texts, in order."""
        return [self.finished.get(h, self.texts[h]) for h in sorted(self.texts)]

    @property
    def reply(self) -> str:
        return "\n".join(self.messages)

    def count(self, op: str) -> int:
        return sum(1 for c in self.calls if c.op == op)
