"""Slack Web API methods implemented over the fake :class:`Workspace`.

Each method takes the parsed arguments and returns the JSON payload of a successful answer,
or raises :class:`ApiError` with a Slack error code. Checks follow Slack's documented rules
(markdown_text ≤ 12,000 characters and never with text or blocks, thread_ts required to
start a stream, appends only while a stream is live…).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from tests.fakes.slack_fake.state import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    MARKDOWN_LIMIT,
    TEAM_ID,
    Message,
    UploadedFile,
    Workspace,
)

_EMOJI_RE = re.compile(r"^[a-z0-9_+\-']{1,100}(::skin-tone-[2-6])?$")


class ApiError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _need(args: dict[str, Any], name: str) -> Any:
    value = args.get(name)
    if value is None or value == "":
        raise ApiError("invalid_arguments")
    return value


def _as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        parsed = json.loads(value)
        return parsed if isinstance(parsed, list) else [parsed]
    return list(value)


class Methods:
    """The implemented methods. ``on_bot_message`` is told about every new bot message so the
    fake can echo it back as an event, as Slack does."""

    def __init__(
        self,
        ws: Workspace,
        *,
        upload_base: Callable[[], str],
        socket_url: Callable[[], str],
        on_bot_message: Callable[[Message], None],
    ) -> None:
        self.ws = ws
        self._upload_base = upload_base
        self._socket_url = socket_url
        self._on_bot_message = on_bot_message
        self.streaming_channel_types: set[str] = {"channel", "group", "im"}
        """Channel types where chat.startStream works; others answer channel_type_not_supported."""
        self.members_page_size = 2
        """conversations.members pages are small so that clients must follow cursors."""

    def table(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {
            "auth.test": self.auth_test,
            "apps.connections.open": self.apps_connections_open,
            "chat.postMessage": self.chat_post_message,
            "chat.update": self.chat_update,
            "chat.startStream": self.chat_start_stream,
            "chat.appendStream": self.chat_append_stream,
            "chat.stopStream": self.chat_stop_stream,
            "users.info": self.users_info,
            "reactions.add": self.reactions_add,
            "conversations.members": self.conversations_members,
            "conversations.replies": self.conversations_replies,
            "files.getUploadURLExternal": self.files_get_upload_url,
            "files.completeUploadExternal": self.files_complete_upload,
            "assistant.threads.setStatus": self.assistant_set_status,
            "assistant.threads.setTitle": self.assistant_set_title,
            "assistant.threads.setSuggestedPrompts": self.assistant_set_prompts,
        }

    # --- helpers ---------------------------------------------------------------------------
    def _channel(self, args: dict[str, Any], name: str = "channel") -> str:
        channel = _need(args, name)
        ch = self.ws.channels.get(channel)
        if ch is None:
            raise ApiError("channel_not_found")
        if BOT_USER_ID not in ch.members:
            raise ApiError("not_in_channel")
        return str(channel)

    @staticmethod
    def _content(args: dict[str, Any], *, required: bool) -> str | None:
        """The message text from text / markdown_text / blocks, enforcing their rules."""
        md = args.get("markdown_text")
        text = args.get("text")
        blocks = args.get("blocks")
        if md is not None and (text is not None or blocks is not None):
            raise ApiError("markdown_text_conflict")
        if md is not None:
            if len(md) > MARKDOWN_LIMIT:
                raise ApiError("msg_too_long")
            return str(md)
        if text is not None:
            return str(text)[:40_000]
        if blocks is not None:
            return json.dumps(blocks) if not isinstance(blocks, str) else blocks
        if required:
            raise ApiError("no_text")
        return None

    def _apply_chunks(self, msg: Message, args: dict[str, Any]) -> None:
        md = args.get("markdown_text")
        chunks = _as_list(args.get("chunks"))
        if md is not None and chunks:
            raise ApiError("markdown_text_conflict")
        if md is not None:
            if len(md) > MARKDOWN_LIMIT:
                raise ApiError("msg_too_long")
            msg.text += md
        for chunk in chunks:
            kind = chunk.get("type")
            if kind == "markdown_text":
                text = chunk.get("text", "")
                if len(text) > MARKDOWN_LIMIT:
                    raise ApiError("msg_too_long")
                msg.text += text
            elif kind == "task_update":
                msg.tasks[chunk["id"]] = dict(chunk)
                msg.task_history.append(dict(chunk))
            elif kind in ("plan_update", "blocks"):
                msg.task_history.append(dict(chunk))
            else:
                raise ApiError("invalid_chunks")

    def _own_message(self, args: dict[str, Any]) -> Message:
        channel = self._channel(args)
        msg = self.ws.message(channel, str(_need(args, "ts")))
        if msg is None:
            raise ApiError("message_not_found")
        if msg.bot_id != BOT_ID:
            raise ApiError("cant_update_message")
        return msg

    # --- methods ---------------------------------------------------------------------------
    def auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://fake.slack.test/",
            "team": "Fake Team",
            "user": "threadbridge",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "is_enterprise_install": False,
        }

    def apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"url": self._socket_url()}

    def chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        text = self._content(args, required=True) or ""
        thread_ts = args.get("thread_ts") or None
        if thread_ts and self.ws.message(channel, thread_ts) is None:
            raise ApiError("thread_not_found")
        msg = Message(channel, self.ws.next_ts(), user=BOT_USER_ID, bot_id=BOT_ID, text=text)
        msg.thread_ts = thread_ts
        msg.metadata = args.get("metadata")
        self.ws.messages[(channel, msg.ts)] = msg
        self._on_bot_message(msg)
        return {"channel": channel, "ts": msg.ts, "message": msg.as_api()}

    def chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        msg = self._own_message(args)
        text = self._content(args, required=True) or ""
        msg.text = text
        msg.edits += 1
        return {"channel": msg.channel, "ts": msg.ts, "text": text}

    def chat_start_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        thread_ts = _need(args, "thread_ts")
        ch = self.ws.channels[channel]
        if ch.type not in self.streaming_channel_types:
            raise ApiError("channel_type_not_supported")
        if self.ws.message(channel, thread_ts) is None:
            raise ApiError("thread_not_found")
        if ch.type != "im":
            if not args.get("recipient_team_id"):
                raise ApiError("missing_recipient_team_id")
            if not args.get("recipient_user_id"):
                raise ApiError("missing_recipient_user_id")
        msg = Message(channel, self.ws.next_ts(), user=BOT_USER_ID, bot_id=BOT_ID)
        msg.thread_ts = thread_ts
        msg.stream_state = "streaming"
        self._apply_chunks(msg, args)
        self.ws.messages[(channel, msg.ts)] = msg
        self._on_bot_message(msg)
        return {"channel": channel, "ts": msg.ts}

    def _live_stream(self, args: dict[str, Any]) -> Message:
        msg = self._own_message(args)
        if msg.stream_state != "streaming":
            raise ApiError("message_not_in_streaming_state")
        return msg

    def chat_append_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        msg = self._live_stream(args)
        self._apply_chunks(msg, args)
        return {"channel": msg.channel, "ts": msg.ts}

    def chat_stop_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        msg = self._live_stream(args)
        self._apply_chunks(msg, args)
        msg.stream_state = "stopped"
        msg.metadata = args.get("metadata")
        return {"channel": msg.channel, "ts": msg.ts, "message": msg.as_api()}

    def users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.ws.users.get(_need(args, "user"))
        if user is None:
            raise ApiError("user_not_found")
        return {"user": user.as_api()}

    def reactions_add(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        name = str(_need(args, "name"))
        if not _EMOJI_RE.match(name):
            raise ApiError("invalid_name")
        msg = self.ws.message(channel, str(_need(args, "timestamp")))
        if msg is None:
            raise ApiError("message_not_found")
        users = msg.reactions.setdefault(name, [])
        if BOT_USER_ID in users:
            raise ApiError("already_reacted")
        users.append(BOT_USER_ID)
        return {}

    def conversations_members(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        members = self.ws.channels[channel].members
        start = int(args.get("cursor") or 0)
        size = min(int(args.get("limit") or self.members_page_size), self.members_page_size)
        page = members[start : start + size]
        nxt = str(start + size) if start + size < len(members) else ""
        return {"members": page, "response_metadata": {"next_cursor": nxt}}

    def conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        ts = str(_need(args, "ts"))
        if self.ws.message(channel, ts) is None:
            raise ApiError("thread_not_found")
        limit = int(args.get("limit") or 1000)
        msgs = [m.as_api() for m in self.ws.thread(channel, ts)][:limit]
        return {"messages": msgs, "has_more": False}

    def files_get_upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        filename = str(_need(args, "filename"))
        length = int(_need(args, "length"))
        f = UploadedFile(self.ws.next_id("F"), filename, length)
        self.ws.files[f.id] = f
        return {"upload_url": f"{self._upload_base()}{f.id}", "file_id": f.id}

    def files_complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        items = _as_list(_need(args, "files"))
        channel = args.get("channel_id") or None
        thread_ts = args.get("thread_ts") or None
        if channel is not None:
            self._channel({"channel": channel})
        out: list[dict[str, str]] = []
        for item in items:
            f = self.ws.files.get(item.get("id", ""))
            if f is None or f.content is None:
                raise ApiError("file_not_found")
            if len(f.content) != f.length:
                raise ApiError("file_upload_size_mismatch")
            f.title = item.get("title") or f.filename
            out.append(
                {
                    "id": f.id,
                    "name": f.filename,
                    "title": f.title or f.filename,
                    "size": str(f.length),
                }
            )
        if channel is not None:
            msg = Message(channel, self.ws.next_ts(), user=BOT_USER_ID, bot_id=BOT_ID)
            msg.thread_ts = thread_ts
            msg.subtype = "file_share"
            msg.text = str(args.get("initial_comment") or "")
            msg.files = [str(o["id"]) for o in out]
            self.ws.messages[(channel, msg.ts)] = msg
            for file_id in msg.files:
                self.ws.files[file_id].shared_in.append((channel, thread_ts))
        return {"files": out}

    def _assistant_thread(self, args: dict[str, Any]) -> Any:
        channel = str(_need(args, "channel_id"))
        thread_ts = str(_need(args, "thread_ts"))
        thread = self.ws.assistant_threads.get((channel, thread_ts))
        if thread is None:
            raise ApiError("invalid_thread_ts")
        return thread

    def assistant_set_status(self, args: dict[str, Any]) -> dict[str, Any]:
        self._assistant_thread(args).statuses.append(str(args.get("status") or ""))
        return {}

    def assistant_set_title(self, args: dict[str, Any]) -> dict[str, Any]:
        self._assistant_thread(args).titles.append(str(_need(args, "title")))
        return {}

    def assistant_set_prompts(self, args: dict[str, Any]) -> dict[str, Any]:
        prompts = _as_list(_need(args, "prompts"))
        self._assistant_thread(args).prompts.append(prompts)
        return {}
