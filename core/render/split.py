"""Splitting a too-long message into a head that fits and a tail, never inside a code fence.

Pure functions, no I/O. The cut point is chosen by preference: a paragraph break, a line
break, a space, a hard cut; all within the last ~60% of the allowed window so pieces are not
tiny. A cut inside an open ``` / ~~~ fence closes the fence at the end of the head and
reopens it (same marker and language) at the start of the tail; the closing fence is
reserved from the limit. Work per cut is bounded by the limit, so splitting a whole reply
is O(n).
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_right
from dataclasses import dataclass

WINDOW_FRACTION = 0.6
"""Cut points are searched in the last this-fraction of the allowed length."""

_LOOKAHEAD = 64
"""Characters scanned past the limit: enough to classify the line the cut falls in."""

_MAX_BACKOFF = 32
"""How far a hard cut may move left to avoid splitting a grapheme."""


@dataclass(frozen=True, slots=True)
class Fence:
    """An open code fence: its marker (e.g. "```", "~~~~") and info string (language)."""

    marker: str
    info: str
    start: int
    """Index of the opener line's first character (window coordinates)."""
    open_end: int
    """Index of the newline ending the opener line (window coordinates)."""

    @property
    def opener(self) -> str:
        return self.marker + self.info

    @property
    def reserve(self) -> int:
        """Characters the closing "\\n<marker>" adds to a head."""
        return 1 + len(self.marker)


def parse_fence_line(line: str) -> tuple[str, str] | None:
    """``(marker, info)`` when ``line`` is a fence line (opener or closer), else None."""
    stripped = line.lstrip(" ")
    if len(line) - len(stripped) > 3 or len(stripped) < 3:
        return None
    ch = stripped[0]
    if ch != "`" and ch != "~":
        return None
    n = len(stripped) - len(stripped.lstrip(ch))
    if n < 3:
        return None
    info = stripped[n:].strip()
    if ch == "`" and "`" in info:
        return None
    return stripped[:n], info


_TEXT, _OPENER, _CLOSER = 0, 1, 2


@dataclass(slots=True)
class _Line:
    start: int
    end: int  # index of its "\n", or len(window) for the last line
    fence: Fence | None  # fence open at the start of the line
    kind: int
    after: Fence | None  # fence open after the line
    blank: bool


def _scan(w: str) -> list[_Line]:
    lines: list[_Line] = []
    fence: Fence | None = None
    pos = 0
    n = len(w)
    while pos <= n:
        end = w.find("\n", pos)
        if end < 0:
            end = n
        line = w[pos:end]
        kind = _TEXT
        after = fence
        if "`" in line[:7] or "~" in line[:7]:
            parsed = parse_fence_line(line)
            if parsed is not None:
                marker, info = parsed
                if fence is None:
                    kind = _OPENER
                    after = Fence(marker, info, pos, end)
                elif not info and marker[0] == fence.marker[0] and len(marker) >= len(fence.marker):
                    kind = _CLOSER
                    after = None
        lines.append(_Line(pos, end, fence, kind, after, not line.strip()))
        fence = after
        if end == n:
            break
        pos = end + 1
    return lines


def _is_extender(c: str) -> bool:
    """Characters that must stay with the character before them."""
    o = ord(c)
    if 0xDC00 <= o <= 0xDFFF or 0x1F3FB <= o <= 0x1F3FF or 0xE0020 <= o <= 0xE007F:
        return True
    return unicodedata.category(c) in ("Mn", "Me", "Mc")


def _is_regional(c: str) -> bool:
    return 0x1F1E6 <= ord(c) <= 0x1F1FF


