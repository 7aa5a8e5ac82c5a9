"""Arrival order per conversation: later listeners wait for earlier ones of the same
conversation, whatever those await; other conversations are not held up."""

from __future__ import annotations

import asyncio

from bots.common.arrival import ArrivalOrder
from core.keys import ConversationKey

DM = ConversationKey("slack", "T1", "D1", None)
OTHER = ConversationKey("slack", "T1", "D2", None)


async def test_listeners_hand_over_in_the_order_they_started() -> None:
    order = ArrivalOrder()
    handed: list[str] = []
    slow_claim = asyncio.Event()

    async def listener(name: str, key: ConversationKey, wait: asyncio.Event | None) -> None:
        async with order.turn(key):
            if wait is not None:
                await wait.wait()  # e.g. a dedupe claim that takes a while
            handed.append(name)

    first = asyncio.create_task(listener("reset", DM, slow_claim))
    second = asyncio.create_task(listener("message", DM, None))
    other = asyncio.create_task(listener("elsewhere", OTHER, None))
    await other
    assert handed == ["elsewhere"]  # another conversation does not wait
    assert not second.done()
    slow_claim.set()
    await asyncio.gather(first, second)
    assert handed == ["elsewhere", "reset", "message"]
    assert len(order) == 0  # nothing kept once nobody is in line


async def test_a_failing_listener_gives_up_its_place() -> None:
    order = ArrivalOrder()

    async def failing() -> None:
        async with order.turn(DM):
            raise RuntimeError("claim failed")

    task = asyncio.create_task(failing())
    await asyncio.gather(task, return_exceptions=True)
    async with asyncio.timeout(1), order.turn(DM):
        pass
    assert len(order) == 0
