"""The reply port: the small surface a platform implements so the core can show a reply.

The core's renderer calls ``post`` for the first text of each message, ``edit`` for updates
(at most once per ``edit_interval`` per message, coalesced), and ``finish`` exactly once per
message with its final text. Texts passed never exceed ``max_length`` characters.
"""

from __future__ import annotations

from typing import Any, Protocol


class Markup:
    """How a platform marks text up. The default is the Markdown Slack (``markdown_text``)
    and Discord both show."""

    def italic(self, text: str) -> str:
        return f"_{text}_"

    def code(self, text: str) -> str:
        return f"`{text}`"


class PlainText(Markup):
    """No marks at all (a terminal)."""

    def italic(self, text: str) -> str:
        return text

    def code(self, text: str) -> str:
        return text


MARKDOWN = Markup()


class ReplyPort(Protocol):
    max_length: int
    """The longest message text the platform accepts."""

    edit_interval: float
    """Minimum seconds between two edits of one message."""

    markup: Markup
    """How the core's own words (status lines, tool names) are marked up here."""

    async def post(self, text: str) -> Any:
        """Post a new message and return a handle used for later edits."""

    async def edit(self, handle: Any, text: str) -> None:
        """Replace the text of a posted message."""

    async def finish(self, handle: Any, text: str, changed: bool) -> None:
        """The message is complete with ``text``; ``changed`` says it differs from the last
        text sent with post or edit."""

    async def show_thinking(self) -> None:
        """Called once before the run starts: typing indicator, 'is thinking…' status."""

    async def show_status(self, handle: Any | None, status: str | None) -> bool:
        """Show tool progress natively; return False to have it shown inline in the text."""

    async def show_error(self, text: str) -> bool:
        """Show a turn's user-safe error natively; return False to have it shown as text."""


class BasePort:
    """Defaults for optional port methods. Subclasses implement post and edit."""

    max_length: int = 4000
    edit_interval: float = 1.0
    markup: Markup = MARKDOWN

    async def post(self, text: str) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    async def edit(self, handle: Any, text: str) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    async def finish(self, handle: Any, text: str, changed: bool) -> None:
        if changed:
            await self.edit(handle, text)

    async def show_thinking(self) -> None:
        return None

    async def show_status(self, handle: Any | None, status: str | None) -> bool:
        return False

    async def show_error(self, text: str) -> bool:
        return False
