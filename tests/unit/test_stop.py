"""The stop guard alone: a stop interrupts a stalled stream, never the consumer's own awaits,
and is never confused with the task being cancelled from outside."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest

from core.backends.stop import StopGuard, Stopped


async def numbers(stall_after: int) -> AsyncGenerator[int, None]:
    for i in range(stall_after):
        yield i
    await asyncio.get_running_loop().create_future()  # a model that never sends more


async def test_a_stop_ends_a_stalled_stream_and_leaves_the_task_uncancelled() -> None:
    stop = asyncio.Event()
    guard = StopGuard(stop)
    seen: list[int] = []
    with pytest.raises(Stopped):
        async for n in guard.interruptible(numbers(2)):
            seen.append(n)
            if n == 1:
                asyncio.get_running_loop().call_soon(stop.set)  # set while the stream stalls
    guard.close()
    assert seen == [0, 1]
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0


async def test_a_stop_while_the_consumer_awaits_waits_for_the_next_event() -> None:
    stop = asyncio.Event()
    guard = StopGuard(stop)
    seen: list[int] = []
    with pytest.raises(Stopped):
        async for n in guard.interruptible(numbers(3)):
            seen.append(n)
            stop.set()
            await asyncio.ensure_future(stop.wait())  # the guard sees the stop meanwhile
    guard.close()
    assert seen == [0]


async def test_an_outside_cancellation_is_not_a_stop() -> None:
    stop = asyncio.Event()
    started = asyncio.Event()

    async def consume() -> None:
        guard = StopGuard(stop)
        try:
            async for _ in guard.interruptible(numbers(1)):
                started.set()
        finally:
            guard.close()

    task = asyncio.create_task(consume())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_without_a_stop_event_nothing_is_watched() -> None:
    guard = StopGuard(None)
    assert not guard.requested
    guard.check()
    guard.close()
