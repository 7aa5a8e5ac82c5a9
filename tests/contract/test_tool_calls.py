"""ToolCallStore contract: which tool calls of a run started, and which of them finished."""

from storage.base import Storage
from storage.records import ToolCallRecord


async def test_calls_start_then_finish(store: Storage) -> None:
    assert await store.tool_calls("run_1") == []
    await store.start_tool_calls(
        "run_1", [ToolCallRecord("c1", "post_message"), ToolCallRecord("c2", "current_time")]
    )
    assert await store.tool_calls("run_1") == [
        ToolCallRecord("c1", "post_message", finished=False),
        ToolCallRecord("c2", "current_time", finished=False),
    ]
    await store.finish_tool_calls("run_1", ["c2"])
    await store.finish_tool_calls("run_1", ["unknown"])  # harmless
    await store.finish_tool_calls("run_1", [])
    got = await store.tool_calls("run_1")
    assert [(c.call_id, c.finished) for c in got] == [("c1", False), ("c2", True)]


async def test_calls_keep_their_order_and_runs_apart(store: Storage) -> None:
    ids = [f"call_{i:02}" for i in range(12)][::-1]  # not in name order
    for call_id in ids:
        await store.start_tool_calls("run_1", [ToolCallRecord(call_id, "f")])
    await store.start_tool_calls("run_2", [ToolCallRecord(ids[0], "g")])  # same id, other run
    await store.finish_tool_calls("run_2", [ids[0]])
    assert [c.call_id for c in await store.tool_calls("run_1")] == ids
    assert not any(c.finished for c in await store.tool_calls("run_1"))
    assert await store.tool_calls("run_2") == [ToolCallRecord(ids[0], "g", finished=True)]


async def test_a_call_started_again_is_unfinished_again(store: Storage) -> None:
    await store.start_tool_calls("run_1", [ToolCallRecord("c1", "f")])
    await store.finish_tool_calls("run_1", ["c1"])
    await store.start_tool_calls("run_1", [ToolCallRecord("c1", "f")])
    assert await store.tool_calls("run_1") == [ToolCallRecord("c1", "f", finished=False)]
