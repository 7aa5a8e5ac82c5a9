"""The SQLite store: migrations, WAL, concurrency, and every record it holds."""

import asyncio
from pathlib import Path

import aiosqlite
import pytest

from storage.base import RunRecord, StoredMessage, ThreadRef
from storage.migrations import SCHEMA_VERSION
from storage.sqlite import SchemaTooNewError, SqliteStorage


@pytest.fixture
async def store(tmp_path: Path):
    s = SqliteStorage(str(tmp_path / "db" / "t.db"))
    await s.open()
    yield s
    await s.close()


async def test_migrates_and_uses_wal(store: SqliteStorage) -> None:
    assert await store.schema_version() == SCHEMA_VERSION
    async with store.db.execute("PRAGMA journal_mode") as cur:
        assert (await cur.fetchone())[0] == "wal"


async def test_upgrades_a_version_1_database(tmp_path: Path) -> None:
    from storage.migrations import MIGRATIONS

    path = str(tmp_path / "v1.db")
    async with aiosqlite.connect(path) as db:
        await db.executescript(MIGRATIONS[0])
        await db.execute(
            "INSERT INTO inbox (conversation, user_id, text, created_at) VALUES ('k','u','t',0)"
        )
        await db.execute("PRAGMA user_version=1")
        await db.commit()
    s = SqliteStorage(path)
    await s.open()
    try:
        assert await s.schema_version() == SCHEMA_VERSION
        (old,) = await s.inbox_with_status("pending")
        assert old.text == "t" and old.reply_target is None
    finally:
        await s.close()


async def test_reopen_keeps_data_and_refuses_newer_schema(tmp_path: Path) -> None:
    path = str(tmp_path / "t.db")
    s = SqliteStorage(path)
    await s.open()
    await s.set_thread("k", ThreadRef("thread_1", "chat"))
    await s.close()
    s = SqliteStorage(path)
    await s.open()
    assert await s.get_thread("k") == ThreadRef("thread_1", "chat")
    await s.close()
    async with aiosqlite.connect(path) as db:
        await db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
        await db.commit()
    with pytest.raises(SchemaTooNewError):
        await SqliteStorage(path).open()


async def test_threads_and_links(store: SqliteStorage) -> None:
    assert await store.get_thread("k") is None
    await store.set_thread("k", ThreadRef("a", "chat"))
    await store.set_thread("k", ThreadRef("b", "assistants"))
    assert await store.get_thread("k") == ThreadRef("b", "assistants")
    await store.forget_thread("k")
    assert await store.get_thread("k") is None
    await store.link_message("discord", "m1", "k2")
    assert await store.conversation_for_message("discord", "m1") == "k2"
    assert await store.conversation_for_message("slack", "m1") is None


async def test_adapter_state(store: SqliteStorage) -> None:
    assert await store.get_state("slack.pane", "D1:1.2") is None
    await store.put_state("slack.pane", "D1:1.2", {"channel_id": "C1"})
    await store.put_state("slack.pane", "D1:1.2", {"channel_id": "C2"})
    assert await store.get_state("slack.pane", "D1:1.2") == {"channel_id": "C2"}
    assert await store.get_state("other", "D1:1.2") is None


async def test_event_dedupe_with_ttl(store: SqliteStorage) -> None:
    assert await store.claim_event("e1", 60)
    assert not await store.claim_event("e1", 60)
    assert await store.claim_event("e2", -1)  # expires at once
    assert await store.claim_event("e2", 60)  # expired entry was swept


async def test_concurrent_claims_admit_exactly_one(store: SqliteStorage) -> None:
    results = await asyncio.gather(*(store.claim_event("same", 60) for _ in range(50)))
    assert results.count(True) == 1


async def test_messages_keep_tool_calls(store: SqliteStorage) -> None:
    await store.create_thread("t")
    calls = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    await store.add_messages(
        "t",
        [
            StoredMessage("user", "hi", "r1"),
            StoredMessage("assistant", None, "r1", tool_calls=calls),
            StoredMessage("tool", "out", "r1", tool_call_id="c1"),
        ],
    )
    got = await store.list_messages("t")
    assert [m.role for m in got] == ["user", "assistant", "tool"]
    assert got[1].tool_calls == calls and got[1].content is None
    assert got[2].tool_call_id == "c1"


async def test_concurrent_writers_from_many_tasks(store: SqliteStorage) -> None:
    await store.create_thread("t")

    async def writer(i: int) -> None:
        await store.add_messages("t", [StoredMessage("user", str(i), f"r{i}")] * 3)

    await asyncio.gather(*(writer(i) for i in range(40)))
    got = await store.list_messages("t")
    assert len(got) == 120
    for i in range(0, 120, 3):  # each batch is contiguous
        assert got[i].turn_id == got[i + 1].turn_id == got[i + 2].turn_id


async def test_runs_steps_usage_and_inbox(store: SqliteStorage) -> None:
    await store.create_run(RunRecord("run_1", "t", "chat", "k"))
    await store.create_run(RunRecord("run_2", "t", "chat", "k", status="completed"))
    assert [r.run_id for r in await store.active_runs()] == ["run_1"]
    await store.update_run("run_1", status="completed", prompt_tokens=10, completion_tokens=5)
    run = await store.get_run("run_1")
    assert run is not None and (run.status, run.prompt_tokens, run.completion_tokens) == (
        "completed",
        10,
        5,
    )
    with pytest.raises(ValueError):
        await store.update_run("run_1", bogus=1)
    await store.add_run_step("run_1", "s1", "tool_calls", "in_progress", {})
    await store.update_run_step("s1", "completed", {"n": 1})
    assert await store.run_steps("run_1") == [
        {"step_id": "s1", "kind": "tool_calls", "status": "completed", "details": {"n": 1}}
    ]
    i1 = await store.add_inbox("k", "u", "hello")
    i2 = await store.add_inbox("k", "u", "again", {"channel": "C1", "ts": "1.2"})
    await store.close_inbox(i1, "completed")
    pending = await store.inbox_with_status("pending")
    assert [(m.id, m.conversation, m.user_id, m.text) for m in pending] == [(i2, "k", "u", "again")]
    assert pending[0].reply_target == {"channel": "C1", "ts": "1.2"}
    assert [m.id for m in await store.inbox_with_status("completed")] == [i1]
    assert await store.prune_inbox(older_than_seconds=3600) == 0  # too recent
    assert await store.prune_inbox(older_than_seconds=-1) == 1  # the answered one only
    assert [m.id for m in await store.inbox_with_status("pending")] == [i2]
