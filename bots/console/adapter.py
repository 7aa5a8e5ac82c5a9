"""The console adapter: read lines, run turns in order, print replies.

On a TTY the reply updates in place, and a question a crash left unanswered is answered
first. When stdin is not a TTY, each input line is one user message; after each reply
completes its final text goes to stdout followed by one empty line, and progress and errors
go to stderr. ``/reset`` starts a fresh conversation.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bots.console.port import PipePort, TtyPort
from core.engine import Engine
from core.keys import ConversationKey
from core.messages import IncomingMessage

PLATFORM = "console"
RESET_COMMANDS = ("/reset",)


def configured() -> bool:
    """The console runs only when asked for by name."""
    return False


def create(options: Mapping[str, Any]) -> ConsoleAdapter:
    return ConsoleAdapter(str(options.get("conversation") or "default"))


async def _read_line(prompt: str | None) -> str | None:
    def read() -> str | None:
        if prompt is not None:
            try:
                return input(prompt)
            except EOFError:
                return None
        line = sys.stdin.readline()
        return line.rstrip("\n") if line else None

    return await asyncio.to_thread(read)


class ConsoleAdapter:
    platform = PLATFORM
    tools: Sequence[Callable[..., Any]] = ()
    secret_patterns: Sequence[tuple[str, str]] = ()

    def __init__(self, conversation: str = "default") -> None:
        self.conversation = conversation
        self.key = ConversationKey(PLATFORM, "local", conversation)
        self.interactive = sys.stdin.isatty() and sys.stdout.isatty()
        self.port: PipePort = TtyPort() if self.interactive else PipePort()
        self._engine: Engine | None = None
        self._reopened = 0

    async def start(self, engine: Engine) -> None:
        self._engine = engine
        if self.interactive:
            print(
                f"Threadbridge console — conversation {self.conversation!r}. /reset starts afresh."
            )

    async def reopen(self, msg: IncomingMessage) -> PipePort | None:
        """Only on a TTY (a pipe's reader expects one reply per line it sent), and only for
        this conversation."""
        if not self.interactive or msg.key != self.key:
            return None
        self._reopened += 1
        return self.port

    async def wait_closed(self) -> None:
        engine = self._engine
        assert engine is not None, "start() first"
        if self._reopened:
            print("(answering what you asked before the restart)", file=sys.stderr)
            await engine.wait_idle()
            self.port.take()
        while True:
            line = await _read_line("> " if self.interactive else None)
            if line is None:
                break
            if line.strip() in RESET_COMMANDS:
                await engine.reset(self.key)
                print("Started a new conversation.", file=sys.stderr, flush=True)
                continue
            message = IncomingMessage(
                self.key,
                line,
                user_id="console",
                reply_target={"conversation": self.conversation},
            )
            await engine.submit(message, self.port)
            await engine.wait_idle()
            text = self.port.take()
            if not self.interactive:
                sys.stdout.write(text + "\n\n")
                sys.stdout.flush()

    async def stop(self) -> None:
        return None
