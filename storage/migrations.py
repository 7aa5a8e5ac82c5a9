"""Schema migrations for the SQLite store: an ordered list, applied forward only.

The schema version lives in ``PRAGMA user_version``. Append new migrations; never edit old ones.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: the initial schema
    """
    CREATE TABLE conversations (
        conversation TEXT PRIMARY KEY,
        thread_id    TEXT NOT NULL,
        backend      TEXT NOT NULL,
        created_at   REAL NOT NULL
    );
    CREATE TABLE message_links (
        platform     TEXT NOT NULL,
        message_id   TEXT NOT NULL,
        conversation TEXT NOT NULL,
        created_at   REAL NOT NULL,
        PRIMARY KEY (platform, message_id)
    );
    CREATE TABLE processed_events (
        event_id   TEXT PRIMARY KEY,
        expires_at REAL NOT NULL
    );
    CREATE INDEX processed_events_expiry ON processed_events (expires_at);
    CREATE TABLE inbox (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation TEXT NOT NULL,
        user_id      TEXT NOT NULL,
        text         TEXT NOT NULL,
        status       TEXT NOT NULL DEFAULT 'pending',
        created_at   REAL NOT NULL
    );
    CREATE INDEX inbox_status ON inbox (status);
    CREATE TABLE threads (
        thread_id  TEXT PRIMARY KEY,
        created_at REAL NOT NULL
    );
    CREATE TABLE messages (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        thread_id    TEXT NOT NULL REFERENCES threads (thread_id),
        turn_id      TEXT NOT NULL,
        role         TEXT NOT NULL,
        content      TEXT,
        tool_calls   TEXT,
        tool_call_id TEXT,
        tokens       INTEGER NOT NULL DEFAULT 0,
        created_at   REAL NOT NULL
    );
    CREATE INDEX messages_thread ON messages (thread_id, id);
    CREATE TABLE runs (
        run_id            TEXT PRIMARY KEY,
        thread_id         TEXT NOT NULL,
        backend           TEXT NOT NULL,
        conversation      TEXT NOT NULL,
        status            TEXT NOT NULL,
        remote_run_id     TEXT,
        prompt_tokens     INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        error             TEXT,
        extra             TEXT NOT NULL DEFAULT '{}',
        created_at        REAL NOT NULL,
        updated_at        REAL NOT NULL
    );
    CREATE INDEX runs_status ON runs (status);
    CREATE TABLE run_steps (
        step_id    TEXT PRIMARY KEY,
        run_id     TEXT NOT NULL REFERENCES runs (run_id),
        kind       TEXT NOT NULL,
        status     TEXT NOT NULL,
        details    TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX run_steps_run ON run_steps (run_id);
    """,
    # 2: where to answer a message, so a message a crash interrupted can be answered later
    """
    ALTER TABLE inbox ADD COLUMN reply_target TEXT;
    """,
    # 3: small adapter state that must survive restarts (e.g. Slack pane thread contexts)
    """
    CREATE TABLE adapter_state (
        namespace  TEXT NOT NULL,
        key        TEXT NOT NULL,
        value      TEXT NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (namespace, key)
    );
    """,
    # 4: the inbox message a run answers gets its own column (it was a JSON path in extra)
    """
    ALTER TABLE runs ADD COLUMN inbox_id INTEGER;
    UPDATE runs SET inbox_id = json_extract(extra, '$.inbox_id'),
        extra = json_remove(extra, '$.inbox_id');
    CREATE INDEX runs_inbox ON runs (inbox_id);
    """,
    # 5: the `responses` backend on a server without the Conversations API chains responses
    """
    CREATE TABLE response_chains (
        thread_id   TEXT PRIMARY KEY,
        response_id TEXT NOT NULL,
        run_id      TEXT NOT NULL,
        pending     TEXT NOT NULL DEFAULT '{}',
        updated_at  REAL NOT NULL
    );
    """,
    # 6: tool calls that started and whether they finished (a crash mid-tool leaves the
    # outcome unknown), and indexes for pruning old data (RETENTION_DAYS)
    """
    CREATE TABLE tool_calls (
        run_id     TEXT NOT NULL,
        call_id    TEXT NOT NULL,
        name       TEXT NOT NULL,
        finished   INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (run_id, call_id)
    );
    CREATE INDEX runs_thread ON runs (thread_id);
    CREATE INDEX message_links_created ON message_links (created_at);
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
