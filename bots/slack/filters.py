"""Pure rules for which Slack events the bot answers, and small text helpers.

Ignored: the bot's own messages (echoed back with ``bot_id``), other bots, edits, deletes,
joins and every other subtype except ``file_share``. A channel ``message`` that mentions the
bot is left to its ``app_mention`` twin, so a mention is answered once.
"""

from __future__ import annotations

import re
from typing import Any

from bots.common.mentions import strip_mentions

ANSWERED_SUBTYPES = frozenset({None, "file_share"})
RESET_WORDS = frozenset({"reset", "/reset"})
_MENTION_RE = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


def ignore_reason(event: dict[str, Any], bot_user_id: str | None = None) -> str | None:
    """Why an incoming message event is not for us, or None when it should be answered."""
    if event.get("bot_id") or event.get("bot_profile"):
        return "bot message"
    if event.get("subtype") not in ANSWERED_SUBTYPES:
        return f"subtype {event.get('subtype')}"
    user = event.get("user")
    if not user:
        return "no user"
    if bot_user_id and user == bot_user_id:
        return "own message"
    if event.get("hidden"):
        return "hidden"
    return None


def mentions(text: str, user_id: str | None) -> bool:
    return bool(user_id) and any(m == user_id for m in _MENTION_RE.findall(text or ""))


def strip_mention(text: str, user_id: str | None) -> str:
    """Remove mentions of the bot and the whitespace around them."""
    if not user_id:
        return (text or "").strip()
    return strip_mentions(text, rf"<@{re.escape(user_id)}(?:\|[^>]*)?>")


def is_reset(text: str) -> bool:
    return (text or "").strip().lower() in RESET_WORDS


def is_dm(event: dict[str, Any]) -> bool:
    return event.get("channel_type") == "im" or str(event.get("channel", "")).startswith("D")


def user_id_from(text: str) -> str | None:
    """A user id from ``<@U123>``, ``<@U123|name>`` or a bare ``U123``."""
    text = (text or "").strip()
    found = _MENTION_RE.search(text)
    if found:
        return found.group(1)
    if re.fullmatch(r"[UW][A-Z0-9]+", text):
        return text
    return None


def channel_id_from(text: str) -> str | None:
    """A channel id from ``<#C123|name>``, ``<#C123>`` or a bare ``C123``/``G123``."""
    text = (text or "").strip()
    found = re.search(r"<#([CGD][A-Z0-9]+)(?:\|[^>]*)?>", text)
    if found:
        return found.group(1)
    if re.fullmatch(r"[CGD][A-Z0-9]+", text):
        return text
    return None


_BROADCAST = re.compile(r"<!(channel|here|everyone)(?:\|[^>]*)?>", re.IGNORECASE)
_GROUP = re.compile(r"<!subteam\^[A-Za-z0-9]+(?:\|@?([^>]*))?>")
_OPEN_SPECIAL = re.compile(r"<![^>]{0,80}$")
WORD_JOINER = "\u2060"


def defuse_broadcasts(text: str, *, final: bool = True) -> str:
    """Model text with ``<!channel>``, ``<!here>``, ``<!everyone>`` or a user-group mention
    would notify a whole channel or team: show it as plain ``@channel`` / ``@group`` text
    (a word joiner after the ``@`` keeps Slack from reading it as a mention). While a reply
    still grows (``final`` False) an unfinished ``<!…`` at its end is held back, so a
    broadcast split across deltas never goes out whole."""
    text = _BROADCAST.sub(lambda m: f"@{WORD_JOINER}{m.group(1).lower()}", text)
    text = _GROUP.sub(lambda m: f"@{WORD_JOINER}{m.group(1) or 'group'}", text)
    if final:
        return text
    held = _OPEN_SPECIAL.sub("", text)
    return held if held.strip() else text  # an unfinished ``<!…`` alone notifies nobody
