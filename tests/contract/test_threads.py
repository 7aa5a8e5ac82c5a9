"""ThreadStore contract: a `chat` thread's messages come back exactly, in order."""

import asyncio

import pytest

from storage.base import Storage
from storage.records import StoredMessage

CALLS = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]


async def test_a_new_thread_is_empty(store: Storage) -> None:
    await store.create_thread("t")
    assert await store.list_messages("t") == []
    assert await store.list_messages("unknown") == []


async def test_messages_round_trip_with_tool_calls(store: Storage) -> None:
    await store.create_thread("t")
    sent = [
        StoredMessage("system", "be brief", "r1", tokens=3),
        StoredMessage("user", "hi", "r1", tokens=1),
        StoredMessage("assistant", None, "r1", tool_calls=CALLS, tokens=7),
        StoredMessage("tool", "out", "r1", tool_call_id="c1"),
        StoredMessage("assistant", "done", "r1", tokens=2),
    ]
    await store.add_messages("t", sent)
    got = await store.list_messages("t")
    assert [m.role for m in got] == ["system", "user", "assistant", "tool", "assistant"]
    assert got[2].tool_calls == CALLS and got[2].content is None
    assert got[3].tool_call_id == "c1" and got[3].tool_calls is None
    assert [m.tokens for m in got] == [3, 1, 7, 0, 2]
    assert all(m.id is not None for m in sent)
    assert [m.id for m in got] == [m.id for m in sent]  # ids are set on the messages added
    assert got == sent


async def test_ids_increase_across_batches(store: Storage) -> None:
    await store.create_thread("t")
    first = [StoredMessage("user", "a", "r1")]
    second = [StoredMessage("assistant", "b", "r1"), StoredMessage("user", "c", "r2")]
    await store.add_messages("t", first)
    await store.add_messages("t", second)
    await store.add_messages("t", [])  # an empty batch is harmless
    ids = [m.id for m in first + second]
    assert all(isinstance(i, int) for i in ids)
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert [(m.content, m.turn_id) for m in await store.list_messages("t")] == [
        ("a", "r1"),
        ("b", "r1"),
        ("c", "r2"),
    ]


async def test_unicode_and_large_content(store: Storage) -> None:
    await store.create_thread("t")
    text = "ünïcödé ✓ 🧵 中文\n" + "y" * 1_000_000
    calls = [{"id": "ç", "type": "function", "function": {"name": "f", "arguments": '{"q": "ü"}'}}]
    await store.add_messages(
        "t",
        [StoredMessage("user", text, "r1"), StoredMessage("assistant", None, "r1", calls)],
    )
    got = await store.list_messages("t")
    assert got[0].content == text
    assert got[1].tool_calls == calls


async def test_threads_are_separate(store: Storage) -> None:
    await store.create_thread("t1")
    await store.create_thread("t2")
    await store.add_messages("t1", [StoredMessage("user", "one", "r1")])
    await store.add_messages("t2", [StoredMessage("user", "two", "r2")])
    assert [m.content for m in await store.list_messages("t1")] == ["one"]
    assert [m.content for m in await store.list_messages("t2")] == ["two"]


async def test_a_batch_is_stored_all_or_none(store: Storage) -> None:
    await store.create_thread("t")
    await store.add_messages("t", [StoredMessage("user", "kept", "r1")])
    unstorable = [{"id": "c1", "not json": object()}]
    with pytest.raises((TypeError, ValueError)):
        await store.add_messages(
            "t",
            [
                StoredMessage("user", "lost", "r2"),
                StoredMessage("assistant", None, "r2", tool_calls=unstorable),
            ],
        )
    assert [m.content for m in await store.list_messages("t")] == ["kept"]
    await store.add_messages("t", [StoredMessage("user", "after", "r3")])  # still usable
    assert [m.content for m in await store.list_messages("t")] == ["kept", "after"]


async def test_concurrent_writers_from_many_tasks(store: Storage) -> None:
    await store.create_thread("t")

    async def writer(i: int) -> None:
        await store.add_messages("t", [StoredMessage("user", str(i), f"r{i}") for _ in range(3)])

    await asyncio.gather(*(writer(i) for i in range(40)))
    got = await store.list_messages("t")
    assert len(got) == 120
    for i in range(0, 120, 3):  # each batch is contiguous
        assert got[i].turn_id == got[i + 1].turn_id == got[i + 2].turn_id
    assert sorted(m.turn_id for m in got[::3]) == sorted(f"r{i}" for i in range(40))
