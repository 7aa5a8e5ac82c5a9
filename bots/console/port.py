"""Reply ports for the terminal: live updates on a TTY, final text only when piped.

On a TTY the reply streams in place. Until its first text a dim "thinking…" line shows; tool
progress shows as a dim line under the text; each is cleared once text comes (the terminal
keeps only the conversation). An error is shown at the end of the reply's text. When piped,
status lines and errors go to stderr and ``take()`` returns the whole reply for stdout.
Whatever is written is cleaned of terminal control sequences first
(:func:`bots.console.output.terminal_safe`): it came from the model.
"""

from __future__ import annotations

import shutil
import sys
from typing import Any, TextIO

from bots.console.output import terminal_safe
from bots.console.screen import DIM, ERASE_ROW, RESET, column_after, fit, return_to
from core.port import BasePort, Markup, PlainText

THINKING = "thinking…"


class PipePort(BasePort):
    """Collects the final text of each message; ``take()`` returns the whole reply."""

    max_length = 1_000_000
    edit_interval = 0.0
    markup: Markup = PlainText()

    def __init__(self, err: TextIO | None = None) -> None:
        self.err = err or sys.stderr
        self.finished: list[str] = []
        self._count = 0

    async def post(self, text: str) -> Any:
        self._count += 1
        return self._count

    async def edit(self, handle: Any, text: str) -> None:
        return None

    async def finish(self, handle: Any, text: str, changed: bool) -> None:
        self.finished.append(text)

    async def show_status(self, handle: Any | None, status: str | None) -> bool:
        if status:
            print(terminal_safe(status), file=self.err, flush=True)
        return True

    async def show_error(self, text: str) -> bool:
        print(f"error: {terminal_safe(text)}", file=self.err, flush=True)
        return True

    def take(self) -> str:
        text = "\n".join(self.finished)
        self.finished = []
        return text


class TtyPort(PipePort):
    """Streams the reply into the terminal as it grows, with a transient note under it."""

    edit_interval = 0.05

    def __init__(self, out: TextIO | None = None) -> None:
        super().__init__(out or sys.stdout)
        self.out = out or sys.stdout
        self._shown = ""
        self._note: str | None = None
        self._note_below = False
        """The note sits on a row of its own under text that ends mid-row."""

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def _columns(self) -> int:
        return shutil.get_terminal_size().columns

    def _show_note(self, note: str) -> None:
        """A dim one-row note where the text would go on (the next call clears it)."""
        columns = self._columns()
        lead = ERASE_ROW
        if self._note is None:
            self._note_below = column_after(self._shown, columns) > 0
            lead = "\n" if self._note_below else ""
        self._note = note
        self._write(f"{lead}{DIM}{fit(terminal_safe(note), columns)}{RESET}")

    def _clear_note(self) -> None:
        if self._note is None:
            return
        back = return_to(column_after(self._shown, self._columns())) if self._note_below else ""
        self._note = None
        self._write(ERASE_ROW + back)

    async def show_thinking(self) -> None:
        self._show_note(THINKING)

    async def show_status(self, handle: Any | None, status: str | None) -> bool:
        if status:
            self._show_note(status)
        else:
            self._clear_note()
        return True

    async def show_error(self, text: str) -> bool:
        return False  # shown after the text, where the reader is

    async def post(self, text: str) -> Any:
        self._clear_note()
        if self._count:
            self.out.write("\n")
        self._shown = ""
        await self.edit(None, text)
        return await super().post(text)

    async def edit(self, handle: Any, text: str) -> None:
        text = terminal_safe(text)
        if text == self._shown and handle is not None:
            return  # nothing new: a status note under the text stays
        note = self._note if handle is not None else None
        self._clear_note()
        if text.startswith(self._shown):
            self.out.write(text[len(self._shown) :])
        else:  # the text changed behind the cursor: show it again in full
            self.out.write("\n" + text)
        self._shown = text
        if note is not None:  # text that was on its way before the status: keep it under
            self._show_note(note)
        self.out.flush()

    async def finish(self, handle: Any, text: str, changed: bool) -> None:
        if changed:
            await self.edit(handle, text)
        await super().finish(handle, text, changed)

    def take(self) -> str:
        self._clear_note()
        self._write("\n\n")
        self._count = 0
        self._shown = ""
        return super().take()
