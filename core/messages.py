"""What an adapter hands the engine: one user message, normalised, whatever the platform."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from core.keys import ConversationKey


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file that came with a message. ``fetch`` downloads its bytes (with the platform's
    credentials), so the core never needs a platform client."""

    name: str
    content_type: str
    size: int
    fetch: Callable[[], Awaitable[bytes]] | None = None


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
    reply_target: dict[str, Any] | None = None
    """JSON-able: where to answer (an adapter's typed resume target, as JSON). Stored with the
    message, so that the adapter can answer a message a crash interrupted."""
    attachments: list[Attachment] = field(default_factory=list)
