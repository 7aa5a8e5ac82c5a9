"""RunStepStore contract: a run's steps come back in the order added, with their details."""

from storage.base import Storage
from storage.records import RunRecord


async def test_steps_in_order_and_updated(store: Storage) -> None:
    await store.create_run(RunRecord("run_1", "t", "chat", "k"))
    assert await store.run_steps("run_1") == []
    await store.add_run_step("run_1", "s1", "tool_calls", "in_progress", {})
    await store.update_run_step("s1", "completed", {"n": 1})
    assert await store.run_steps("run_1") == [
        {"step_id": "s1", "kind": "tool_calls", "status": "completed", "details": {"n": 1}}
    ]


async def test_many_steps_keep_their_order(store: Storage) -> None:
    await store.create_run(RunRecord("run_1", "t", "chat", "k"))
    ids = [f"step_{i:02}" for i in range(20)][::-1]  # not in name order
    for i, step_id in enumerate(ids):
        kind = "tool_calls" if i % 2 else "message_creation"
        await store.add_run_step("run_1", step_id, kind, "in_progress", {"i": i})
    await store.update_run_step(ids[3], "completed", {"i": 3, "out": "ü ✓"})
    steps = await store.run_steps("run_1")
    assert [s["step_id"] for s in steps] == ids
    assert steps[3] == {
        "step_id": ids[3],
        "kind": "tool_calls",
        "status": "completed",
        "details": {"i": 3, "out": "ü ✓"},
    }
    assert [s["details"]["i"] for s in steps] == list(range(20))


async def test_steps_belong_to_their_run(store: Storage) -> None:
    await store.create_run(RunRecord("run_1", "t", "chat", "k"))
    await store.create_run(RunRecord("run_2", "t", "chat", "k"))
    await store.add_run_step("run_1", "a", "tool_calls", "completed", {"x": [1, {"y": None}]})
    await store.add_run_step("run_2", "b", "message_creation", "completed", {})
    assert [s["step_id"] for s in await store.run_steps("run_1")] == ["a"]
    assert (await store.run_steps("run_1"))[0]["details"] == {"x": [1, {"y": None}]}
    assert [s["step_id"] for s in await store.run_steps("run_2")] == ["b"]
    assert await store.run_steps("unknown") == []
