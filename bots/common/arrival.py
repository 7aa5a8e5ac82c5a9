"""Arrival order per conversation, for every adapter: the handlers of one conversation hand their messages and
resets to the engine in the order the listeners started, whatever each of them awaits on the
way (a dedupe claim, a lookup, a platform call). A ``reset`` followed at once by a message
therefore always queues the reset first, and the message lands in the fresh thread.

Entering :meth:`ArrivalOrder.turn` takes a place in line synchronously (an asyncio lock is
first come, first served), so a listener must enter it before its first await.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Hashable
from dataclasses import dataclass, field


@dataclass
class _Line:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class ArrivalOrder:
    def __init__(self) -> None:
        self._lines: dict[Hashable, _Line] = {}

    @contextlib.asynccontextmanager
    async def turn(self, name: Hashable) -> AsyncIterator[None]:
        """Wait for the handlers of ``name`` (a conversation, a channel) that started earlier
        to hand over their work."""
        line = self._lines.get(name)
        if line is None:
            line = self._lines[name] = _Line()
        line.users += 1
        try:
            async with line.lock:
                yield
        finally:
            line.users -= 1
            if line.users == 0:
                del self._lines[name]

    def __len__(self) -> int:
        """Lines with a handler in them."""
        return len(self._lines)

    def in_line(self, name: Hashable) -> int:
        """Handlers in ``name``'s line: the one at its head and those waiting behind it."""
        line = self._lines.get(name)
        return line.users if line else 0
