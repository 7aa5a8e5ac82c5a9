"""The Slack adapter: Bolt AsyncApp over HTTP or Socket Mode, mentions, thread follow-ups,
DMs and the assistant pane, replies streamed natively with a post-and-update fallback, and
Slack tools. ``serve(settings, engine)`` runs it (imported lazily, so the pure modules of
this package load without the engine)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bots.slack.runner import SlackService, serve

__all__ = ["SlackService", "serve"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from bots.slack import runner

        return getattr(runner, name)
    raise AttributeError(name)
