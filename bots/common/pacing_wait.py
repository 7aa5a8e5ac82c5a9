"""Waiting on :mod:`bots.common.pacing` slots in asyncio: ``reserve`` one booked slot,
``acquire`` a slot in several tables at once, or only ``wait_for_room``. Sleeping is how rate
limiting waits: room appears when held slots come back."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable

from bots.common.pacing import PerKey, Slots

Hold = tuple[PerKey[Slots], Hashable]
"""A table of slots and the key a request takes a slot of."""


async def reserve(slots: Slots) -> None:
    """Book a slot (first come first served) and wait until it is due."""
    delay = slots.book() - slots.clock()
    if delay > 0:
        await asyncio.sleep(delay)


async def acquire(*holds: Hold) -> float:
    """Wait until each ``(table, key)`` has room, then take one slot in all of them at once,
    so a request never holds a slot in one table while it waits for another. Returns the
    seconds waited."""
    if not holds:
        return 0.0
    clock = holds[0][0][holds[0][1]].clock
    start = clock()
    waited = False
    while True:
        slots = [table[key] for table, key in holds]
        wait = max(s.wait(0) for s in slots)
        if wait <= 0:
            for s in slots:
                s.take()
            return clock() - start if waited else 0.0
        waited = True
        await asyncio.sleep(wait)


async def wait_for_room(*holds: Hold) -> None:
    """Wait until each ``(table, key)`` has room, taking nothing (the request itself takes
    its slots with :func:`acquire` when it goes out)."""
    while holds:
        wait = max(table[key].wait(0) for table, key in holds)
        if wait <= 0:
            return
        await asyncio.sleep(wait)
