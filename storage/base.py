"""The storage interface and the records it holds. Only ``storage/`` writes SQL.

Conversation keys are passed in their string form (``ConversationKey.as_str()``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol, get_args

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
class StoredMessage:
    """One Chat Completions message of a `chat` backend thread."""

    role: str
    content: str | None
    turn_id: str
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    tokens: int = 0
    id: int | None = None


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


class Storage(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...

    # conversation key -> thread
    async def get_thread(self, conversation: str) -> ThreadRef | None: ...
    async def set_thread(self, conversation: str, ref: ThreadRef) -> None: ...
    async def forget_thread(self, conversation: str) -> None: ...

    # platform message id -> conversation (e.g. replies to the bot's answers)
    async def link_message(self, platform: str, message_id: str, conversation: str) -> None: ...
    async def conversation_for_message(self, platform: str, message_id: str) -> str | None: ...

    # deduplication of platform deliveries
    async def claim_event(self, event_id: str, ttl_seconds: float) -> bool: ...
    async def release_event(self, event_id: str) -> None: ...

    # user messages, stored before their run starts
    async def add_inbox(
        self,
        conversation: str,
        user_id: str,
        text: str,
        reply_target: dict[str, Any] | None = None,
    ) -> int: ...
    async def close_inbox(self, inbox_id: int, status: InboxStatus) -> None: ...
    async def inbox_with_status(self, status: InboxStatus) -> list[InboxMessage]: ...
    async def prune_inbox(self, older_than_seconds: float) -> int: ...

    # small adapter state that survives restarts (JSON values)
    async def put_state(self, namespace: str, key: str, value: Any) -> None: ...
    async def get_state(self, namespace: str, key: str) -> Any | None: ...

    # `chat` backend threads and messages
    async def create_thread(self, thread_id: str) -> None: ...
    async def add_messages(self, thread_id: str, messages: list[StoredMessage]) -> None: ...
    async def list_messages(self, thread_id: str) -> list[StoredMessage]: ...

    # runs, run steps and usage
    async def create_run(self, run: RunRecord) -> None: ...
    async def update_run(self, run_id: str, **fields: Any) -> None: ...
    async def mark_interrupted(self, run_id: str) -> None:
        """Close a run a crash cut off: ``cancelled`` with the :data:`INTERRUPTED` error."""
        ...

    async def get_run(self, run_id: str) -> RunRecord | None: ...
    async def active_runs(self) -> list[RunRecord]: ...
    async def inbox_has_finished_run(self, inbox_id: int) -> bool: ...
    async def add_run_step(
        self, run_id: str, step_id: str, kind: str, status: str, details: dict[str, Any]
    ) -> None: ...
    async def update_run_step(self, step_id: str, status: str, details: dict[str, Any]) -> None: ...
    async def run_steps(self, run_id: str) -> list[dict[str, Any]]: ...
