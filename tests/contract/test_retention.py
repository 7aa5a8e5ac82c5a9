"""RetentionStore contract: a pass forgets threads no conversation points to (with everything
that hangs off them), old message links and old adapter state, and nothing else.

Times are relative to ``time.time()``: a cutoff in the future makes everything old, one in
the past makes everything recent."""

import time

from storage.base import Storage
from storage.records import (
    ResponseChain,
    RunRecord,
    RunStatus,
    StoredMessage,
    ThreadRef,
    ToolCallRecord,
)


async def _thread_with_a_run(
    store: Storage, thread_id: str, run_id: str, status: RunStatus
) -> None:
    await store.create_thread(thread_id)
    await store.add_messages(
        thread_id,
        [StoredMessage("user", "hi", run_id), StoredMessage("assistant", "hello", run_id)],
    )
    await store.create_run(RunRecord(run_id, thread_id, "chat", "k", status="completed"))
    if status != "completed":
        await store.update_run(run_id, status=status)
    await store.add_run_step(run_id, f"step_{run_id}", "model_call", "completed", {})
    await store.start_tool_calls(run_id, [ToolCallRecord(f"call_{run_id}", "f")])


async def _fill(store: Storage) -> None:
    await _thread_with_a_run(store, "t_kept", "run_kept", "completed")
    await store.set_thread("conv:a", ThreadRef("t_kept", "chat"))
    await _thread_with_a_run(store, "t_reset", "run_reset", "completed")  # no conversation
    await _thread_with_a_run(store, "t_active", "run_active", "in_progress")
    await store.create_run(RunRecord("run_remote", "conv_remote", "responses", "k"))
    await store.update_run("run_remote", status="completed")
    await store.set_chain(ResponseChain("t_chain", "resp_1", "run_chain"))
    await store.link_message("slack", "m1", "conv:a")
    await store.put_state("ns", "k", {"v": 1})


async def test_a_recent_cutoff_forgets_nothing(store: Storage) -> None:
    await _fill(store)
    pruned = await store.prune_before(time.time() - 3600)
    assert pruned.total == 0
    assert len(await store.list_messages("t_reset")) == 2
    assert await store.get_run("run_reset") is not None
    assert await store.conversation_for_message("slack", "m1") == "conv:a"
    assert await store.get_state("ns", "k") == {"v": 1}
    assert await store.get_chain("t_chain") is not None


async def test_old_unpointed_threads_go_with_what_hangs_off_them(store: Storage) -> None:
    await _fill(store)
    pruned = await store.prune_before(time.time() + 3600)
    # the reset thread, the remote thread and the chained thread; not the kept or active one
    assert (pruned.threads, pruned.messages, pruned.runs) == (3, 2, 2)
    assert (pruned.run_steps, pruned.tool_calls, pruned.links, pruned.states) == (1, 1, 1, 1)
    assert pruned.total == 3 + 2 + 2 + 1 + 1 + 1 + 1
    assert await store.list_messages("t_reset") == []
    assert await store.get_run("run_reset") is None
    assert await store.get_run("run_remote") is None
    assert await store.run_steps("run_reset") == []
    assert await store.tool_calls("run_reset") == []
    assert await store.get_chain("t_chain") is None
    assert await store.conversation_for_message("slack", "m1") is None
    assert await store.get_state("ns", "k") is None
    # what a conversation points to, or an active run needs, stays
    assert len(await store.list_messages("t_kept")) == 2
    assert await store.get_run("run_kept") is not None
    assert len(await store.run_steps("run_kept")) == 1
    assert len(await store.tool_calls("run_kept")) == 1
    assert len(await store.list_messages("t_active")) == 2
    assert await store.get_run("run_active") is not None
    # a second pass has nothing left to do, and the store still works
    assert (await store.prune_before(time.time() + 3600)).total == 0
    await store.add_messages("t_kept", [StoredMessage("user", "again", "r2")])
    assert len(await store.list_messages("t_kept")) == 3


async def test_a_reset_thread_is_forgotten_once_old(store: Storage) -> None:
    await _thread_with_a_run(store, "t1", "run_1", "completed")
    await store.set_thread("conv:a", ThreadRef("t1", "chat"))
    await store.forget_thread("conv:a")
    assert (await store.prune_before(time.time() - 60)).threads == 0
    assert (await store.prune_before(time.time() + 60)).threads == 1
    assert await store.list_messages("t1") == []
