"""The SQLite store on aiosqlite: WAL mode, forward migrations, safe under concurrent tasks.

One connection serves every task (aiosqlite runs statements in order on one thread); multi-row
writes are wrapped in a transaction under an asyncio lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Unpack

import aiosqlite

from storage.migrations import MIGRATIONS
from storage.records import (
    ACTIVE_RUN_STATUSES,
    INTERRUPTED,
    InboxMessage,
    InboxStatus,
    Pruned,
    ResponseChain,
    RunRecord,
    RunUpdate,
    StoredMessage,
    ThreadRef,
    ToolCallRecord,
    check_run_update,
)

OWNER_ONLY = 0o600


def owner_only(path: str) -> None:
    """Create the database file readable by its owner only (SQLite gives its WAL and shared
    memory files the database file's mode), and tighten the files of an older database."""
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, OWNER_ONLY))
    for name in (path, f"{path}-wal", f"{path}-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(name, OWNER_ONLY)


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer Threadbridge."""


class SqliteStorage:
    """Every storage interface of :mod:`storage.base` on one SQLite connection.

    Sections below follow the interfaces: lifecycle, ConversationStore, IntakeStore,
    AdapterStateStore, ThreadStore, RunStore, RunStepStore, ToolCallStore, ResponseChainStore,
    RetentionStore.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    # --- lifecycle --------------------------------------------------------------------
    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            owner_only(self.path)
        db = await aiosqlite.connect(self.path, isolation_level=None)
        db.row_factory = aiosqlite.Row
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("PRAGMA foreign_keys=ON")
        await db.execute("PRAGMA busy_timeout=5000")
        self._db = db
        try:
            await self._migrate()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("storage is not open")
        return self._db

    async def schema_version(self) -> int:
        async with self.db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _migrate(self) -> None:
        current = await self.schema_version()
        if current > len(MIGRATIONS):
            raise SchemaTooNewError(
                f"database schema v{current} is newer than this version supports "
                f"(v{len(MIGRATIONS)})"
            )
        for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
            async with self._tx():
                for statement in script.split(";"):
                    if statement.strip():
                        await self.db.execute(statement)
                await self.db.execute(f"PRAGMA user_version={version}")

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[None]:
        async with self._lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise
            await self.db.execute("COMMIT")

    async def _write(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        async with self._lock:
            cur = await self.db.execute(sql, params)
            rowcount, lastrowid = cur.rowcount, cur.lastrowid
            await cur.close()
        return lastrowid if sql.lstrip().upper().startswith("INSERT") and lastrowid else rowcount

    async def _one(self, sql: str, params: tuple[Any, ...] = ()) -> aiosqlite.Row | None:
        async with self.db.execute(sql, params) as cur:
            return await cur.fetchone()

    async def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[aiosqlite.Row]:
        async with self.db.execute(sql, params) as cur:
            return list(await cur.fetchall())

    # --- ConversationStore ------------------------------------------------------------
    async def get_thread(self, conversation: str) -> ThreadRef | None:
        row = await self._one(
            "SELECT thread_id, backend FROM conversations WHERE conversation = ?", (conversation,)
        )
        return ThreadRef(row["thread_id"], row["backend"]) if row else None

    async def set_thread(self, conversation: str, ref: ThreadRef) -> None:
        await self._write(
            "INSERT INTO conversations (conversation, thread_id, backend, created_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (conversation) DO UPDATE SET "
            "thread_id = excluded.thread_id, backend = excluded.backend, "
            "created_at = excluded.created_at",
            (conversation, ref.thread_id, ref.backend, time.time()),
        )

    async def forget_thread(self, conversation: str) -> None:
        await self._write("DELETE FROM conversations WHERE conversation = ?", (conversation,))

    # --- IntakeStore: delivery dedupe -------------------------------------------------
    async def claim_event(self, event_id: str, ttl_seconds: float) -> bool:
        """Record a delivery id; False if it was already seen and has not expired."""
        now = time.time()
        async with self._tx():
            await self.db.execute("DELETE FROM processed_events WHERE expires_at < ?", (now,))
            cur = await self.db.execute(
                "INSERT OR IGNORE INTO processed_events (event_id, expires_at) VALUES (?, ?)",
                (event_id, now + ttl_seconds),
            )
            inserted = cur.rowcount == 1
            await cur.close()
        return inserted

    async def release_event(self, event_id: str) -> None:
        """Forget a claimed delivery id (its message could not be stored)."""
        await self._write("DELETE FROM processed_events WHERE event_id = ?", (event_id,))

    # --- IntakeStore: inbox -----------------------------------------------------------
    async def add_inbox(
        self,
        conversation: str,
        user_id: str,
        text: str,
        reply_target: dict[str, Any] | None = None,
    ) -> int:
        return await self._write(
            "INSERT INTO inbox (conversation, user_id, text, reply_target, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                conversation,
                user_id,
                text,
                json.dumps(reply_target) if reply_target is not None else None,
                time.time(),
            ),
        )

    async def close_inbox(self, inbox_id: int, status: InboxStatus) -> None:
        await self._write("UPDATE inbox SET status = ? WHERE id = ?", (status, inbox_id))

    async def inbox_with_status(self, status: InboxStatus) -> list[InboxMessage]:
        rows = await self._all(
            "SELECT id, conversation, user_id, text, reply_target, created_at FROM inbox "
            "WHERE status = ? ORDER BY id",
            (status,),
        )
        return [
            InboxMessage(
                id=int(r["id"]),
                conversation=str(r["conversation"]),
                user_id=str(r["user_id"]),
                text=str(r["text"]),
                reply_target=json.loads(r["reply_target"]) if r["reply_target"] else None,
                created_at=float(r["created_at"]),
            )
            for r in rows
        ]

    async def prune_inbox(self, older_than_seconds: float) -> int:
        """Forget answered messages older than this; pending ones are always kept."""
        return await self._write(
            "DELETE FROM inbox WHERE status != 'pending' AND created_at < ?",
            (time.time() - older_than_seconds,),
        )

    # --- AdapterStateStore ------------------------------------------------------------
    async def put_state(self, namespace: str, key: str, value: Any) -> None:
        await self._write(
            "INSERT INTO adapter_state (namespace, key, value, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, "
            "updated_at = excluded.updated_at",
            (namespace, key, json.dumps(value), time.time()),
        )

    async def get_state(self, namespace: str, key: str) -> Any | None:
        row = await self._one(
            "SELECT value FROM adapter_state WHERE namespace = ? AND key = ?", (namespace, key)
        )
        return json.loads(row["value"]) if row else None

    async def link_message(self, platform: str, message_id: str, conversation: str) -> None:
        await self._write(
            "INSERT OR REPLACE INTO message_links (platform, message_id, conversation, created_at)"
            " VALUES (?, ?, ?, ?)",
            (platform, message_id, conversation, time.time()),
        )

    async def conversation_for_message(self, platform: str, message_id: str) -> str | None:
        row = await self._one(
            "SELECT conversation FROM message_links WHERE platform = ? AND message_id = ?",
            (platform, message_id),
        )
        return str(row["conversation"]) if row else None

    # --- ThreadStore (`chat` backend messages) ----------------------------------------
    async def create_thread(self, thread_id: str) -> None:
        await self._write(
            "INSERT INTO threads (thread_id, created_at) VALUES (?, ?)", (thread_id, time.time())
        )

    async def add_messages(self, thread_id: str, messages: list[StoredMessage]) -> None:
        now = time.time()
        async with self._tx():
            for m in messages:
                cur = await self.db.execute(
                    "INSERT INTO messages (thread_id, turn_id, role, content, tool_calls, "
                    "tool_call_id, tokens, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        thread_id,
                        m.turn_id,
                        m.role,
                        m.content,
                        json.dumps(m.tool_calls) if m.tool_calls is not None else None,
                        m.tool_call_id,
                        m.tokens,
                        now,
                    ),
                )
                m.id = cur.lastrowid
                await cur.close()

    async def list_messages(
        self, thread_id: str, since_tokens: int | None = None
    ) -> list[StoredMessage]:
        first = 0
        if since_tokens is not None:
            row = await self._one(_FIRST_OF_NEWEST_TURNS, (thread_id, thread_id, since_tokens))
            first = int(row[0]) if row and row[0] is not None else 0
        rows = await self._all(
            "SELECT id, role, content, turn_id, tool_calls, tool_call_id, tokens FROM messages "
            "WHERE thread_id = ? AND id >= ? ORDER BY id",
            (thread_id, first),
        )
        return [
            StoredMessage(
                role=r["role"],
                content=r["content"],
                turn_id=r["turn_id"],
                tool_calls=json.loads(r["tool_calls"]) if r["tool_calls"] else None,
                tool_call_id=r["tool_call_id"],
                tokens=int(r["tokens"]),
                id=int(r["id"]),
            )
            for r in rows
        ]

    async def delete_messages(self, thread_id: str, message_ids: list[int]) -> None:
        async with self._tx():
            for message_id in message_ids:
                await self.db.execute(
                    "DELETE FROM messages WHERE thread_id = ? AND id = ?", (thread_id, message_id)
                )

    # --- RunStore ---------------------------------------------------------------------
    async def create_run(self, run: RunRecord) -> None:
        now = time.time()
        run.created_at = run.created_at or now
        await self._write(
            "INSERT INTO runs (run_id, thread_id, backend, conversation, status, inbox_id, "
            "remote_run_id, prompt_tokens, completion_tokens, error, extra, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run.run_id,
                run.thread_id,
                run.backend,
                run.conversation,
                run.status,
                run.inbox_id,
                run.remote_run_id,
                run.prompt_tokens,
                run.completion_tokens,
                run.error,
                json.dumps(run.extra),
                run.created_at,
                now,
            ),
        )

    async def update_run(self, run_id: str, **fields: Unpack[RunUpdate]) -> None:
        values: dict[str, Any] = dict(fields)
        check_run_update(values)  # column names below come only from RunUpdate's keys
        if "extra" in values:
            values["extra"] = json.dumps(values["extra"])
        assignments = "".join(f"{name} = ?, " for name in values)
        await self._write(
            f"UPDATE runs SET {assignments}updated_at = ? WHERE run_id = ?",
            (*values.values(), time.time(), run_id),
        )

    async def mark_interrupted(self, run_id: str) -> None:
        await self.update_run(run_id, status="cancelled", error=INTERRUPTED)

    async def get_run(self, run_id: str) -> RunRecord | None:
        row = await self._one("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        return _run(row) if row else None

    async def active_runs(self) -> list[RunRecord]:
        marks = ", ".join("?" for _ in ACTIVE_RUN_STATUSES)
        rows = await self._all(
            f"SELECT * FROM runs WHERE status IN ({marks}) ORDER BY created_at, rowid",
            ACTIVE_RUN_STATUSES,
        )
        return [_run(r) for r in rows]

    async def inbox_has_finished_run(self, inbox_id: int) -> bool:
        """Did a run for this inbox message end on its own (not cut off by a crash)?"""
        marks = ", ".join("?" for _ in ACTIVE_RUN_STATUSES)
        row = await self._one(
            f"SELECT 1 FROM runs WHERE inbox_id = ? AND status NOT IN ({marks}) "
            "AND COALESCE(error, '') != ? LIMIT 1",
            (inbox_id, *ACTIVE_RUN_STATUSES, INTERRUPTED),
        )
        return row is not None

    # --- RunStepStore -----------------------------------------------------------------
    async def add_run_step(
        self, run_id: str, step_id: str, kind: str, status: str, details: dict[str, Any]
    ) -> None:
        now = time.time()
        await self._write(
            "INSERT INTO run_steps (step_id, run_id, kind, status, details, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (step_id, run_id, kind, status, json.dumps(details), now, now),
        )

    async def update_run_step(self, step_id: str, status: str, details: dict[str, Any]) -> None:
        await self._write(
            "UPDATE run_steps SET status = ?, details = ?, updated_at = ? WHERE step_id = ?",
            (status, json.dumps(details), time.time(), step_id),
        )

    async def run_steps(self, run_id: str) -> list[dict[str, Any]]:
        rows = await self._all(
            "SELECT step_id, kind, status, details FROM run_steps WHERE run_id = ? "
            "ORDER BY created_at, rowid",
            (run_id,),
        )
        return [
            {
                "step_id": r["step_id"],
                "kind": r["kind"],
                "status": r["status"],
                "details": json.loads(r["details"]),
            }
            for r in rows
        ]

    # --- ToolCallStore ----------------------------------------------------------------
    async def start_tool_calls(self, run_id: str, calls: list[ToolCallRecord]) -> None:
        now = time.time()
        async with self._tx():
            for call in calls:
                await self.db.execute(
                    "INSERT INTO tool_calls (run_id, call_id, name, finished, created_at, "
                    "updated_at) VALUES (?, ?, ?, 0, ?, ?) ON CONFLICT (run_id, call_id) DO "
                    "UPDATE SET name = excluded.name, finished = 0, updated_at = excluded.updated_at",
                    (run_id, call.call_id, call.name, now, now),
                )

    async def finish_tool_calls(self, run_id: str, call_ids: list[str]) -> None:
        now = time.time()
        async with self._tx():
            for call_id in call_ids:
                await self.db.execute(
                    "UPDATE tool_calls SET finished = 1, updated_at = ? "
                    "WHERE run_id = ? AND call_id = ?",
                    (now, run_id, call_id),
                )

    async def tool_calls(self, run_id: str) -> list[ToolCallRecord]:
        rows = await self._all(
            "SELECT call_id, name, finished FROM tool_calls WHERE run_id = ? "
            "ORDER BY created_at, rowid",
            (run_id,),
        )
        return [ToolCallRecord(r["call_id"], r["name"], bool(r["finished"])) for r in rows]

    # --- RetentionStore ---------------------------------------------------------------
    async def prune_before(self, cutoff: float) -> Pruned:
        pruned = Pruned()
        marks = ", ".join("?" for _ in ACTIVE_RUN_STATUSES)
        async with self._tx():
            await self.db.execute(
                "CREATE TEMP TABLE IF NOT EXISTS retired (thread_id TEXT PRIMARY KEY)"
            )
            await self.db.execute("DELETE FROM retired")
            await self.db.execute(
                f"INSERT INTO retired {_RETIRED_THREADS.format(active=marks)}",
                (*ACTIVE_RUN_STATUSES, cutoff),
            )
            runs = "SELECT run_id FROM runs WHERE thread_id IN (SELECT thread_id FROM retired)"
            in_retired = "thread_id IN (SELECT thread_id FROM retired)"
            pruned.run_steps = await self._count(f"DELETE FROM run_steps WHERE run_id IN ({runs})")
            pruned.tool_calls = await self._count(
                f"DELETE FROM tool_calls WHERE run_id IN ({runs})"
            )
            pruned.runs = await self._count(f"DELETE FROM runs WHERE {in_retired}")
            pruned.messages = await self._count(f"DELETE FROM messages WHERE {in_retired}")
            await self._count(f"DELETE FROM response_chains WHERE {in_retired}")
            await self._count(f"DELETE FROM threads WHERE {in_retired}")
            pruned.threads = await self._count("DELETE FROM retired")
            pruned.links = await self._count(
                "DELETE FROM message_links WHERE created_at < ?", (cutoff,)
            )
            pruned.states = await self._count(
                "DELETE FROM adapter_state WHERE updated_at < ?", (cutoff,)
            )
        return pruned

    async def _count(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """Run one write inside a transaction; how many rows it changed."""
        cur = await self.db.execute(sql, params)
        count = cur.rowcount
        await cur.close()
        return count

    # --- ResponseChainStore (`responses` backend without Conversations) -----------------
    async def get_chain(self, thread_id: str) -> ResponseChain | None:
        row = await self._one(
            "SELECT response_id, run_id, pending FROM response_chains WHERE thread_id = ?",
            (thread_id,),
        )
        if row is None:
            return None
        pending = json.loads(row["pending"])
        return ResponseChain(thread_id, row["response_id"], row["run_id"], pending)

    async def set_chain(self, chain: ResponseChain) -> None:
        await self._write(
            "INSERT INTO response_chains (thread_id, response_id, run_id, pending, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (thread_id) DO UPDATE SET "
            "response_id = excluded.response_id, run_id = excluded.run_id, "
            "pending = excluded.pending, updated_at = excluded.updated_at",
            (
                chain.thread_id,
                chain.response_id,
                chain.run_id,
                json.dumps(chain.pending),
                time.time(),
            ),
        )


_FIRST_OF_NEWEST_TURNS = """
WITH sized AS (
    SELECT id, turn_id,
        CASE WHEN turn_id IN (
            SELECT turn_id FROM messages WHERE thread_id = ?1 AND role = 'note'
        ) THEN 0
        ELSE 4 + (length(CAST(COALESCE(content, '') AS BLOB))
            + length(CAST(COALESCE(tool_calls, '') AS BLOB))) / 4
        END AS size
    FROM messages WHERE thread_id = ?2
), reach AS (
    SELECT id, turn_id, SUM(size) OVER (ORDER BY id DESC) AS reached FROM sized
)
SELECT MIN(id) FROM sized WHERE turn_id = (
    SELECT turn_id FROM reach WHERE reached >= ?3 ORDER BY id DESC LIMIT 1
)
"""
"""The id of the first message ``list_messages(since_tokens=…)`` returns (NULL: all of them)."""

_RETIRED_THREADS = """
SELECT thread_id FROM (
    SELECT thread_id, created_at AS touched FROM threads
    UNION ALL SELECT thread_id, MAX(created_at) FROM messages GROUP BY thread_id
    UNION ALL SELECT thread_id, updated_at FROM runs
    UNION ALL SELECT thread_id, updated_at FROM response_chains
)
WHERE thread_id NOT IN (SELECT thread_id FROM conversations)
    AND thread_id NOT IN (SELECT thread_id FROM runs WHERE status IN ({active}))
GROUP BY thread_id HAVING MAX(touched) < ?
"""
"""Threads no conversation points to, without an active run, last touched before a time."""


def _run(row: aiosqlite.Row) -> RunRecord:
    return RunRecord(
        run_id=row["run_id"],
        thread_id=row["thread_id"],
        backend=row["backend"],
        conversation=row["conversation"],
        status=row["status"],
        inbox_id=row["inbox_id"],
        remote_run_id=row["remote_run_id"],
        prompt_tokens=int(row["prompt_tokens"]),
        completion_tokens=int(row["completion_tokens"]),
        error=row["error"],
        created_at=float(row["created_at"]),
        extra=json.loads(row["extra"] or "{}"),
    )
