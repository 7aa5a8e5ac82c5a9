"""Pure decisions of the streaming renderer: when the next edit is allowed and what text the
current message shows (its text plus an inline status line, in the port's italics). No I/O,
no clocks of their own.
"""

from __future__ import annotations

from collections.abc import Callable

Italic = Callable[[str], str]


def markdown_italic(text: str) -> str:
    return f"_{text}_"


STATUS_CHARS_LIMIT = 200
"""An inline status longer than this is shortened."""

NO_TEXT_LABEL = "(no text)"
NO_TEXT = markdown_italic(NO_TEXT_LABEL)
"""Final text of a posted message that would otherwise end empty (it showed only a status)."""


def edit_delay(now: float, last_call_at: float | None, interval: float) -> float:
    """Seconds to wait before the next edit of a message whose previous post/edit started at
    ``last_call_at``; 0 when it may happen now."""
    if last_call_at is None:
        return 0.0
    return max(0.0, last_call_at + interval - now)


def status_line(status: str, max_length: int, italic: Italic = markdown_italic) -> str:
    """The inline form of a status: a last paragraph in italics, at most a quarter of the
    message (and :data:`STATUS_CHARS_LIMIT`)."""
    room = max(1, min(STATUS_CHARS_LIMIT, max_length // 4))
    status = " ".join(status.split())
    if len(status) > room:
        status = status[: room - 1].rstrip() + "…"
    return italic(status)


def status_suffix(status: str | None, max_length: int, italic: Italic = markdown_italic) -> str:
    """What an inline status appends to a message's text ("" for none)."""
    if not status:
        return ""
    return "\n\n" + status_line(status, max_length, italic)


def text_limit(max_length: int, inline_status: str | None, italic: Italic = markdown_italic) -> int:
    """Room for the message's text when ``inline_status`` is shown after it."""
    return max(1, max_length - len(status_suffix(inline_status, max_length, italic)))


def compose(
    text: str, inline_status: str | None, max_length: int, italic: Italic = markdown_italic
) -> str:
    """The text a message shows: ``text`` plus the inline status as its last line. A message
    with no visible text yet shows the status alone."""
    if not inline_status:
        return text
    if not visible(text):
        return status_line(inline_status, max_length, italic)
    return text.rstrip() + status_suffix(inline_status, max_length, italic)


def visible(text: str) -> bool:
    """Does ``text`` show anything (platforms refuse whitespace-only messages)?"""
    return bool(text) and not text.isspace()


def append_error(text: str, error: str, max_length: int) -> str | None:
    """``text`` with ``error`` as its last paragraph, or None when that does not fit."""
    if not visible(text):
        return error if len(error) <= max_length else None
    combined = text.rstrip() + "\n\n" + error
    return combined if len(combined) <= max_length else None
