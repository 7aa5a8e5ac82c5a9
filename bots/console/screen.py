"""Terminal arithmetic for the console's transient notes: where the cursor stands after some
text, and the escape sequences that put it back there. Pure functions, no I/O."""

from __future__ import annotations

from prompt_toolkit.utils import get_cwidth

DIM = "\x1b[2m"
RESET = "\x1b[0m"
ERASE_ROW = "\r\x1b[K"
"""Back to the row's start and erase it."""
TAB = 8


def column_after(text: str, columns: int) -> int:
    """The cursor's column (0-based) after writing ``text`` from column 0; 0 also when the
    last row is exactly full (the next character goes to the next row's start)."""
    last = text.rsplit("\n", 1)[-1]
    width = 0
    for char in last:
        if char == "\t":
            width += TAB - width % TAB
        elif char == "\r":
            width = 0
        else:
            width += max(get_cwidth(char), 0)
    return width % max(columns, 1)


def fit(note: str, columns: int) -> str:
    """``note`` on one row, never filling it (a full row would move the cursor on)."""
    note = " ".join(note.split())
    room = max(columns - 1, 1)
    if sum(get_cwidth(c) for c in note) <= room:
        return note
    out, width = "", 0
    for char in note:
        width += get_cwidth(char)
        if width > room - 1:
            break
        out += char
    return out + "…"


def return_to(column: int) -> str:
    """From the start of the row under the text, back up to ``column`` of the text's row."""
    return f"\x1b[1A\x1b[{column + 1}G"