def _safe_cut(w: str, p: int) -> int:
    """Move a hard cut at ``p`` left so it does not split CRLF, a surrogate pair, a combining
    sequence, a ZWJ sequence or a flag. Gives up after a short distance."""
    if p <= 1 or p >= len(w):
        return p
    q = p
    floor = max(1, p - _MAX_BACKOFF)
    while q > floor:
        prev, cur = w[q - 1], w[q]
        if (prev == "\r" and cur == "\n") or prev == "\u200d" or cur == "\u200d":
            q -= 1
        elif _is_extender(cur):
            q -= 1
        elif _is_regional(prev) and _is_regional(cur):
            run = 0
            i = q - 1
            while i >= 0 and _is_regional(w[i]):
                run += 1
                i -= 1
            if run % 2 == 0:
                break
            q -= 1
        else:
            return q
    if q == floor and floor > 1:
        return p  # a pathological run: cut where asked
    return q


class _Window:
    """One window of text being cut: its lines with fence state, and the cut builders."""

    __slots__ = ("first_visible", "lines", "n", "starts", "w")

    def __init__(self, w: str) -> None:
        self.w = w
        self.n = len(w)
        self.lines = _scan(w)
        self.starts = [ln.start for ln in self.lines]
        self.first_visible = self.n - len(w.lstrip())

    def line_at(self, index: int) -> int:
        """Index of the line containing character ``index``."""
        return max(0, bisect_right(self.starts, index) - 1)

    def skip_blank_lines(self, i: int, q: int) -> int:
        """From line ``i`` (starting at ``q``), skip whole blank lines; return the new start."""
        lines = self.lines
        while i < len(lines) and lines[i].blank and lines[i].end < self.n:
            q = lines[i].end + 1
            i += 1
        return q

    def outside(self, p: int, q: int) -> tuple[str, int, str] | None:
        """Head ``w[:p]`` (trailing whitespace stripped), tail from ``q`` minus blank lines."""
        if p <= self.first_visible:
            return None
        head = self.w[:p].rstrip()
        if q < self.n and self.w[q - 1] == "\n":
            q = self.skip_blank_lines(self.line_at(q), q)
        return head, q, ""

    def inside(self, p: int, fence: Fence, q: int) -> tuple[str, int, str]:
        """Close ``fence`` after ``w[:p]``; the tail reopens it before ``w[q:]``."""
        head = self.w[:p] + "\n" + fence.marker
        i = self.line_at(q)
        ln = self.lines[i]
        if q < self.n and ln.start == q and ln.kind == _CLOSER:
            # The original closer comes next: the head's closer stands in for it.
            return head, self.skip_blank_lines(i + 1, min(ln.end + 1, self.n)), ""
        return head, q, fence.opener + "\n"


def _cut(w: str, limit: int) -> tuple[str, int, str]:
    """Cut the window ``w`` (longer than ``limit``). Returns ``(head, tail_start, tail_prefix)``:
    the tail is ``tail_prefix + w[tail_start:]`` (plus whatever follows the window)."""
    win = _Window(w)
    lines = win.lines
    n = win.n
    lo = max(1, limit - int(limit * WINDOW_FRACTION))

    # 1. Line boundaries: a paragraph break outside fences wins; then a line break outside;
    #    then a line break inside a fence (closed and reopened).
    line_out: tuple[str, int, str] | None = None
    line_in: tuple[int, Fence] | None = None
    for i in range(len(lines) - 1, -1, -1):
        ln = lines[i]
        p = ln.end
        if p >= n or p > limit:
            continue
        if p < lo:
            break
        if ln.after is None:
            paragraph = ln.blank or (i + 1 < len(lines) and lines[i + 1].blank)
            if paragraph or line_out is None:
                got = win.outside(p, p + 1)
                if got is not None:
                    if paragraph:
                        return got
                    line_out = got
        elif line_in is None:
            f = ln.after
            if p > f.open_end and p + f.reserve <= limit:
                line_in = (p, f)
    if line_out is not None:
        return line_out
    if line_in is not None:
        p, f = line_in
        return win.inside(p, f, p + 1)

    # 2. Spaces: outside a fence (the space is dropped), else inside (kept: code is exact).
    space_in: tuple[int, Fence] | None = None
    s = w.rfind(" ", lo, limit + 1)
    while s >= lo:
        ln = lines[win.line_at(s)]
        if ln.kind == _TEXT:
            if ln.fence is None:
                if s > win.first_visible:
                    q = s + 1
                    while q < n and w[q] == " ":
                        q += 1
                    got = win.outside(s, q)
                    if got is not None:
                        return got
            elif space_in is None and s + 1 + ln.fence.reserve <= limit:
                space_in = (s + 1, ln.fence)
        s = w.rfind(" ", lo, s)
    if space_in is not None:
        p, f = space_in
        return win.inside(p, f, p)

    # 3. Hard cut.
    return _hard_cut(win, limit)


