"""Retention end to end: after ``RETENTION_DAYS`` the start-up pass forgets a thread that a
reset left behind (its messages, runs, steps and tool call records), and old message links and
adapter state; what a conversation still uses stays. ``RETENTION_DAYS=0`` keeps everything.
Time is moved on through the intake's clock, never slept."""

from __future__ import annotations

import time

from storage.sqlite import SqliteStorage
from tests.fakes.openai_fake import Reply, ToolCallSpec
from tests.harness.core import Harness
from tests.harness.fixtures import MakeCoreHarness

DAY = 86_400.0


async def _reset_thread(h: Harness) -> tuple[str, str]:
    """A conversation with a tool round, then a reset; the old and the new thread ids."""
    h.fake.model.add_rule(
        "time",
        Reply(tool_calls=[ToolCallSpec("current_time", "{}")], then=Reply(text="late")),
    )
    store = h.engine.storage
    assert (await h.ask("what time is it")).reply == "late"
    await h.engine.state.link_message("console", "m1", h.key)
    await h.engine.state.remember("pane", "k", {"v": 1})
    old = await store.get_thread(h.key.as_str())
    await h.engine.reset(h.key)
    assert (await h.ask("fresh start")).reply == "echo: fresh start"
    new = await store.get_thread(h.key.as_str())
    assert old is not None and new is not None and old.thread_id != new.thread_id
    return old.thread_id, new.thread_id


async def _runs_of(h: Harness, thread_id: str) -> list[str]:
    store = h.engine.storage
    assert isinstance(store, SqliteStorage)
    rows = await store._all("SELECT run_id FROM runs WHERE thread_id = ?", (thread_id,))
    return [r["run_id"] for r in rows]


async def test_a_reset_thread_is_forgotten_after_retention_days(
    make_core_harness: MakeCoreHarness,
) -> None:
    h = await make_core_harness("chat", RETENTION_DAYS=30)
    old, new = await _reset_thread(h)
    store = h.engine.storage
    (old_run,) = await _runs_of(h, old)
    assert len(await store.tool_calls(old_run)) == 1
    assert len(await store.run_steps(old_run)) == 2

    h.engine.intake.clock = lambda: time.time() + 29 * DAY  # not old enough yet
    await h.engine.intake.recover()
    assert len(await store.list_messages(old)) == 4
    assert await h.engine.state.conversation_for_message("console", "m1") == h.key

    h.engine.intake.clock = lambda: time.time() + 31 * DAY
    await h.engine.intake.recover()  # what start-up runs
    assert await store.list_messages(old) == []
    assert await _runs_of(h, old) == []
    assert await store.get_run(old_run) is None
    assert await store.run_steps(old_run) == []
    assert await store.tool_calls(old_run) == []
    assert await h.engine.state.conversation_for_message("console", "m1") is None
    assert await h.engine.state.recall("pane", "k") is None
    # the conversation's current thread is untouched and goes on
    assert [m.content for m in await store.list_messages(new)] == [
        "fresh start",
        "echo: fresh start",
    ]
    assert len(await _runs_of(h, new)) == 1
    assert (await h.ask("still here")).reply == "echo: still here"
    assert [m["content"] for m in h.fake.model.calls[-1] if m["role"] == "user"] == [
        "fresh start",
        "still here",
    ]


async def test_zero_retention_days_keeps_everything(make_core_harness: MakeCoreHarness) -> None:
    h = await make_core_harness("chat", RETENTION_DAYS=0)
    old, _ = await _reset_thread(h)
    h.engine.intake.clock = lambda: time.time() + 10_000 * DAY
    await h.engine.intake.recover()
    store = h.engine.storage
    assert len(await store.list_messages(old)) == 4
    assert len(await _runs_of(h, old)) == 1
    assert await h.engine.state.conversation_for_message("console", "m1") == h.key
    assert await h.engine.state.recall("pane", "k") == {"v": 1}
