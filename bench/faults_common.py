"""Counting for the fault matrix (bench/faults.py): what one user message got, and a row.

A message is *answered* when exactly one reply carries the model's whole answer, *doubled*
when two or more do (or, in a row without a crash, when the model was asked to answer it
more than once), a *clear error* when no reply carries the answer but one is a short error
with ``(ref …)``, and *lost* when it got neither. Pure logic, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

REF = "(ref "


@dataclass
class Row:
    fault: str
    messages: int = 0
    answered: int = 0
    clear_error: int = 0
    doubled: int = 0
    lost: int = 0
    notes: list[str] = field(default_factory=list)

    def count(
        self,
        replies: Iterable[str],
        answer: str,
        *,
        model_calls: int | None = None,
        calls_allowed: int = 1,
        label: str = "",
    ) -> str:
        """Classify one message from the texts of its replies; returns the category."""
        texts = list(replies)
        complete = sum(1 for t in texts if answer in t)
        errors = sum(1 for t in texts if answer not in t and REF in t)
        self.messages += 1
        if complete >= 2 or (model_calls is not None and model_calls > calls_allowed):
            self.doubled += 1
            self.notes.append(
                f"{label or answer[:30]!r}: {complete} answers, {model_calls} model calls"
            )
            return "doubled"
        if complete == 1:
            self.answered += 1
            return "answered"
        if errors:
            self.clear_error += 1
            return "clear error"
        self.lost += 1
        self.notes.append(f"{label or answer[:30]!r} lost; replies: {texts!r:.120}")
        return "lost"

    def note(self, text: str) -> None:
        self.notes.append(text)


def user_calls(calls: list[list[dict[str, Any]]], text: str) -> int:
    """How many times the model was asked to answer ``text`` (calls whose last message is
    that user message, i.e. not tool-result continuations)."""
    n = 0
    for call in calls:
        if call and call[-1].get("role") == "user" and text in str(call[-1].get("content")):
            n += 1
    return n


HEADER = ("fault", "messages", "answered", "clear error", "doubled", "lost", "notes")


def table(rows: list[Row]) -> str:
    cells = [
        (
            r.fault,
            str(r.messages),
            str(r.answered),
            str(r.clear_error),
            str(r.doubled),
            str(r.lost),
            "; ".join(r.notes),
        )
        for r in rows
    ]
    widths = [max(len(c[i]) for c in [HEADER, *cells]) for i in range(len(HEADER) - 1)]

    def line(c: tuple[str, ...]) -> str:
        left = " | ".join(
            c[i].ljust(widths[i]) if i == 0 else c[i].rjust(widths[i]) for i in range(len(widths))
        )
        return f"{left} | {c[-1]}"

    rule = "-+-".join("-" * w for w in widths) + "-+-" + "-" * 5
    return "\n".join([line(HEADER), rule, *(line(c) for c in cells)])


def verdict(rows: list[Row]) -> str:
    bad = [r.fault for r in rows if r.lost or r.doubled]
    if not bad:
        return "RESULT: every row has 0 lost and 0 doubled."
    return "RESULT: NOT MET — lost or doubled messages in: " + ", ".join(bad)
