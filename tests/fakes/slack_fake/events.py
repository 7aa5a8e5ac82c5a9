"""Payloads as Slack sends them: the Events API ``event_callback`` wrapper with the inner
``message``, ``app_mention``, ``assistant_thread_started`` and
``assistant_thread_context_changed`` events, and slash-command invocations."""

from __future__ import annotations

import itertools
import time
from typing import Any

from tests.fakes.slack_fake.state import APP_ID, BOT_ID, BOT_USER_ID, TEAM_ID, Channel, Message

OTHER_APP_ID = "A0OTHER01"
"""The app of any other bot posting in the workspace."""

_event_ids = itertools.count(1)


def new_event_id() -> str:
    return f"Ev0{next(_event_ids):09d}"


def event_callback(event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    """Wrap an inner event the way the Events API and Socket Mode deliver it."""
    return {
        "token": "fake-verification-token",
        "team_id": TEAM_ID,
        "context_team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or new_event_id(),
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }


def message_event(msg: Message, channel: Channel) -> dict[str, Any]:
    """The ``message`` event for a new message (from a user or, echoed, from the bot)."""
    ev: dict[str, Any] = {
        "type": "message",
        "channel": msg.channel,
        "text": msg.text,
        "ts": msg.ts,
        "event_ts": msg.ts,
        "team": TEAM_ID,
        "channel_type": channel.type,
    }
    if msg.user:
        ev["user"] = msg.user
    if msg.bot_id:
        ev["bot_id"] = msg.bot_id
        ev["app_id"] = APP_ID if msg.bot_id == BOT_ID else OTHER_APP_ID
    if msg.thread_ts:
        ev["thread_ts"] = msg.thread_ts
    if msg.subtype:
        ev["subtype"] = msg.subtype
    return ev


def app_mention_event(msg: Message) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "type": "app_mention",
        "user": msg.user,
        "text": msg.text,
        "ts": msg.ts,
        "channel": msg.channel,
        "event_ts": msg.ts,
        "team": TEAM_ID,
    }
    if msg.thread_ts:
        ev["thread_ts"] = msg.thread_ts
    return ev


def message_changed_event(msg: Message, channel: Channel, previous_text: str) -> dict[str, Any]:
    now = f"{time.time():.6f}"
    return {
        "type": "message",
        "subtype": "message_changed",
        "channel": msg.channel,
        "channel_type": channel.type,
        "hidden": True,
        "ts": now,
        "event_ts": now,
        "message": msg.as_api(),
        "previous_message": {**msg.as_api(), "text": previous_text},
    }


def message_deleted_event(msg: Message, channel: Channel) -> dict[str, Any]:
    now = f"{time.time():.6f}"
    return {
        "type": "message",
        "subtype": "message_deleted",
        "channel": msg.channel,
        "channel_type": channel.type,
        "hidden": True,
        "ts": now,
        "event_ts": now,
        "deleted_ts": msg.ts,
        "previous_message": msg.as_api(),
    }


def member_joined_event(user: str, channel: Channel, ts: str) -> dict[str, Any]:
    return {
        "type": "message",
        "subtype": "channel_join",
        "user": user,
        "text": f"<@{user}> has joined the channel",
        "channel": channel.id,
        "channel_type": channel.type,
        "ts": ts,
        "event_ts": ts,
    }


def assistant_thread_started_event(
    user: str, channel: str, thread_ts: str, context_channel: str | None = None
) -> dict[str, Any]:
    ts = f"{time.time():.6f}"
    return {
        "type": "assistant_thread_started",
        "assistant_thread": {
            "user_id": user,
            "context": {"channel_id": context_channel, "team_id": TEAM_ID, "enterprise_id": None}
            if context_channel
            else {},
            "channel_id": channel,
            "thread_ts": thread_ts,
        },
        "event_ts": ts,
    }


def is_bot_echo(event: dict[str, Any]) -> bool:
    return event.get("bot_id") == BOT_ID


def assistant_thread_context_changed_event(
    user: str, channel: str, thread_ts: str, context_channel: str
) -> dict[str, Any]:
    """The user switched channels while the assistant pane stayed open."""
    event = assistant_thread_started_event(user, channel, thread_ts, context_channel)
    event["type"] = "assistant_thread_context_changed"
    return event


_trigger_ids = itertools.count(1)


def slash_command(
    user: str, user_name: str, channel: Channel, command: str, text: str, response_url: str
) -> dict[str, str]:
    """A slash-command invocation: the fields Slack form-encodes into its POST (and puts in a
    ``slash_commands`` Socket Mode envelope)."""
    return {
        "token": "fake-verification-token",
        "team_id": TEAM_ID,
        "team_domain": "fake-team",
        "channel_id": channel.id,
        "channel_name": "directmessage" if channel.type == "im" else channel.name,
        "user_id": user,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": f"{next(_trigger_ids)}.{int(time.time())}.fake",
    }
