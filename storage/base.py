"""The storage interfaces: one small Protocol per concern, and ``Storage`` that has them all.

Code that needs only one concern can ask for that interface; bootstrap builds a ``Storage``.
Every implementation must pass the contract suite in ``tests/contract/``. The records these
interfaces take and return live in :mod:`storage.records`. Only ``storage/`` writes SQL.
"""

from __future__ import annotations

from typing import Any, Protocol, Unpack

from storage.records import (
    InboxMessage,
    InboxStatus,
    Pruned,
    ResponseChain,
    RunRecord,
    RunUpdate,
    StoredMessage,
    ThreadRef,
    ToolCallRecord,
)


class ConversationStore(Protocol):
    """Which backend thread a conversation (key string) continues."""

    async def get_thread(self, conversation: str) -> ThreadRef | None: ...
    async def set_thread(self, conversation: str, ref: ThreadRef) -> None:
        """Point a conversation at a thread, replacing the one it had."""
        ...

    async def forget_thread(self, conversation: str) -> None: ...


class IntakeStore(Protocol):
    """What arrives from the platforms: delivery ids seen, and user messages before their run."""

    async def claim_event(self, event_id: str, ttl_seconds: float) -> bool:
        """Record a delivery id; False if it was already claimed and has not expired.

        Of concurrent claims of one id exactly one wins. Expired claims are forgotten.
        """
        ...

    async def release_event(self, event_id: str) -> None:
        """Forget a claimed delivery id (its message could not be stored)."""
        ...

    async def add_inbox(
        self,
        conversation: str,
        user_id: str,
        text: str,
        reply_target: dict[str, Any] | None = None,
    ) -> int:
        """Store a user message as ``pending``; return its id (ids increase)."""
        ...

    async def close_inbox(self, inbox_id: int, status: InboxStatus) -> None: ...
    async def inbox_with_status(self, status: InboxStatus) -> list[InboxMessage]:
        """The messages with this status, oldest first."""
        ...

    async def prune_inbox(self, older_than_seconds: float) -> int:
        """Forget answered messages older than this; pending ones are always kept.

        Returns how many were forgotten.
        """
        ...


class AdapterStateStore(Protocol):
    """Small state a platform adapter keeps across restarts."""

    async def put_state(self, namespace: str, key: str, value: Any) -> None:
        """Store a JSON value, replacing the one under this namespace and key."""
        ...

    async def get_state(self, namespace: str, key: str) -> Any | None: ...

    async def link_message(self, platform: str, message_id: str, conversation: str) -> None:
        """Remember which conversation a platform message (e.g. a bot answer) belongs to."""
        ...

    async def conversation_for_message(self, platform: str, message_id: str) -> str | None: ...


class ThreadStore(Protocol):
    """The messages of the `chat` backend's threads."""

    async def create_thread(self, thread_id: str) -> None: ...
    async def add_messages(self, thread_id: str, messages: list[StoredMessage]) -> None:
        """Append messages in order, all or none; sets each message's ``id``.

        A batch stays contiguous when many tasks append at once.
        """
        ...

    async def list_messages(
        self, thread_id: str, since_tokens: int | None = None
    ) -> list[StoredMessage]:
        """The thread's messages in the order they were added.

        With ``since_tokens``, only the newest whole turns: going back from the newest message
        until their :func:`~storage.records.stored_size` adds up to ``since_tokens``, then back
        to the first message of that message's turn (every message, if they never add up).
        """
        ...

    async def delete_messages(self, thread_id: str, message_ids: list[int]) -> None:
        """Forget these messages of the thread (ids of other threads are left alone)."""
        ...


class RunStore(Protocol):
    """Run records: status, usage, and which inbox message each answers."""

    async def create_run(self, run: RunRecord) -> None:
        """Store a new run; sets ``run.created_at`` when it is 0."""
        ...

    async def update_run(self, run_id: str, **fields: Unpack[RunUpdate]) -> None:
        """Change some fields of a run.

        Raises ``ValueError`` for a field not in :class:`RunUpdate` or an unknown status.
        """
        ...

    async def mark_interrupted(self, run_id: str) -> None:
        """Close a run a crash cut off: ``cancelled`` with the :data:`INTERRUPTED` error."""
        ...

    async def get_run(self, run_id: str) -> RunRecord | None: ...
    async def active_runs(self) -> list[RunRecord]:
        """Runs in an :data:`ACTIVE_RUN_STATUSES` status, oldest first."""
        ...

    async def inbox_has_finished_run(self, inbox_id: int) -> bool:
        """Did a run for this inbox message end on its own (not cut off by a crash)?"""
        ...


class RunStepStore(Protocol):
    """The steps of a run (tool calls, message creation), in order."""

    async def add_run_step(
        self, run_id: str, step_id: str, kind: str, status: str, details: dict[str, Any]
    ) -> None: ...
    async def update_run_step(self, step_id: str, status: str, details: dict[str, Any]) -> None: ...
    async def run_steps(self, run_id: str) -> list[dict[str, Any]]:
        """``{"step_id", "kind", "status", "details"}`` per step, in the order added."""
        ...


class ToolCallStore(Protocol):
    """The tool calls a run started and whether they finished: after a crash, a call that
    started and never finished may have taken effect."""

    async def start_tool_calls(self, run_id: str, calls: list[ToolCallRecord]) -> None:
        """Record calls as started (before any of them runs); a call id seen before in this
        run starts again."""
        ...

    async def finish_tool_calls(self, run_id: str, call_ids: list[str]) -> None:
        """Mark calls of this run finished (their output came back)."""
        ...

    async def tool_calls(self, run_id: str) -> list[ToolCallRecord]:
        """The run's calls in the order they started."""
        ...


class RetentionStore(Protocol):
    """Forgetting what nothing needs any more (``RETENTION_DAYS``)."""

    async def prune_before(self, cutoff: float) -> Pruned:
        """Forget what was last touched before ``cutoff`` (a ``time.time()``) and is no longer
        needed: threads no conversation points to (with their messages, runs, run steps, tool
        call records and response chain; never a thread with an active run), links of
        platform messages made before it, and adapter state last put before it.
        """
        ...


class ResponseChainStore(Protocol):
    """The `responses` backend's chains (a server without the Conversations API): each
    thread's last response."""

    async def get_chain(self, thread_id: str) -> ResponseChain | None: ...
    async def set_chain(self, chain: ResponseChain) -> None:
        """Store a thread's last response, replacing the one it had."""
        ...


class Storage(
    ConversationStore,
    IntakeStore,
    AdapterStateStore,
    ThreadStore,
    RunStore,
    RunStepStore,
    ToolCallStore,
    ResponseChainStore,
    RetentionStore,
    Protocol,
):
    """Every interface, plus opening and closing: what bootstrap builds."""

    async def open(self) -> None: ...
    async def close(self) -> None: ...
