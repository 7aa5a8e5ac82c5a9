"""Independent checks and generated inputs for message splitting, shared by the splitter's
and the renderer's tests: a fence tracker (``fence_events``), ``rejoin`` (undo the fence
lines the splitter adds), ``squash`` (compare text ignoring whitespace) and ``build_reply``
(a long, seeded reply mixing prose, lists and code blocks)."""

from __future__ import annotations

import itertools
import random
import re

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def fence_events(piece: str) -> tuple[tuple[str, str] | None, list[tuple[str, str]]]:
    """Independent fence tracker: (fence open at the end, every opener seen in order)."""
    open_: tuple[str, str] | None = None
    openers: list[tuple[str, str]] = []
    for raw in piece.split("\n"):
        m = FENCE.match(raw.rstrip("\r"))
        if not m:
            continue
        marker, info = m.group(1), m.group(2).strip()
        if open_ is None:
            if marker[0] == "`" and "`" in info:
                continue
            open_ = (marker, info)
            openers.append(open_)
        elif not info and marker[0] == open_[0][0] and len(marker) >= len(open_[0]):
            open_ = None
    return open_, openers


def rejoin(pieces: list[str]) -> str:
    """Undo the splitter's added fence lines: a head closed with "\\n<marker>" whose next piece
    reopens the same fence (same marker and language) is glued back."""
    parts = list(pieces)
    for i, (prev, nxt) in enumerate(itertools.pairwise(pieces)):
        for marker in ("````", "```", "~~~~", "~~~"):
            if prev.endswith("\n" + marker):
                state, _ = fence_events(prev[: -len(marker) - 1])
                if state is not None and state[0] == marker:
                    reopen = state[0] + state[1] + "\n"
                    if nxt.startswith(reopen):
                        parts[i] = parts[i][: -len(marker) - 1]
                        parts[i + 1] = parts[i + 1][len(reopen) :]
                break
    return "\n".join(parts)


def squash(text: str) -> str:
    return "".join(text.split())


def build_reply(rng: random.Random, lines: int) -> str:
    langs = ["python", "js", "sql", "", "rust"]
    out: list[str] = []
    n = 0
    block = 0
    while n < lines:
        kind = rng.random()
        if kind < 0.25:
            lang = langs[block % len(langs)]
            block += 1
            out.append(f"```{lang}")
            for i in range(rng.randint(5, 120)):
                out.append(
                    " " * rng.choice([0, 4, 8]) + f"line_{n}_{i} = fn({i}, 'text with spaces')"
                )
            out.append("```")
            out.append("")
        elif kind < 0.6:
            words = rng.randint(5, 60)
            out.append(
                " ".join(rng.choice(["lorem", "ipsum", "dolor", "sit"]) for _ in range(words))
            )
            out.append("")
        else:
            out.append(f"- item {n}: " + "detail " * rng.randint(1, 12))
        n = len(out)
    return "\n".join(out)
