"""The run engine: one ordered queue per conversation, runs driven through a backend and
rendered through a platform port, tools dispatched through the registry.

(Interface first; the implementation follows in the same module.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.keys import ConversationKey


@dataclass(slots=True)
class IncomingMessage:
    """A user message from any platform, normalised."""

    key: ConversationKey
    text: str
    user_id: str
    event_id: str | None = None
    """Platform delivery id used for deduplication (Slack event_id, Discord message id…)."""
    handle: Any = None
    """Platform handle handed to tools through ToolContext.handle."""
    message_ref: Any = None
    """The triggering platform message, handed to tools through ToolContext.message_ref."""


# Engine API (implemented below):
#   engine = Engine(settings, storage, backend, registry)
#   await engine.start()                      # migrations done by storage; recovery of crashed runs
#   accepted = await engine.submit(msg, port) # False for a duplicate event_id; returns once the
#                                             # message is durably stored and queued; the reply
#                                             # runs in the background through `port`
#   await engine.has_conversation(key)        # is there a thread for this key?
#   await engine.reset(key)                   # next message starts a fresh assistant thread
#   await engine.link_message(platform, message_id, key)       # a bot message belongs to key
#   await engine.conversation_for_message(platform, message_id) -> ConversationKey | None
#   await engine.wait_idle()                  # all queued turns done (tests, shutdown)
#   await engine.close()
