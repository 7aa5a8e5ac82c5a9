"""Where an interaction response hands over to a channel message when its 15-minute token runs
out mid-message. Pure functions, no I/O.

The interaction message keeps a head of the message's text; a channel message shows the rest
and grows with it. While the token still works (the adapter hands over a margin before expiry)
the head is cut at a line or word break, and a code fence open at the cut is closed in the
head and reopened (same marker and language) in the continuation. Once Discord has rejected
the token, the interaction message can't change: the continuation starts exactly where the
text shown there stops matching the message's text. Either way no text is lost or repeated.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.render.split import parse_fence_line

CONTINUED = "*(continued below)*"
CLEAN_CUT_WINDOW = 300
"""How far back from the end of the text a line or word break is looked for."""


@dataclass(frozen=True, slots=True)
class Handoff:
    keep: str | None
    """The interaction message's final text, or None to leave what it shows."""
    offset: int
    """Characters of the message's text the interaction message covers."""
    reopen: str = ""
    """Put before the continuation: the reopened code fence, or nothing."""

    def continuation(self, text: str) -> str:
        """What the channel message shows once the message's text is ``text``."""
        rest = text[self.offset :]
        return self.reopen + rest if self.reopen else rest.lstrip()


def open_fence(text: str) -> tuple[str, str] | None:
    """``(marker, opener line)`` of the code fence still open at the end of ``text``."""
    marker: str | None = None
    opener = ""
    for line in text.split("\n"):
        parsed = parse_fence_line(line)
        if parsed is None:
            continue
        mark, info = parsed
        if marker is None:
            marker, opener = mark, mark + info
        elif not info and mark[0] == marker[0] and len(mark) >= len(marker):
            marker = None
    return (marker, opener) if marker is not None else None


def common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def clean_cut(text: str, limit: int) -> int:
    """A cut point in ``text[:limit]``: after its last line break, else its last space near
    the end, else ``limit``."""
    floor = max(1, limit - CLEAN_CUT_WINDOW)
    newline = text.rfind("\n", floor, limit)
    if newline >= 0:
        return newline + 1
    space = text.rfind(" ", floor, limit)
    return space + 1 if space >= 0 else limit


def plan_handoff(shown: str, text: str, *, can_edit: bool, max_length: int) -> Handoff:
    """Split the message's ``text`` between the interaction message (showing ``shown``) and a
    channel message. ``can_edit``: the interaction message may still be edited once."""
    if not can_edit:
        offset = common_prefix(shown, text)
        fence = open_fence(text[:offset])
        return Handoff(None, offset, fence[1] + "\n" if fence else "")
    limit = len(text)
    while True:
        cut = clean_cut(text, limit)
        fence = open_fence(text[:cut])
        head = text[:cut].rstrip()
        keep = f"{head}\n{fence[0]}" if fence else head
        if len(keep) <= max_length or cut <= 1:
            break
        limit = cut - 1  # the closing fence doesn't fit: cut earlier
    if not keep.strip():
        # nothing worth keeping: the interaction message points at the continuation
        return Handoff(CONTINUED, 0)
    return Handoff(keep, cut, fence[1] + "\n" if fence else "")
