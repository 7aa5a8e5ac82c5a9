"""Taking the bot's own mentions out of a message's text, for every platform: each adapter
gives the regex of its mention markup (Slack ``<@U123|name>``, Discord ``<@123>`` /
``<@!123>``); the rest of the text keeps its whitespace (a code block keeps its indentation)."""

from __future__ import annotations

import re


def strip_mentions(text: str, mention: str) -> str:
    """``text`` without the matches of the regex ``mention`` (and the whitespace around each,
    which becomes one space), trimmed."""
    return re.sub(rf"\s*(?:{mention})\s*", " ", text or "").strip()
