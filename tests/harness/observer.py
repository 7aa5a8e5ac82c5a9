"""An observer for tests and benchmarks (see :mod:`bots.common.observer`): counts what an
adapter reports, and keeps the few details tests wait on."""

from __future__ import annotations

from collections import Counter, deque
from typing import Any


class Recorder:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.handled_events: deque[str] = deque(maxlen=10_000)
        """Event ids of the latest finished listener runs."""
        self.waiting: set[int] = set()
        """Message ids a reply's link lookup is waiting for right now."""

    def __call__(self, event: str, /, **detail: Any) -> None:
        self.counts[event] += 1
        if event == "handled" and detail.get("event_id"):
            self.handled_events.append(str(detail["event_id"]))
        elif event == "link_wait":
            self.waiting.add(detail["message_id"])
        elif event == "link_waited":
            self.waiting.discard(detail["message_id"])

    @property
    def accepted(self) -> int:
        """Messages handed to the engine."""
        return self.counts["accepted"]

    @property
    def duplicates(self) -> int:
        """Deliveries dropped as already seen (messages and resets)."""
        return self.counts["duplicate"]

    @property
    def resumed(self) -> int:
        """Messages a crash left unanswered, queued again after the restart."""
        return self.counts["resumed"]

    @property
    def resets(self) -> int:
        return self.counts["reset"]

    @property
    def handled(self) -> int:
        """Listener runs finished, answered or ignored."""
        return self.counts["handled"]

    @property
    def waited(self) -> int:
        """Reply lookups that had to wait for a post in flight."""
        return self.counts["link_wait"]
