"""Thread names derived from a prompt: one line, mentions removed, at most 100 characters."""

from __future__ import annotations

import re

THREAD_NAME_LIMIT = 100
FALLBACK_NAME = "Conversation"
_MARKUP_RE = re.compile(r"<(?:@[!&]?|#)\d+>")
_SPACE_RE = re.compile(r"\s+")
_FORMAT_RE = re.compile(r"[*_~`|]+|^[>#\s-]+")


def thread_name(prompt: str, limit: int = THREAD_NAME_LIMIT) -> str:
    """A readable thread name: collapsed whitespace, cut at a word boundary with an ellipsis."""
    text = _SPACE_RE.sub(" ", _MARKUP_RE.sub(" ", prompt)).strip()
    text = _FORMAT_RE.sub("", text).strip()
    if not text:
        return FALLBACK_NAME
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-") + "…"
