"""Reply ports for the terminal: live updates on a TTY, final text only when piped."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from core.port import BasePort, Markup, PlainText


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
            print(status, file=self.err, flush=True)
        return True

    async def show_error(self, text: str) -> bool:
        print(f"error: {text}", file=self.err, flush=True)
        return True

    def take(self) -> str:
        text = "\n".join(self.finished)
        self.finished = []
        return text


class TtyPort(PipePort):
    """Streams the reply into the terminal as it grows."""

    edit_interval = 0.05

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        super().__init__(err)
        self.out = out or sys.stdout
        self._shown = ""

    async def post(self, text: str) -> Any:
        self._shown = ""
        if self._count:
            self.out.write("\n")
        await self.edit(None, text)
        return await super().post(text)

    async def edit(self, handle: Any, text: str) -> None:
        if text.startswith(self._shown):
            self.out.write(text[len(self._shown) :])
        else:  # the text changed behind the cursor: show it again in full
            self.out.write("\n" + text)
        self._shown = text
        self.out.flush()

    async def finish(self, handle: Any, text: str, changed: bool) -> None:
        if changed:
            await self.edit(handle, text)
        await super().finish(handle, text, changed)

    def take(self) -> str:
        self.out.write("\n\n")
        self.out.flush()
        self._count = 0
        return super().take()
