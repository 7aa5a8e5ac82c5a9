"""Optional context for a mention mid-thread: what the bot missed earlier in that thread,
fetched with one ``conversations.replies`` call at most. Slack allows non-Marketplace apps
about one such call a minute, so the caller budgets it, and a call that would wait out a
429 is abandoned after :data:`HISTORY_TIMEOUT` rather than holding up the reply."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.slack.reply_message import error_code

log = logging.getLogger(__name__)

HISTORY_MESSAGES = 30
HISTORY_CHARS = 6_000
HISTORY_TIMEOUT = 3.0


def format_history(messages: Sequence[Mapping[str, Any]], before_ts: str) -> str:
    """Earlier human messages as ``<@U1>: text`` lines, newest last, capped in size."""
    lines = [
        f"<@{m.get('user')}>: {str(m.get('text') or '').strip()}"
        for m in messages
        if str(m.get("ts", "")) < before_ts
        and not m.get("bot_id")
        and m.get("subtype") in (None, "file_share")
        and str(m.get("text") or "").strip()
    ]
    out: list[str] = []
    size = 0
    for line in reversed(lines):
        size += len(line) + 1
        if size > HISTORY_CHARS:
            break
        out.append(line)
    return "\n".join(reversed(out))


def with_history(history: str, text: str) -> str:
    if not history:
        return text
    return f"Earlier in this thread:\n{history}\n\nNow I'm asking you: {text}"


async def missed_history(
    client: AsyncWebClient, channel: str, thread_ts: str, before_ts: str
) -> str:
    """The thread's earlier messages, or "" when they can't be read."""
    try:
        async with asyncio.timeout(HISTORY_TIMEOUT):
            resp = await client.conversations_replies(
                channel=channel, ts=thread_ts, limit=HISTORY_MESSAGES
            )
    except SlackApiError as exc:
        log.info("no thread history for a mid-thread mention (%s)", error_code(exc))
        return ""
    except TimeoutError:
        log.info("no thread history for a mid-thread mention (timed out)")
        return ""
    return format_history(list(resp.get("messages") or []), before_ts)
