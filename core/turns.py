"""Ordered turns per conversation: each conversation's turns and resets run strictly one after
another in a task of its own; different conversations run concurrently. Pure scheduling: what
a turn does is the ``run`` callback's business."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from core.keys import ConversationKey

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(slots=True)
class Reset:
    """Start a fresh assistant thread once the turns queued before it are done."""

    done: asyncio.Future[None]


@dataclass(slots=True)
class _Line(Generic[T]):
    items: deque[T | Reset] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None


class TurnQueue(Generic[T]):
    """Runs ``run(conversation, turn)`` and ``reset(conversation)`` in arrival order per
    conversation, at most ``max_running`` turns at once over all conversations (the others
    wait for a slot, in order). A failing turn is logged and the line goes on."""

    def __init__(
        self,
        run: Callable[[str, T], Awaitable[None]],
        reset: Callable[[str], Awaitable[None]],
        max_running: int = 1_000_000,
    ) -> None:
        self._run = run
        self._reset = reset
        self._lines: dict[str, _Line[T]] = {}
        self._slots = asyncio.Semaphore(max_running)
        self.closed = False

    def __contains__(self, conversation: str) -> bool:
        return conversation in self._lines

    def waiting(self, key: ConversationKey) -> int:
        """Turns of ``key`` queued and not started yet."""
        line = self._lines.get(key.as_str())
        return sum(not isinstance(i, Reset) for i in line.items) if line else 0

    def add(self, key: ConversationKey, item: T | Reset) -> None:
        """Queue ``item`` now, synchronously: it takes its place before any later call."""
        conv = key.as_str()
        line = self._lines.get(conv)
        if line is None:
            line = self._lines[conv] = _Line()
        line.items.append(item)
        if line.task is None:
            line.task = asyncio.create_task(self._drain(conv, line), name=f"conv:{conv}")

    def add_reset(self, key: ConversationKey) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.add(key, Reset(done))
        return done

    async def _drain(self, conv: str, line: _Line[T]) -> None:
        try:
            while line.items:
                item = line.items.popleft()
                if isinstance(item, Reset):
                    await self._do_reset(conv, item)
                    continue
                try:
                    async with self._slots:
                        await self._run(conv, item)
                except Exception:  # e.g. storage failing while closing the turn
                    log.exception("turn bookkeeping failed in %s", conv.split("|", 1)[0])
        finally:
            line.task = None
            if not line.items:
                self._lines.pop(conv, None)
            elif not self.closed:  # cancelled with work left: keep it going
                line.task = asyncio.create_task(self._drain(conv, line), name=f"conv:{conv}")

    async def _do_reset(self, conv: str, item: Reset) -> None:
        try:
            await self._reset(conv)
        except Exception as exc:
            item.done.set_exception(exc)
        else:
            item.done.set_result(None)

    def tasks(self) -> list[asyncio.Task[None]]:
        return [line.task for line in self._lines.values() if line.task]

    async def wait_idle(self) -> None:
        """Wait until every queued turn has finished. Cancelling the wait cancels only the
        wait, never the turns (``asyncio.wait``, unlike ``gather``, leaves them running)."""
        while tasks := self.tasks():
            await asyncio.wait(tasks)

    async def close(self, grace: float = 0.0) -> None:
        """Stop taking turns; those still running after ``grace`` seconds are cancelled."""
        self.closed = True
        if grace > 0:
            try:
                async with asyncio.timeout(grace):
                    await self.wait_idle()
            except TimeoutError:
                log.warning("shutdown: cancelling %d unfinished turns", len(self._lines))
        tasks = self.tasks()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
