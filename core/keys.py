"""Conversation keys: which chat conversation maps to which assistant Thread.

A key is (platform, workspace or guild, channel, thread or None). The mapping is pure code.
"""

from __future__ import annotations

from dataclasses import dataclass

_SEP = "|"


@dataclass(frozen=True, slots=True)
class ConversationKey:
    """Identifies one chat conversation, e.g. a Slack thread or a Discord channel."""

    platform: str
    workspace: str
    channel: str
    thread: str | None = None

    def __post_init__(self) -> None:
        for part in (self.platform, self.workspace, self.channel, self.thread or ""):
            if _SEP in part:
                raise ValueError(f"conversation key parts may not contain {_SEP!r}: {part!r}")
        if not self.platform or not self.channel:
            raise ValueError("conversation key needs a platform and a channel")

    def as_str(self) -> str:
        """A stable string form, used as the storage key."""
        return _SEP.join((self.platform, self.workspace, self.channel, self.thread or ""))

    @classmethod
    def parse(cls, text: str) -> ConversationKey:
        """The inverse of :meth:`as_str`."""
        parts = text.split(_SEP)
        if len(parts) != 4:
            raise ValueError(f"not a conversation key: {text!r}")
        platform, workspace, channel, thread = parts
        return cls(platform, workspace, channel, thread or None)

    def __str__(self) -> str:
        return self.as_str()
