"""IntakeStore contract: delivery ids are claimed once, user messages wait in the inbox.

Expiry is tested with a negative TTL (a claim that is already expired), never by sleeping.
"""

import asyncio
import time

from storage.base import Storage
from storage.records import INTERRUPTED


async def test_a_delivery_is_claimed_once(store: Storage) -> None:
    assert await store.claim_event("e1", 60)
    assert not await store.claim_event("e1", 60)
    assert not await store.claim_event("e1", 60)
    assert await store.claim_event("e2", 60)  # other ids are independent


async def test_an_expired_claim_can_be_claimed_again(store: Storage) -> None:
    assert await store.claim_event("e2", -1)  # expires at once
    assert await store.claim_event("e2", 60)  # the expired claim was forgotten
    assert not await store.claim_event("e2", 60)  # and the new one holds


async def test_a_released_claim_can_be_claimed_again(store: Storage) -> None:
    assert await store.claim_event("e1", 60)
    await store.release_event("e1")
    assert await store.claim_event("e1", 60)
    assert not await store.claim_event("e1", 60)
    await store.release_event("never-claimed")  # harmless


async def test_concurrent_claims_of_one_id_admit_exactly_one(store: Storage) -> None:
    results = await asyncio.gather(*(store.claim_event("same", 60) for _ in range(50)))
    assert results.count(True) == 1


async def test_concurrent_claims_of_different_ids_all_win(store: Storage) -> None:
    results = await asyncio.gather(*(store.claim_event(f"e{i}", 60) for i in range(50)))
    assert all(results)


async def test_inbox_message_round_trips(store: Storage) -> None:
    before = time.time()
    i1 = await store.add_inbox("k", "u", "hello")
    i2 = await store.add_inbox("k", "u", "again", {"channel": "C1", "ts": "1.2"})
    assert i2 > i1
    first, second = await store.inbox_with_status("pending")
    assert (first.id, first.conversation, first.user_id, first.text) == (i1, "k", "u", "hello")
    assert first.reply_target is None
    assert (second.id, second.text) == (i2, "again")
    assert second.reply_target == {"channel": "C1", "ts": "1.2"}
    assert before - 1 <= first.created_at <= second.created_at <= time.time() + 1


async def test_inbox_keeps_unicode_and_large_text(store: Storage) -> None:
    text = "ünïcödé ✓ 🧵 中文\n" + "x" * 200_000
    target = {"channel": "Ç1", "ts": "1.2", "list": [1, None]}
    i = await store.add_inbox("k:ü", "ü", text, target)
    (m,) = await store.inbox_with_status("pending")
    assert (m.id, m.conversation, m.user_id, m.text, m.reply_target) == (
        i,
        "k:ü",
        "ü",
        text,
        target,
    )


async def test_inbox_pending_then_closed(store: Storage) -> None:
    i1 = await store.add_inbox("k", "u", "hello")
    i2 = await store.add_inbox("k", "u", "again", {"channel": "C1", "ts": "1.2"})
    i3 = await store.add_inbox("k2", "u2", "third")
    await store.close_inbox(i1, "completed")
    await store.close_inbox(i3, INTERRUPTED)
    pending = await store.inbox_with_status("pending")
    assert [(m.id, m.conversation, m.user_id, m.text) for m in pending] == [(i2, "k", "u", "again")]
    assert pending[0].reply_target == {"channel": "C1", "ts": "1.2"}
    assert [m.id for m in await store.inbox_with_status("completed")] == [i1]
    assert [m.id for m in await store.inbox_with_status("interrupted")] == [i3]
    assert await store.inbox_with_status("failed") == []


async def test_inbox_with_status_lists_oldest_first(store: Storage) -> None:
    ids = [await store.add_inbox("k", "u", f"m{i}") for i in range(10)]
    for i in ids[::2]:
        await store.close_inbox(i, INTERRUPTED)
    assert [m.id for m in await store.inbox_with_status("pending")] == ids[1::2]
    assert [m.id for m in await store.inbox_with_status(INTERRUPTED)] == ids[::2]
    assert [m.text for m in await store.inbox_with_status(INTERRUPTED)] == [
        f"m{i}" for i in range(0, 10, 2)
    ]


async def test_prune_keeps_pending_and_recent(store: Storage) -> None:
    i1 = await store.add_inbox("k", "u", "hello")
    i2 = await store.add_inbox("k", "u", "again")
    i3 = await store.add_inbox("k", "u", "third")
    await store.close_inbox(i1, "completed")
    await store.close_inbox(i3, INTERRUPTED)
    assert await store.prune_inbox(older_than_seconds=3600) == 0  # too recent
    assert [m.id for m in await store.inbox_with_status("completed")] == [i1]
    assert await store.prune_inbox(older_than_seconds=-1) == 2  # the answered ones only
    assert [m.id for m in await store.inbox_with_status("pending")] == [i2]
    assert await store.inbox_with_status("completed") == []
    assert await store.inbox_with_status(INTERRUPTED) == []
    assert await store.prune_inbox(older_than_seconds=-1) == 0  # nothing left to prune


async def test_concurrent_inbox_writers_get_distinct_ids(store: Storage) -> None:
    ids = await asyncio.gather(*(store.add_inbox("k", "u", f"m{i}") for i in range(40)))
    assert len(set(ids)) == 40
    assert sorted(m.id for m in await store.inbox_with_status("pending")) == sorted(ids)
