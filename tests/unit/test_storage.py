"""What only the SQLite store has: its file, WAL, and forward migrations.

Everything a store must do whatever it is built on is in the contract suite, ``tests/contract/``.
"""

import json
from pathlib import Path

import aiosqlite
import pytest

from storage.migrations import MIGRATIONS, SCHEMA_VERSION
from storage.records import ThreadRef
from storage.sqlite import SchemaTooNewError, SqliteStorage


@pytest.fixture
async def store(tmp_path: Path):
    s = SqliteStorage(str(tmp_path / "db" / "t.db"))
    await s.open()
    yield s
    await s.close()


async def _database_at(path: str, version: int) -> aiosqlite.Connection:
    """A database file built by the first ``version`` migrations (as that release left it)."""
    db = await aiosqlite.connect(path)
    for script in MIGRATIONS[:version]:
        await db.executescript(script)
    await db.execute(f"PRAGMA user_version={version}")
    return db


async def test_migrates_and_uses_wal(store: SqliteStorage) -> None:
    assert await store.schema_version() == SCHEMA_VERSION
    async with store.db.execute("PRAGMA journal_mode") as cur:
        assert (await cur.fetchone())[0] == "wal"


async def test_creates_the_file_and_its_folders(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "t.db"
    s = SqliteStorage(str(path))
    with pytest.raises(RuntimeError, match="not open"):
        _ = s.db
    await s.open()
    try:
        assert path.is_file()
    finally:
        await s.close()
    with pytest.raises(RuntimeError, match="not open"):
        _ = s.db


async def test_upgrades_a_version_1_database(tmp_path: Path) -> None:
    path = str(tmp_path / "v1.db")
    db = await _database_at(path, 1)
    await db.execute(
        "INSERT INTO inbox (conversation, user_id, text, created_at) VALUES ('k','u','t',0)"
    )
    await db.commit()
    await db.close()
    s = SqliteStorage(path)
    await s.open()
    try:
        assert await s.schema_version() == SCHEMA_VERSION
        (old,) = await s.inbox_with_status("pending")
        assert old.text == "t" and old.reply_target is None
    finally:
        await s.close()


async def test_upgrading_a_version_3_database_moves_inbox_id_to_its_column(tmp_path: Path) -> None:
    path = str(tmp_path / "v3.db")
    db = await _database_at(path, 3)
    rows = [
        ("run_1", "completed", {"inbox_id": 5, "model": "m"}),
        ("run_2", "in_progress", {"inbox_id": 6}),
        ("run_3", "completed", {}),
    ]
    for run_id, status, extra in rows:
        await db.execute(
            "INSERT INTO runs (run_id, thread_id, backend, conversation, status, extra, "
            "created_at, updated_at) VALUES (?, 't', 'chat', 'k', ?, ?, 1, 1)",
            (run_id, status, json.dumps(extra)),
        )
    await db.commit()
    await db.close()
    s = SqliteStorage(path)
    await s.open()
    try:
        assert await s.schema_version() == SCHEMA_VERSION
        got = [await s.get_run(run_id) for run_id, _, _ in rows]
        assert [(r.inbox_id, r.extra) for r in got if r is not None] == [
            (5, {"model": "m"}),
            (6, {}),
            (None, {}),
        ]
        assert await s.inbox_has_finished_run(5)
        assert not await s.inbox_has_finished_run(6)  # still active
        assert [r.inbox_id for r in await s.active_runs()] == [6]
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
    refused = SqliteStorage(path)
    with pytest.raises(SchemaTooNewError):
        await refused.open()
    with pytest.raises(RuntimeError, match="not open"):  # the connection was closed
        _ = refused.db


async def test_database_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    old.touch(mode=0o644)
    old.chmod(0o644)
    for path in (tmp_path / "sub" / "new.db", old):
        store = SqliteStorage(str(path))
        await store.open()
        try:
            await store.claim_event("e1", 60)  # a write: the WAL and shm files exist now
            files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
            assert all(f.exists() for f in files)
            assert [oct(f.stat().st_mode & 0o777) for f in files] == ["0o600"] * 3
        finally:
            await store.close()
