"""Where the console's messages come from: one per line from a pipe, or a line editor on a
terminal (prompt_toolkit: paste, history, several lines per message).

On a terminal, Enter sends, Esc then Enter (or Alt+Enter) starts a new line, a bracketed
paste stays one message however many lines it has, and lines are not cut at the terminal's
4,095 bytes. Ctrl-D on an empty line ends the console; Ctrl-C clears the line, or on an
empty line stops the console as a SIGINT does.
"""

from __future__ import annotations

import asyncio
import codecs
import io
import os
import threading
from typing import Protocol

from prompt_toolkit import PromptSession
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

PROMPT = "> "
CONTINUATION = ". "
HOW_TO_TYPE = "Enter sends, Esc then Enter (or Alt+Enter) adds a line, Ctrl-D quits."


class Lines(Protocol):
    async def read(self) -> str | None:
        """The next message, or None at the end of input."""


class PipeLines:
    """One message per input line. A daemon thread reads the raw file descriptor, so a
    blocked read never holds up the process's exit (nor holds a lock Python's shutdown
    needs, as ``sys.stdin.readline`` in a thread would)."""

    def __init__(self, fd: int = 0, encoding: str = "utf-8") -> None:
        self._fd = fd
        self._encoding = encoding
        self._queue: asyncio.Queue[str | None] | None = None

    async def read(self) -> str | None:
        if self._queue is None:
            self._queue = asyncio.Queue()
            loop = asyncio.get_running_loop()
            threading.Thread(
                target=self._pump, args=(loop, self._queue), name="console-stdin", daemon=True
            ).start()
        line = await self._queue.get()
        if line is None:
            self._queue.put_nowait(None)  # every later read is at the end too
        return line

    def _pump(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]) -> None:
        decoder = io.IncrementalNewlineDecoder(
            codecs.getincrementaldecoder(self._encoding)(errors="replace"), translate=True
        )
        pending = ""
        while True:
            try:
                data = os.read(self._fd, 65536)
            except OSError:
                data = b""
            pending += decoder.decode(data, final=not data)
            *complete, pending = pending.split("\n")
            lines: list[str | None] = list(complete)
            if not data:  # the end: a last line without its newline, then the end itself
                lines += [pending, None] if pending else [None]
            for line in lines:
                try:
                    loop.call_soon_threadsafe(queue.put_nowait, line)
                except RuntimeError:  # the loop is closed: the process is ending
                    return
            if not data:
                return


def _keys() -> KeyBindings:
    keys = KeyBindings()

    @keys.add("enter")
    @keys.add("c-j")  # a bare line feed, as some terminals and scripts send
    def _send(event: KeyPressEvent) -> None:
        event.current_buffer.validate_and_handle()

    @keys.add("escape", "enter")
    def _new_line(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    @keys.add("c-c")
    def _interrupt(event: KeyPressEvent) -> None:
        if event.current_buffer.text:
            event.current_buffer.reset()
        else:
            event.app.exit(exception=KeyboardInterrupt())

    return keys


class TtyLines:
    """A line editor on the terminal. Raises KeyboardInterrupt for Ctrl-C on an empty line."""

    def __init__(self) -> None:
        self._session: PromptSession[str] = PromptSession(
            multiline=True,
            key_bindings=_keys(),
            prompt_continuation=CONTINUATION,
            enable_open_in_editor=False,
            reserve_space_for_menu=0,  # there is no completion menu
        )

    async def read(self) -> str | None:
        try:
            return await self._session.prompt_async(
                PROMPT,
                # The process's own SIGINT handler must stay in place (prompt_toolkit would
                # remove it from the loop afterwards); Ctrl-C at the prompt is a key here.
                handle_sigint=False,
                set_exception_handler=False,
            )
        except EOFError:
            return None
