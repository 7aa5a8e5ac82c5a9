"""A real ``python -m bots console`` on a pseudo-terminal, for tests of what a person sees:
the test types keys and reads the terminal's byte stream until what it expects appears
(never a sleep). A terminal emulator (pyte) shows what is left on the screen, and answers
the cursor position requests a real terminal answers."""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import struct
import sys
import termios
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import pyte

from tests.fakes.openai_fake import FakeOpenAI
from tests.harness.processes import bot_env

ROWS, COLUMNS = 24, 80
PASTE_START, PASTE_END = b"\x1b[200~", b"\x1b[201~"
EDITING = b"\x1b[?2004h"
"""Bracketed paste switched on: the line editor is ready for a message."""


class _Screen(pyte.Screen):
    def __init__(self, columns: int, rows: int, answer: Callable[[bytes], None]) -> None:
        super().__init__(columns, rows)
        self._answer = answer

    def write_process_input(self, data: str) -> None:
        self._answer(data.encode())


class Terminal:
    """The console on a pty: ``write`` keystrokes, ``read_until`` output, ``screen`` all of
    it so far (bytes as the terminal received them)."""

    def __init__(self, proc: asyncio.subprocess.Process, master: int) -> None:
        self.proc = proc
        self.master = master
        self.screen = bytearray()
        self._data = asyncio.Event()
        self._closed = False
        self._pending = bytearray()
        self._screen = _Screen(COLUMNS, ROWS, self.write)
        self._vt = pyte.ByteStream(self._screen)
        os.set_blocking(master, False)
        asyncio.get_running_loop().add_reader(master, self._readable)

    def _readable(self) -> None:
        try:
            chunk = os.read(self.master, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: the process side is closed
            chunk = b""
        if not chunk:
            asyncio.get_running_loop().remove_reader(self.master)
            self._closed = True
        self.screen.extend(chunk)
        self._vt.feed(chunk)
        self._data.set()

    def write(self, keys: bytes) -> None:
        """Type ``keys`` (all of them: a long paste goes in as the terminal takes it)."""
        view = memoryview(keys)
        while view:
            try:
                view = view[os.write(self.master, view) :]
            except BlockingIOError:
                self._pending.extend(view)
                asyncio.get_running_loop().add_writer(self.master, self._writable)
                return

    def _writable(self) -> None:
        try:
            sent = os.write(self.master, self._pending)
        except BlockingIOError:
            return
        del self._pending[:sent]
        if not self._pending:
            asyncio.get_running_loop().remove_writer(self.master)

    @property
    def display(self) -> list[str]:
        """The screen's rows as a person sees them now (trailing blanks dropped)."""
        return [row.rstrip() for row in self._screen.display]

    @property
    def words(self) -> str:
        """The screen's text with rows joined (wrapped text whole) and spaces collapsed."""
        return " ".join("".join(self._screen.display).split())

    @property
    def text(self) -> str:
        return self.screen.decode(errors="replace")

    async def read_until(self, marker: bytes, limit: float = 30, start: int = 0) -> int:
        """Wait until ``marker`` appears on the screen at or after byte ``start``; returns
        the offset just past it."""
        async with asyncio.timeout(limit):
            while (at := self.screen.find(marker, start)) < 0:
                if self._closed:
                    raise AssertionError(f"{marker!r} never came: {bytes(self.screen)!r}")
                self._data.clear()
                await self._data.wait()
        return at + len(marker)

    async def prompt(self, start: int = 0) -> int:
        """Wait until the line editor takes input (after byte ``start``)."""
        return await self.read_until(EDITING, start=start)

    async def wait_exit(self, limit: float = 30) -> int:
        """The process's exit code, once it has ended and its output is read."""
        code = await asyncio.wait_for(self.proc.wait(), limit)
        async with asyncio.timeout(limit):
            while not self._closed:
                self._data.clear()
                await self._data.wait()
        return code

    async def close(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        loop = asyncio.get_running_loop()
        loop.remove_writer(self.master)
        if not self._closed:
            loop.remove_reader(self.master)
        os.close(self.master)

    async def __aenter__(self) -> Terminal:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


async def open_console(fake: FakeOpenAI, tmp_path: Path, *args: str, **env: str) -> Terminal:
    """``python -m bots console`` (chat backend) with a pty as its terminal."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    environment = {**bot_env(fake, tmp_path / "tty.db", "chat"), "TERM": "xterm", **env}
    environment.pop("COLUMNS", None)
    environment.pop("LINES", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots",
        "console",
        *args,
        cwd=tmp_path,
        env=environment,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    return Terminal(proc, master)
