"""The fake Slack workspace's state: users, channels, messages by (channel, ts), streams,
reactions, uploaded files and assistant-pane threads.

Everything the fake Web API changes lives here, so tests can assert on what a user would see.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Literal

StreamState = Literal["streaming", "stopped", "expired"]

TEAM_ID = "T0TEAM001"
APP_ID = "A0APP0001"
BOT_USER_ID = "U0BOT0001"
BOT_ID = "B0BOT0001"
BOT_TOKEN = "xoxb-fake-bot-token"
APP_TOKEN = "xapp-1-fake-app-token"
MARKDOWN_LIMIT = 12_000


@dataclass
class User:
    id: str
    name: str
    real_name: str = ""
    title: str = ""
    tz: str = "Europe/London"
    email: str = ""
    is_bot: bool = False

    def as_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "name": self.name,
            "real_name": self.real_name or self.name,
            "tz": self.tz,
            "is_bot": self.is_bot,
            "deleted": False,
            "profile": {
                "real_name": self.real_name or self.name,
                "display_name": self.name,
                "title": self.title,
                "email": self.email,
            },
        }


@dataclass
class Channel:
    id: str
    name: str
    type: Literal["channel", "group", "im"] = "channel"
    members: list[str] = field(default_factory=list)
    im_user: str | None = None


@dataclass
class Message:
    channel: str
    ts: str
    user: str | None = None
    bot_id: str | None = None
    thread_ts: str | None = None
    text: str = ""
    """What a user sees: the text, markdown_text or the concatenated streamed chunks."""
    subtype: str | None = None
    stream_state: StreamState | None = None
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Streamed task_update chunks by id, last state wins."""
    task_history: list[dict[str, Any]] = field(default_factory=list)
    reactions: dict[str, list[str]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    edits: int = 0
    metadata: Any = None

    def as_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "message", "ts": self.ts, "text": self.text}
        if self.user:
            out["user"] = self.user
        if self.bot_id:
            out["bot_id"] = self.bot_id
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.subtype:
            out["subtype"] = self.subtype
        if self.reactions:
            out["reactions"] = [
                {"name": n, "users": list(u), "count": len(u)} for n, u in self.reactions.items()
            ]
        if self.files:
            out["files"] = [{"id": f} for f in self.files]
        return out


@dataclass
class UploadedFile:
    id: str
    filename: str
    length: int
    content: bytes | None = None
    title: str | None = None
    shared_in: list[tuple[str, str | None]] = field(default_factory=list)
    """(channel, thread_ts) pairs the file was shared into."""


@dataclass
class AssistantThread:
    channel: str
    thread_ts: str
    user: str
    statuses: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    prompts: list[list[dict[str, str]]] = field(default_factory=list)


class Workspace:
    """One fake Slack workspace with a bot installed."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.messages: dict[tuple[str, str], Message] = {}
        self.files: dict[str, UploadedFile] = {}
        self.assistant_threads: dict[tuple[str, str], AssistantThread] = {}
        self._ts_counter = itertools.count(1)
        self._id_counter = itertools.count(1)
        self._base = int(time.time())
        self.add_user(BOT_USER_ID, "threadbridge", is_bot=True)

    # --- ids -------------------------------------------------------------------------------
    def next_ts(self) -> str:
        return f"{self._base}.{next(self._ts_counter):06d}"

    def next_id(self, prefix: str) -> str:
        return f"{prefix}0{next(self._id_counter):08d}"

    # --- setup -----------------------------------------------------------------------------
    def add_user(self, user_id: str, name: str, **fields: Any) -> User:
        user = User(user_id, name, **fields)
        self.users[user_id] = user
        return user

    def add_channel(
        self,
        channel_id: str,
        name: str,
        members: list[str] | None = None,
        *,
        private: bool = False,
        bot_member: bool = True,
    ) -> Channel:
        people = list(members or [])
        if bot_member and BOT_USER_ID not in people:
            people.append(BOT_USER_ID)
        ch = Channel(channel_id, name, "group" if private else "channel", people)
        self.channels[channel_id] = ch
        return ch

    def dm_with(self, user_id: str) -> Channel:
        for ch in self.channels.values():
            if ch.type == "im" and ch.im_user == user_id:
                return ch
        ch = Channel(self.next_id("D"), user_id, "im", [user_id, BOT_USER_ID], im_user=user_id)
        self.channels[ch.id] = ch
        return ch

    # --- queries ---------------------------------------------------------------------------
    def message(self, channel: str, ts: str) -> Message | None:
        return self.messages.get((channel, ts))

    def thread(self, channel: str, thread_ts: str) -> list[Message]:
        """The root and its replies, oldest first."""
        found = [
            m
            for (c, _), m in self.messages.items()
            if c == channel and (m.ts == thread_ts or m.thread_ts == thread_ts)
        ]
        return sorted(found, key=lambda m: m.ts)

    def bot_messages(
        self, channel: str | None = None, thread_ts: str | None = None
    ) -> list[Message]:
        """Messages posted by the bot, oldest first, optionally within one channel or thread."""
        out = [
            m
            for m in self.messages.values()
            if m.bot_id == BOT_ID
            and m.subtype is None
            and (channel is None or m.channel == channel)
            and (thread_ts is None or m.thread_ts == thread_ts)
        ]
        return sorted(out, key=lambda m: m.ts)
