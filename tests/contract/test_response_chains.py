"""ResponseChainStore contract: each thread's last response and the outputs its calls are owed."""

from storage.base import Storage
from storage.records import ResponseChain


async def test_a_thread_without_a_chain_has_none(store: Storage) -> None:
    assert await store.get_chain("thread_1") is None


async def test_chain_round_trips_and_is_replaced(store: Storage) -> None:
    first = ResponseChain("thread_1", "resp_1", "run_1", {"call_a": '{"error": "x"}'})
    await store.set_chain(first)
    assert await store.get_chain("thread_1") == first
    pending = {"call_b": "out b", "call_c": "ünïcödé 🧵"}
    second = ResponseChain("thread_1", "resp_2", "run_2", pending)
    await store.set_chain(second)
    got = await store.get_chain("thread_1")
    assert got == second and got is not None
    assert list(got.pending) == ["call_b", "call_c"]  # the order the calls came in
    assert await store.get_chain("thread_2") is None  # per thread


async def test_chain_without_pending_calls(store: Storage) -> None:
    await store.set_chain(ResponseChain("thread_9", "resp_9", "run_9"))
    assert await store.get_chain("thread_9") == ResponseChain("thread_9", "resp_9", "run_9", {})
