"""Normalised run events that every backend yields, whatever protocol it speaks.

A backend's ``run()`` is an async iterator of these. When it yields :class:`ToolCallsRequired`,
the consumer must fill ``event.outputs`` (one :class:`ToolOutput` per call) before asking for
the next event; the backend then submits them and the run continues.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FinishStatus = Literal["completed", "failed", "cancelled", "expired", "incomplete"]


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated: bool = False
    """Some of the figures are our estimates: the server reported no usage."""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.estimated = self.estimated or other.estimated


@dataclass(slots=True)
class TextDelta:
    """New assistant text. ``text`` is the full text of the current message so far.

    The snapshot is joined lazily from ``parts[:count]`` so that streaming stays O(n).
    """

    delta: str
    parts: list[str]
    count: int

    @property
    def text(self) -> str:
        return "".join(self.parts[: self.count])


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # raw JSON text from the model: untrusted


@dataclass(slots=True)
class ToolOutput:
    tool_call_id: str
    output: str


@dataclass(slots=True)
class ToolCallsRequired:
    """The model wants tools run. Fill ``outputs`` before iterating further."""

    calls: list[ToolCall]
    outputs: list[ToolOutput] = field(default_factory=list)
    run_id: str = ""
    """The run (its record's id) the calls belong to: their start and finish are recorded
    under it, so a crash mid-tool is known after the restart."""


@dataclass(slots=True)
class Progress:
    """A new assistant message started after a tool round (the text gets a paragraph break)."""

    kind: Literal["message_started"]
    detail: str = ""


@dataclass(slots=True)
class Finished:
    """The run ended. ``error`` is safe to show a user; details went to the logs."""

    status: FinishStatus
    usage: Usage = field(default_factory=Usage)
    error: str | None = None


RunEvent = TextDelta | ToolCallsRequired | Progress | Finished
