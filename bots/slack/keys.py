"""Pure mapping from Slack events to conversation keys and reply targets, and the reply
target stored with each message so that a crash can't leave it unanswered (:class:`SavedTarget`).

| Where                                   | Key (team, channel, thread)       |
|-----------------------------------------|-----------------------------------|
| mention at the top level of a channel   | (team, channel, ts of the mention) |
| mention or follow-up inside a thread    | (team, channel, thread_ts)        |
| top-level DM                            | (team, DM channel, None)          |
| threaded DM reply / assistant pane      | (team, DM channel, thread_ts)     |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bots.common.targets import ResumeTarget
from core.keys import ConversationKey

PLATFORM = "slack"


def team_of(body: dict[str, Any]) -> str:
    """The workspace an event belongs to (Enterprise Grid: the context team)."""
    event = body.get("event") or {}
    return str(
        body.get("context_team_id")
        or body.get("team_id")
        or event.get("team")
        or (body.get("team") or {}).get("id", "")
        or ""
    )


def mention_key(team: str, event: dict[str, Any]) -> ConversationKey:
    """An ``app_mention``: its thread, or a new thread under the mention itself."""
    return ConversationKey(PLATFORM, team, event["channel"], event.get("thread_ts") or event["ts"])


def thread_key(team: str, event: dict[str, Any]) -> ConversationKey | None:
    """A plain channel message continues a conversation only from inside a thread."""
    thread_ts = event.get("thread_ts")
    if not thread_ts:
        return None
    return ConversationKey(PLATFORM, team, event["channel"], thread_ts)


def dm_key(team: str, event: dict[str, Any]) -> ConversationKey:
    """One conversation per DM channel; a threaded reply in a DM is its own conversation."""
    return ConversationKey(PLATFORM, team, event["channel"], event.get("thread_ts"))


def pane_key(team: str, channel: str, thread_ts: str) -> ConversationKey:
    return ConversationKey(PLATFORM, team, channel, thread_ts)


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    """Where a reply goes: the channel and, when the reply is threaded, the thread."""

    channel: str
    thread_ts: str | None

    @property
    def can_stream(self) -> bool:
        """Native streaming needs a thread (chat.startStream requires thread_ts)."""
        return self.thread_ts is not None


def reply_target(key: ConversationKey) -> ReplyTarget:
    return ReplyTarget(key.channel, key.thread)


@dataclass(frozen=True, slots=True)
class SavedTarget(ResumeTarget):
    """Everything needed to rebuild a message's reply port after a restart, stored as JSON
    with the message (``IncomingMessage.reply_target``)."""

    team: str
    channel: str
    thread_ts: str | None
    """Where the answer goes: the conversation's thread (None: top level of a DM)."""
    message_ts: str
    """The user's message (for tools that act on it, e.g. add_reaction)."""
    user: str
    pane: bool = False
    """The message came through the assistant pane (the reply shows its status there)."""

    def usable(self) -> bool:
        return bool(self.channel)

    @property
    def reply(self) -> ReplyTarget:
        return ReplyTarget(self.channel, self.thread_ts)


def pane_marker(channel: str, thread_ts: str) -> str:
    """The message id under which an assistant-pane thread root is linked to its key."""
    return f"pane:{channel}:{thread_ts}"
