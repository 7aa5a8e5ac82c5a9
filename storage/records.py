"""The records storage holds and the statuses they can have: plain dataclasses, no I/O.

Conversation keys are passed in their string form (``ConversationKey.as_str()``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypedDict, get_args

RunStatus = Literal[
    "queued",
    "in_progress",
    "requires_action",
    "cancelling",
    "completed",
    "failed",
    "cancelled",
    "expired",
    "incomplete",
]
"""Every status a run record can have (the Assistants run statuses)."""
RUN_STATUSES: tuple[RunStatus, ...] = get_args(RunStatus)
ACTIVE_RUN_STATUSES: tuple[RunStatus, ...] = (
    "queued",
    "in_progress",
    "requires_action",
    "cancelling",
)
"""A run in one of these is still going (or was cut off by a crash)."""
InboxStatus = Literal[
    "pending", "interrupted", "completed", "failed", "cancelled", "expired", "incomplete"
]
"""A stored user message: ``pending`` until its turn ends with the run's outcome, or
``interrupted`` when a crash cut it off."""
INTERRUPTED: Final = "interrupted"
"""The one marker of work a crash cut off: the error of such a run, the status of such an
inbox message. Written only by ``mark_interrupted`` and ``close_inbox``."""


@dataclass(slots=True)
class ThreadRef:
    thread_id: str
    backend: str


@dataclass(slots=True)
class ResponseChain:
    """Where a `responses` thread goes on when the server has no Conversations API: the next
    response continues ``response_id`` (``previous_response_id``)."""

    thread_id: str
    response_id: str
    run_id: str
    """The run whose round produced ``response_id`` (so recovery knows its message is in)."""
    pending: dict[str, str] = field(default_factory=dict)
    """Function calls of ``response_id`` still owed an output (call id → output), sent first
    in the next request's input."""


@dataclass(slots=True)
class StoredMessage:
    """One Chat Completions message of a `chat` backend thread."""

    role: str
    content: str | None
    turn_id: str
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    tokens: int = 0
    id: int | None = None


def stored_size(m: StoredMessage) -> int:
    """A message's size for ``list_messages(since_tokens=…)``: 4 + its UTF-8 bytes (content
    and tool calls JSON) // 4, a lower bound of the context builder's token estimate. Stores
    count 0 instead for every message of a turn that has a ``note`` message (such a turn is
    sent as a short placeholder)."""
    size = len((m.content or "").encode("utf-8", "surrogatepass"))
    if m.tool_calls is not None:
        size += len(json.dumps(m.tool_calls).encode("utf-8", "surrogatepass"))
    return 4 + size // 4


@dataclass(slots=True)
class ToolCallRecord:
    """A tool call a run started: ``finished`` once its output came back. A call left
    unfinished by a crash may or may not have taken effect."""

    call_id: str
    name: str
    finished: bool = False


@dataclass(slots=True)
class Pruned:
    """What one retention pass forgot, by kind (see ``RetentionStore.prune_before``)."""

    threads: int = 0
    messages: int = 0
    runs: int = 0
    run_steps: int = 0
    tool_calls: int = 0
    links: int = 0
    states: int = 0

    @property
    def total(self) -> int:
        return (
            self.threads
            + self.messages
            + self.runs
            + self.run_steps
            + self.tool_calls
            + self.links
            + self.states
        )


@dataclass(slots=True)
class InboxMessage:
    """A user message stored before its run; ``reply_target`` says where to answer it."""

    id: int
    conversation: str
    user_id: str
    text: str
    reply_target: dict[str, Any] | None
    created_at: float


@dataclass(slots=True)
class RunRecord:
    run_id: str
    thread_id: str
    backend: str
    conversation: str
    status: RunStatus = "queued"
    inbox_id: int | None = None
    """The stored user message this run answers."""
    remote_run_id: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None
    created_at: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class RunUpdate(TypedDict, total=False):
    """The fields ``update_run`` may change (type-checked at every call site)."""

    status: RunStatus
    remote_run_id: str | None
    prompt_tokens: int
    completion_tokens: int
    error: str | None
    extra: dict[str, Any]
    thread_id: str
    inbox_id: int | None


RUN_UPDATE_FIELDS: frozenset[str] = frozenset(RunUpdate.__annotations__)


def check_run_update(fields: dict[str, Any]) -> None:
    """Reject what ``update_run`` must never write: unknown fields, unknown statuses.

    Raises ``ValueError``; every store calls this before writing, so they all refuse alike.
    """
    unknown = set(fields) - RUN_UPDATE_FIELDS
    if unknown:
        raise ValueError(f"unknown run fields: {sorted(unknown)}")
    if "status" in fields and fields["status"] not in RUN_STATUSES:
        raise ValueError(f"unknown run status {fields['status']!r}")
    for name in ("prompt_tokens", "completion_tokens"):
        value = fields.get(name, 0)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"run field {name} must be an int, not {value!r}")
    if "extra" in fields and not isinstance(fields["extra"], dict):
        raise ValueError(f"run field extra must be a dict, not {fields['extra']!r}")
