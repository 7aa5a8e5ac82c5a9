"""Slack tools, registered for Slack conversations only. Each acts within the requesting
user's reach: ``add_reaction`` only on the message that asked, ``post_message`` only to
channels the requesting user is a member of (and never with @channel-style broadcasts),
``share_file`` only into the current conversation. Model-supplied arguments are validated
and sizes capped before any Slack call."""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.slack.filters import channel_id_from, user_id_from
from bots.slack.pacing import SlackPacing
from bots.slack.reply_message import error_code
from core.tools import ToolContext, ToolError

log = logging.getLogger(__name__)

POST_CHARS_LIMIT = 12_000
FILE_BYTES_LIMIT = 1_000_000
"""UTF-8 size limit of a shared file's content."""
FILENAME_CHARS_LIMIT = 100
MEMBER_PAGES_LIMIT = 50
POST_MAX_WAIT = 10.0
"""Seconds post_message waits for the channel's post budget before calling it busy."""
"""conversations.members pages read (1,000 ids each) before giving up on a membership check."""
_EMOJI_RE = re.compile(r"^[a-z0-9_+'-]{1,100}(::skin-tone-[2-6])?$")
_BROADCAST_RE = re.compile(r"<!(channel|here|everyone)(\|[^>]*)?>|<!subteam\^", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SlackHandle:
    """What Slack tools need about the conversation they serve (``ToolContext.handle``)."""

    client: AsyncWebClient
    channel: str
    thread_ts: str | None
    team_id: str
    pacing: SlackPacing | None = None
    """The app's pacing (post_message keeps to the channel's post budget)."""


@dataclass(frozen=True, slots=True)
class SlackMessageRef:
    """The user's triggering message (``ToolContext.message_ref``)."""

    channel: str
    ts: str


def _handle(ctx: ToolContext) -> SlackHandle:
    if not isinstance(ctx.handle, SlackHandle):
        raise ToolError("this tool only works in a Slack conversation")
    return ctx.handle


async def lookup_user(user: str, ctx: ToolContext) -> dict[str, Any]:
    """Look up the Slack profile of a user mentioned in the conversation.

    Args:
        user: The user as written in the message, e.g. <@U0123ABC>, or a Slack user id.
    """
    user_id = user_id_from(user)
    if user_id is None:
        raise ToolError("give the user as a mention like <@U0123ABC> or as a user id")
    try:
        resp = await _handle(ctx).client.users_info(user=user_id)
    except SlackApiError as exc:
        raise ToolError(f"could not look up {user_id}: {error_code(exc)}") from exc
    u = resp["user"]
    profile = u.get("profile") or {}
    return {
        "id": u.get("id"),
        "name": u.get("name"),
        "real_name": u.get("real_name") or profile.get("real_name"),
        "display_name": profile.get("display_name"),
        "title": profile.get("title"),
        "time_zone": u.get("tz"),
        "is_bot": u.get("is_bot", False),
    }


async def add_reaction(emoji: str, ctx: ToolContext) -> str:
    """Add an emoji reaction to the user's message that asked for it.

    Args:
        emoji: The emoji name, e.g. "thumbsup" or ":tada:".
    """
    ref = ctx.message_ref
    if not isinstance(ref, SlackMessageRef):
        raise ToolError("there is no message to react to")
    name = emoji.strip().strip(":").lower()
    if not _EMOJI_RE.match(name):
        raise ToolError("give an emoji name such as thumbsup or :tada:")
    try:
        await _handle(ctx).client.reactions_add(channel=ref.channel, timestamp=ref.ts, name=name)
    except SlackApiError as exc:
        code = error_code(exc)
        if code == "already_reacted":
            return f"already reacted with :{name}:"
        raise ToolError(f"could not react with :{name}: ({code})") from exc
    return f"reacted with :{name}:"


async def _is_member(client: AsyncWebClient, channel: str, user_id: str) -> bool:
    """Is ``user_id`` in ``channel``? Unknown after MEMBER_PAGES_LIMIT pages counts as no."""
    cursor: str | None = None
    for _ in range(MEMBER_PAGES_LIMIT):
        page = await client.conversations_members(channel=channel, cursor=cursor, limit=1000)
        if user_id in (page.get("members") or []):
            return True
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            return False
    log.info("membership check in %s gave up after %d pages", channel, MEMBER_PAGES_LIMIT)
    return False


async def post_message(channel: str, text: str, ctx: ToolContext) -> dict[str, Any]:
    """Post a message to a Slack channel that the requesting user is a member of.

    Args:
        channel: The channel as a link like <#C0123ABC|general> or a channel id.
        text: The message to post, in Markdown.
    """
    channel_id = channel_id_from(channel)
    if channel_id is None:
        raise ToolError("give the channel as a link like <#C0123ABC> or as a channel id")
    if not text.strip():
        raise ToolError("the message is empty")
    if len(text) > POST_CHARS_LIMIT:
        raise ToolError(f"the message is longer than {POST_CHARS_LIMIT} characters")
    if _BROADCAST_RE.search(text):
        raise ToolError("I don't post @channel, @here, @everyone or group mentions for you")
    if not ctx.user_id:
        raise ToolError("I can't tell who asked, so I can't check their channel membership")
    client = _handle(ctx).client
    try:
        member = await _is_member(client, channel_id, ctx.user_id)
    except SlackApiError as exc:
        raise ToolError(f"cannot post to <#{channel_id}>: {error_code(exc)}") from exc
    if not member:
        raise ToolError(f"you are not a member of <#{channel_id}>, so I can't post there for you")
    ctx.side_effect("a post")
    pacing = _handle(ctx).pacing
    if pacing is not None:
        budget = pacing.posts[channel_id]
        if budget.wait_hint() > POST_MAX_WAIT:
            raise ToolError(f"<#{channel_id}> is busy right now; try again in a minute")
        await budget.reserve()
    try:
        resp = await client.chat_postMessage(channel=channel_id, markdown_text=text)
    except SlackApiError as exc:
        raise ToolError(f"posting to <#{channel_id}> failed: {error_code(exc)}") from exc
    return {"posted": True, "channel": channel_id, "ts": resp.get("ts")}


def clean_filename(filename: str) -> str | None:
    """A safe file name: no directories, control characters or leading dots; None if empty."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    name = unicodedata.normalize("NFC", name).strip().lstrip(".").strip()
    if len(name) > FILENAME_CHARS_LIMIT:
        _, dot, ext = name.rpartition(".")
        keep = ext if dot and 0 < len(ext) <= 10 else ""
        name = name[: FILENAME_CHARS_LIMIT - len(keep) - 1].rstrip() + ("." + keep if keep else "")
    return name or None


async def share_file(filename: str, content: str, ctx: ToolContext) -> dict[str, Any]:
    """Upload a text file into this conversation.

    Args:
        filename: The file name, e.g. "report.md".
        content: The file's text content.
    """
    name = clean_filename(filename)
    if name is None:
        raise ToolError("give the file a name such as notes.md")
    if not content.strip():
        raise ToolError("the file is empty")
    data = content.encode("utf-8", "replace")  # lone surrogates from the model become "?"
    size = len(data)
    if size > FILE_BYTES_LIMIT:
        raise ToolError(f"the file is {size:,} bytes; the limit is {FILE_BYTES_LIMIT:,}")
    handle = _handle(ctx)
    ctx.side_effect("an upload")
    try:
        resp = await handle.client.files_upload_v2(
            channel=handle.channel,
            thread_ts=handle.thread_ts,
            filename=name,
            title=name,
            content=data.decode("utf-8"),
        )
    except SlackApiError as exc:
        raise ToolError(f"uploading {name} failed: {error_code(exc)}") from exc
    file = resp.get("file") or {}
    return {"shared": True, "file_id": file.get("id"), "filename": name}


TOOLS = (lookup_user, add_reaction, post_message, share_file)
"""The Slack tools, offered in Slack conversations only."""
