"""Fault injection: what can go wrong on one request, and the FIFO queue that hands faults out.

A fault is consumed by the first request whose method and path match; ``times`` makes it hit
that many matching requests. Status and stall-before-headers faults are applied before the
handler runs; stream faults are applied by :class:`~.sse.SseSink`; run-status faults change
how the model turn ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aiohttp import web

FaultKind = Literal[
    "status", "stall_before_headers", "disconnect_after", "stall_after", "error_event", "run_status"
]
TerminalStatus = Literal["failed", "expired", "incomplete", "cancelled"]


@dataclass(frozen=True, slots=True)
class Fault:
    """Build with the classmethods, e.g. ``Fault.status(429, retry_after_ms=20)``."""

    kind: FaultKind
    status_code: int = 0
    retry_after_ms: int | None = None
    message: str | None = None
    code: str | None = None
    seconds: float = 0.0
    n_events: int = 0
    after_events: int | None = None  # error_event: None = right after the first delta
    shape: Literal["spec", "wrapped"] = "spec"
    terminal_status: TerminalStatus = "failed"

    @classmethod
    def status(
        cls,
        status_code: int,
        retry_after_ms: int | None = None,
        *,
        message: str | None = None,
        code: str | None = None,
    ) -> Fault:
        """An HTTP error with an OpenAI-style JSON body (and ``retry-after-ms`` if given)."""
        return cls(
            "status",
            status_code=status_code,
            retry_after_ms=retry_after_ms,
            message=message,
            code=code,
        )

    @classmethod
    def stall_before_headers(cls, seconds: float) -> Fault:
        """Hold the request this long before handling it (cancelled by ``stop()``)."""
        return cls("stall_before_headers", seconds=seconds)

    @classmethod
    def disconnect_after(cls, n_events: int) -> Fault:
        """Send ``n_events`` SSE events, then close the transport without ``[DONE]``."""
        return cls("disconnect_after", n_events=n_events)

    @classmethod
    def stall_after(cls, n_events: int, seconds: float) -> Fault:
        """Send ``n_events`` SSE events, then go silent for ``seconds`` before continuing."""
        return cls("stall_after", n_events=n_events, seconds=seconds)

    @classmethod
    def error_event(
        cls,
        shape: Literal["spec", "wrapped"] = "spec",
        *,
        after_events: int | None = None,
        message: str | None = None,
        code: str | None = None,
    ) -> Fault:
        """A mid-stream error event, then the stream ends (Assistants: the run fails)."""
        return cls(
            "error_event", shape=shape, after_events=after_events, message=message, code=code
        )

    @classmethod
    def run_status(cls, status: TerminalStatus, *, message: str | None = None) -> Fault:
        """The model turn ends in this status instead of normally."""
        return cls("run_status", terminal_status=status, message=message)


FAULT: web.RequestKey[Fault | None] = web.RequestKey("fault")
"""The fault the middleware took for this request, if the handler must apply it."""


def path_matches(pattern: str | None, path: str) -> bool:
    """``pattern`` equals the path (after /v1), is a prefix of it, or is a suffix of it."""
    if pattern is None:
        return True
    pattern = pattern.rstrip("/") or "/"
    return path == pattern or path.startswith(pattern + "/") or path.endswith(pattern)


@dataclass(slots=True)
class _Entry:
    fault: Fault
    path: str | None
    method: str | None
    remaining: int


class FaultQueue:
    def __init__(self) -> None:
        self._entries: list[_Entry] = []

    def add(self, fault: Fault, path: str | None, times: int, method: str | None) -> None:
        self._entries.append(_Entry(fault, path, method.upper() if method else None, times))

    def take(self, method: str, path: str) -> Fault | None:
        for entry in self._entries:
            if entry.method not in (None, method) or not path_matches(entry.path, path):
                continue
            entry.remaining -= 1
            if entry.remaining <= 0:
                self._entries.remove(entry)
            return entry.fault
        return None

    def pending(self) -> int:
        return sum(e.remaining for e in self._entries)

    def clear(self) -> None:
        self._entries.clear()
