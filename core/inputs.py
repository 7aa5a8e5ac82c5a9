"""Checking and cleaning user input before it reaches storage or the model: pure functions."""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

EMPTY_REPLY = "I didn't get any text in that message. Send me a question and I'll answer."


def clean_text(text: str) -> str:
    """Drop lone surrogates and control characters (keeping newlines and tabs); NFC-normalise."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = _CONTROL.sub("", text.replace("\r\n", "\n"))
    return unicodedata.normalize("NFC", text).strip()


def has_visible_text(text: str) -> bool:
    """Anything but whitespace and invisible format characters (zero-width spaces and
    joiners, direction marks, BOMs)?"""
    return any(not c.isspace() and unicodedata.category(c) != "Cf" for c in text)


def input_problem(text: str, max_chars: int) -> str | None:
    """A short, user-facing reason this message can't be answered, or None."""
    if not has_visible_text(text):
        return EMPTY_REPLY
    if len(text) > max_chars:
        return (
            f"That message is too long for me ({len(text):,} characters; the limit is "
            f"{max_chars:,}). Please shorten it or send it in parts."
        )
    return None
