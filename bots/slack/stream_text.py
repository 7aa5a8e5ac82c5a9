"""Pure text bookkeeping for streamed replies: what to append next. A streamed message can
only grow, so every step is a suffix."""

from __future__ import annotations


def stream_suffix(sent: str, text: str) -> str | None:
    """The text to append so that ``sent`` becomes ``text``; None when ``text`` does not
    extend ``sent`` (the message must then be replaced, not appended to)."""
    if not text.startswith(sent):
        return None
    return text[len(sent) :]
