"""RunStore contract: run records, their updates, and which inbox messages were answered."""

import time
from typing import Any

import pytest

from storage.base import Storage
from storage.records import ACTIVE_RUN_STATUSES, INTERRUPTED, RUN_STATUSES, RunRecord

ENDED_STATUSES = [s for s in RUN_STATUSES if s not in ACTIVE_RUN_STATUSES]


async def test_create_and_get_a_run(store: Storage) -> None:
    assert await store.get_run("run_1") is None
    before = time.time()
    run = RunRecord("run_1", "t", "chat", "k", inbox_id=7, extra={"model": "m", "n": [1]})
    await store.create_run(run)
    assert before - 1 <= run.created_at <= time.time() + 1  # set by create_run
    got = await store.get_run("run_1")
    assert got == run
    assert got is not None
    assert (got.status, got.inbox_id, got.remote_run_id, got.error) == ("queued", 7, None, None)
    assert (got.prompt_tokens, got.completion_tokens) == (0, 0)
    assert got.extra == {"model": "m", "n": [1]}


async def test_create_keeps_every_field(store: Storage) -> None:
    run = RunRecord(
        "run_1",
        "thread_1",
        "assistants",
        "slack:C1:1.2",
        status="in_progress",
        inbox_id=3,
        remote_run_id="remote_9",
        prompt_tokens=11,
        completion_tokens=4,
        error="boom",
        created_at=1234.5,
        extra={"ü": "✓"},
    )
    await store.create_run(run)
    assert await store.get_run("run_1") == run


async def test_update_a_run(store: Storage) -> None:
    await store.create_run(RunRecord("run_1", "t", "chat", "k"))
    await store.update_run("run_1", status="completed", prompt_tokens=10, completion_tokens=5)
    run = await store.get_run("run_1")
    assert run is not None and (run.status, run.prompt_tokens, run.completion_tokens) == (
        "completed",
        10,
        5,
    )
    await store.update_run(
        "run_1",
        remote_run_id="remote_1",
        inbox_id=42,
        thread_id="t2",
        error="oops",
        extra={"k": [1, 2]},
    )
    run = await store.get_run("run_1")
    assert run is not None
    assert (run.remote_run_id, run.inbox_id, run.thread_id, run.error, run.extra) == (
        "remote_1",
        42,
        "t2",
        "oops",
        {"k": [1, 2]},
    )
    assert (run.status, run.prompt_tokens) == ("completed", 10)  # untouched fields stay
    await store.update_run("run_1", error=None, remote_run_id=None, inbox_id=None)
    run = await store.get_run("run_1")
    assert run is not None and (run.error, run.remote_run_id, run.inbox_id) == (None, None, None)
    await store.update_run("run_1")  # nothing to change is harmless
    assert await store.get_run("run_1") == run


@pytest.mark.parametrize(
    "fields",
    [
        {"bogus": 1},
        {"status": "completed", "bogus": 1},
        {"created_at": 0.0},
        {"status": "done"},
        {"status": None},
        {"prompt_tokens": "10"},
        {"extra": "not a dict"},
    ],
)
async def test_update_rejects_unknown_fields_and_statuses(
    store: Storage, fields: dict[str, Any]
) -> None:
    await store.create_run(RunRecord("run_1", "t", "chat", "k"))
    before = await store.get_run("run_1")
    with pytest.raises(ValueError):
        await store.update_run("run_1", **fields)
    assert await store.get_run("run_1") == before  # nothing was written


async def test_every_status_is_accepted(store: Storage) -> None:
    await store.create_run(RunRecord("run_1", "t", "chat", "k"))
    for status in RUN_STATUSES:
        await store.update_run("run_1", status=status)
        run = await store.get_run("run_1")
        assert run is not None and run.status == status


async def test_mark_interrupted(store: Storage) -> None:
    await store.create_run(RunRecord("run_1", "t", "chat", "k", status="in_progress"))
    await store.mark_interrupted("run_1")
    run = await store.get_run("run_1")
    assert run is not None and (run.status, run.error) == ("cancelled", INTERRUPTED)
    assert await store.active_runs() == []


async def test_active_runs_are_the_unfinished_ones_oldest_first(store: Storage) -> None:
    await store.create_run(RunRecord("run_1", "t", "chat", "k"))
    await store.create_run(RunRecord("run_2", "t", "chat", "k", status="completed"))
    assert [r.run_id for r in await store.active_runs()] == ["run_1"]
    for i, status in enumerate(RUN_STATUSES):
        await store.create_run(RunRecord(f"s{i}", "t", "chat", "k", status=status))
    active = await store.active_runs()
    assert [r.run_id for r in active] == ["run_1"] + [
        f"s{i}" for i, s in enumerate(RUN_STATUSES) if s in ACTIVE_RUN_STATUSES
    ]
    assert active[0] == await store.get_run("run_1")  # whole records


async def test_active_runs_order_by_creation_time(store: Storage) -> None:
    for run_id, created_at in [("c", 30.0), ("a", 10.0), ("b", 20.0)]:
        await store.create_run(RunRecord(run_id, "t", "chat", "k", created_at=created_at))
    assert [r.run_id for r in await store.active_runs()] == ["a", "b", "c"]


async def test_active_runs_created_together_keep_their_order(store: Storage) -> None:
    ids = [f"run_{i:02}" for i in range(30)][::-1]  # not in name order
    for run_id in ids:
        await store.create_run(RunRecord(run_id, "t", "chat", "k"))
    assert [r.run_id for r in await store.active_runs()] == ids


async def test_no_run_means_no_finished_run(store: Storage) -> None:
    assert not await store.inbox_has_finished_run(1)


@pytest.mark.parametrize("status", ACTIVE_RUN_STATUSES)
async def test_an_active_run_has_not_finished(store: Storage, status: str) -> None:
    await store.create_run(RunRecord("run_1", "t", "chat", "k", inbox_id=1))
    await store.update_run("run_1", status=status)
    assert not await store.inbox_has_finished_run(1)


@pytest.mark.parametrize("status", ENDED_STATUSES)
async def test_a_run_that_ended_on_its_own_has_finished(store: Storage, status: str) -> None:
    await store.create_run(RunRecord("run_1", "t", "chat", "k", inbox_id=1))
    error = "cancelled" if status == "cancelled" else None
    await store.update_run("run_1", status=status, error=error)
    assert await store.inbox_has_finished_run(1)
    assert not await store.inbox_has_finished_run(2)  # only for its own inbox message


async def test_an_interrupted_run_has_not_finished(store: Storage) -> None:
    await store.create_run(RunRecord("run_1", "t", "chat", "k", inbox_id=1, status="in_progress"))
    await store.mark_interrupted("run_1")
    assert not await store.inbox_has_finished_run(1)
    # a retry of the same message that then completes does count
    await store.create_run(RunRecord("run_2", "t", "chat", "k", inbox_id=1))
    assert not await store.inbox_has_finished_run(1)
    await store.update_run("run_2", status="completed")
    assert await store.inbox_has_finished_run(1)


async def test_a_run_given_its_inbox_id_later_counts(store: Storage) -> None:
    await store.create_run(RunRecord("run_1", "t", "chat", "k", status="completed"))
    assert not await store.inbox_has_finished_run(5)
    await store.update_run("run_1", inbox_id=5)
    assert await store.inbox_has_finished_run(5)
