"""Stopping a run from outside (e.g. a Stop button): ``RunRequest.stop``, an ``asyncio.Event``.

The tool loop checks the event between rounds. While the model streams, setting it interrupts
the stream at once, even one waiting for its next chunk: like ``asyncio.timeout``, the run's
task is cancelled and that cancellation is turned into :class:`Stopped`. The task is cancelled
only while it waits inside the stream, never while the run's consumer handles an event (the
consumer runs in the same task, between the stream's yields).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TypeVar

T = TypeVar("T")


class Stopped(Exception):
    """The run was asked to stop."""


class StopGuard:
    """Watches one run's stop event; a run without one costs nothing."""

    __slots__ = ("_armed", "_fired", "_task", "_watcher", "signal")

    def __init__(self, signal: asyncio.Event | None) -> None:
        self.signal = signal
        self._armed = False
        self._fired = False
        self._task: asyncio.Task[object] | None = None
        self._watcher: asyncio.Task[bool] | None = None
        if signal is not None:
            self._task = asyncio.current_task()
            self._watcher = asyncio.ensure_future(signal.wait())
            self._watcher.add_done_callback(self._on_stop)

    @property
    def requested(self) -> bool:
        return self.signal is not None and self.signal.is_set()

    def check(self) -> None:
        if self.requested:
            raise Stopped

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()

    def _on_stop(self, _: object) -> None:
        if self._armed and self._task is not None:
            self._fired = True
            self._task.cancel()

    async def interruptible(self, events: AsyncGenerator[T, None]) -> AsyncIterator[T]:
        """``events``, ended by :class:`Stopped` as soon as a stop is requested."""
        task = self._task
        assert task is not None, "only for a run with a stop event"
        cancelling = task.cancelling()
        try:
            while True:
                self.check()
                self._armed = True
                try:
                    event = await anext(events)
                except StopAsyncIteration:
                    break
                finally:
                    self._armed = False
                yield event
        except asyncio.CancelledError:
            if self._fired:
                self._fired = False
                if task.uncancel() <= cancelling:  # only our stop cancelled the task
                    print("STOP-BY-CANCEL")
                    raise Stopped from None
            raise
        finally:
            await events.aclose()
        if self._fired:  # the stream swallowed our cancellation
            self._fired = False
            task.uncancel()
        self.check()