def _hard_cut(win: _Window, limit: int) -> tuple[str, int, str]:
    w = win.w
    p = _safe_cut(w, limit)
    ln = win.lines[win.line_at(p - 1)]
    fence = ln.fence
    if ln.kind == _OPENER:
        # Never cut through an opener line: cut before it.
        got = win.outside(ln.start, ln.start)
        if got is not None:
            return got
    elif fence is not None:
        q = ln.start - 1
        if ln.kind == _CLOSER and q > fence.open_end and q + fence.reserve <= limit:
            return win.inside(q, fence, q + 1)
        p2 = _safe_cut(w, limit - fence.reserve)
        if p2 - 1 > fence.open_end:
            if w[p2 - 1] == "\n":
                return win.inside(p2 - 1, fence, p2)
            return win.inside(p2, fence, p2)
        # The fence's content does not fit at all: cut before its opener.
        got = win.outside(fence.start, fence.start)
        if got is not None:
            return got
    else:
        return w[:p].rstrip() or w[:p], p, ""
    # The limit is too small for fence handling: a plain cut that still makes progress.
    return w[:p], p, ""


def open_fence_marker(text: str) -> str | None:
    """The marker that would close the code fence still open at the end of ``text``."""
    fence = _scan(text)[-1].after
    return fence.marker if fence is not None else None


def _window(prefix: str, text: str, pos: int, limit: int) -> str:
    size = limit + _LOOKAHEAD
    if len(prefix) >= size:
        return prefix[:size]
    return prefix + text[pos : pos + size - len(prefix)]


def split_message(text: str, limit: int) -> tuple[str, str]:
    """Split ``text`` into ``(head, tail)`` with ``len(head) <= limit``; ``(text, "")`` when it
    fits. A fence open at the cut is closed in the head and reopened in the tail."""
    if limit < 1:
        raise ValueError("limit must be positive")
    if len(text) <= limit:
        return text, ""
    head, start, prefix = _cut(_window("", text, 0, limit), limit)
    return head, prefix + text[start:]


def split_tail(text: str, limit: int) -> tuple[list[str], str]:
    """Cut ``text`` into finished heads (each ``<= limit``) and the remainder that fits
    (possibly empty). Equivalent to repeated :func:`split_message`, in O(len(text))."""
    if limit < 1:
        raise ValueError("limit must be positive")
    heads: list[str] = []
    prefix = ""
    pos = 0
    n = len(text)
    while len(prefix) + n - pos > limit:
        head, start, new_prefix = _cut(_window(prefix, text, pos, limit), limit)
        heads.append(head)
        if start >= len(prefix):
            pos += start - len(prefix)
            prefix = new_prefix
        else:  # a plain cut inside the reopened fence line (tiny limits only)
            prefix = new_prefix + prefix[start:]
    return heads, prefix + text[pos:]


def split_all(text: str, limit: int) -> list[str]:
    """Every piece of ``text`` for messages of at most ``limit`` characters. A whitespace-only
    remainder is dropped."""
    heads, rest = split_tail(text, limit)
    if rest.strip():
        heads.append(rest)
    return heads
