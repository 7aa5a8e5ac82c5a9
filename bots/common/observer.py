"""Observers: how tests, benchmarks (and later metrics) watch what an adapter does without
counters living in production code. An adapter calls ``observe(event, **detail)`` at the
moments worth watching; the default observer does nothing.

Events: ``accepted`` (a message handed to the engine), ``duplicate`` (a delivery dropped as
seen before), ``resumed`` (a message a crash left unanswered, queued again), ``reset`` (a
fresh conversation queued), ``handled`` (a listener finished, answered or ignored;
``event_id``), ``link_wait`` / ``link_waited`` (a reply waits for the link of the answer it
replies to; ``message_id``)."""

from __future__ import annotations

from typing import Any, Protocol


class Observer(Protocol):
    def __call__(self, event: str, /, **detail: Any) -> None: ...


def ignore(event: str, /, **detail: Any) -> None:
    """The default observer."""
