"""ThreadStore contract: a `chat` thread's messages come back exactly, in order."""

import asyncio

import pytest

from storage.base import Storage
from storage.records import StoredMessage, stored_size

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


def _turn(turn_id: str, text: str, answer: str) -> list[StoredMessage]:
    return [StoredMessage("user", text, turn_id), StoredMessage("assistant", answer, turn_id)]


async def test_since_tokens_returns_the_newest_whole_turns(store: Storage) -> None:
    await store.create_thread("t")
    for n in range(10):
        await store.add_messages("t", _turn(f"r{n}", "u" * 400, "a" * 400))
    everything = await store.list_messages("t")
    per_turn = sum(stored_size(m) for m in everything[:2])  # 2 × (4 + 100)
    assert per_turn == 208
    newest = await store.list_messages("t", since_tokens=per_turn * 3)
    assert newest == everything[-6:]  # exactly three turns reach it
    one_more = await store.list_messages("t", since_tokens=per_turn * 3 + 1)
    assert one_more == everything[-8:]  # the turn that reaches it comes whole
    assert await store.list_messages("t", since_tokens=1) == everything[-2:]
    assert await store.list_messages("t", since_tokens=0) == everything[-2:]
    assert await store.list_messages("t", since_tokens=10**9) == everything
    assert await store.list_messages("unknown", since_tokens=5) == []


async def test_since_tokens_keeps_a_turn_whole_and_counts_tool_calls(store: Storage) -> None:
    await store.create_thread("t")
    await store.add_messages("t", _turn("old", "x", "y"))
    long_turn = [
        StoredMessage("user", "q", "big"),
        StoredMessage("assistant", None, "big", tool_calls=CALLS),
        StoredMessage("tool", "o" * 4000, "big", tool_call_id="c1"),
        StoredMessage("assistant", "ü" * 10, "big"),
    ]
    await store.add_messages("t", long_turn)
    got = await store.list_messages("t", since_tokens=8)
    assert [m.turn_id for m in got] == ["big"] * 4  # the newest message alone reaches it
    sizes = sum(stored_size(m) for m in long_turn)
    assert len(await store.list_messages("t", since_tokens=sizes)) == 4
    assert len(await store.list_messages("t", since_tokens=sizes + 1)) == 6


async def test_since_tokens_counts_a_noted_turn_as_nothing(store: Storage) -> None:
    await store.create_thread("t")
    await store.add_messages("t", _turn("old", "x", "y"))
    await store.add_messages(
        "t",
        [StoredMessage("user", "z" * 100_000, "huge"), StoredMessage("note", "left out", "huge")],
    )
    await store.add_messages("t", _turn("new", "a", "b"))
    got = await store.list_messages("t", since_tokens=20)
    assert [m.turn_id for m in got] == ["old", "old", "huge", "huge", "new", "new"]


async def test_delete_messages(store: Storage) -> None:
    await store.create_thread("t")
    await store.create_thread("other")
    sent = _turn("r1", "q", "a") + _turn("r2", "q2", "a2")
    await store.add_messages("t", sent)
    elsewhere = _turn("r9", "x", "y")
    await store.add_messages("other", elsewhere)
    ids = [m.id for m in sent if m.role == "assistant"]
    other_ids = [m.id for m in elsewhere]
    await store.delete_messages("t", [i for i in ids if i is not None])
    await store.delete_messages("t", [i for i in other_ids if i is not None])  # not its own
    await store.delete_messages("t", [])
    assert [m.content for m in await store.list_messages("t")] == ["q", "q2"]
    assert await store.list_messages("other") == elsewhere
