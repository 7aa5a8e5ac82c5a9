"""The console adapter: read messages, run turns in order, print replies.

On a TTY the reply updates in place, messages are typed in a line editor (see
:mod:`bots.console.lines`), logs go to a file (``CONSOLE_LOG_FILE``) instead of the
conversation, and a question a crash left unanswered is answered first. When stdin is not a
TTY, each input line is one user message; after each reply completes its final text goes to
stdout framed as :func:`bots.console.output.pipe_frame` says (its lines, never an empty one,
then one empty line), and progress and errors go to stderr. ``/reset`` starts a fresh
conversation. Model text is cleaned of terminal control sequences on a TTY and in a pipe.

On SIGTERM or Ctrl-C a reply already running gets the shutdown grace like on every platform:
it is shown (printed, when piped) once it lands, and then the process ends.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bots.console.lines import HOW_TO_TYPE, Lines, PipeLines, TtyLines
from bots.console.output import pipe_frame
from bots.console.port import PipePort, TtyPort
from bots.console.settings import ConsoleSettings
from core.engine import Engine
from core.keys import ConversationKey
from core.logs import send_logs_to
from core.messages import IncomingMessage
from core.settings import SettingsProblem, load

PLATFORM = "console"
RESET_COMMANDS = ("/reset",)


def configured() -> bool:
    """The console runs only when asked for by name."""
    return False


def create(options: Mapping[str, Any]) -> ConsoleAdapter:
    settings = load(ConsoleSettings)
    adapter = ConsoleAdapter(str(options.get("conversation") or "default"))
    if adapter.interactive and settings.log_file:
        try:
            logs = open(settings.log_file, "a", encoding="utf-8", buffering=1)
        except OSError as exc:
            raise SettingsProblem("CONSOLE_LOG_FILE", f"can't write to it ({exc})") from None
        send_logs_to(logs)  # kept open for the process's life
        logging.captureWarnings(True)  # Python's warnings too go to the file, not the chat
        adapter.log_file = settings.log_file
    return adapter


class ConsoleAdapter:
    platform = PLATFORM
    tools: Sequence[Callable[..., Any]] = ()
    secret_patterns: Sequence[tuple[str, str]] = ()

    def __init__(self, conversation: str = "default") -> None:
        self.conversation = conversation
        self.key = ConversationKey(PLATFORM, "local", conversation)
        self.interactive = sys.stdin.isatty() and sys.stdout.isatty()
        self.port: PipePort = TtyPort() if self.interactive else PipePort()
        self.lines: Lines = TtyLines() if self.interactive else PipeLines(encoding=_encoding())
        self.log_file: str | None = None
        self._engine: Engine | None = None
        self._reopened = 0

    async def start(self, engine: Engine) -> None:
        self._engine = engine
        if self.interactive:
            logs = f" Logs go to {self.log_file}." if self.log_file else ""
            print(
                f"Threadbridge console — conversation {self.conversation!r}. "
                f"/reset starts afresh. {HOW_TO_TYPE}{logs}",
                flush=True,
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
            print("(answering what you asked before the restart)", file=sys.stderr, flush=True)
            await self._reply_landed(engine, show=False)
        while True:
            try:
                line = await self.lines.read()
            except KeyboardInterrupt:  # Ctrl-C on an empty line: stop as a SIGINT does
                signal.raise_signal(signal.SIGINT)
                await asyncio.Future()  # the process's handler cancels us
                return
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
            await self._reply_landed(engine)

    async def _reply_landed(self, engine: Engine, show: bool = True) -> None:
        """Wait until the reply is done, then show it. When the wait is cancelled (the
        process is stopping), the reply still runs within the engine's shutdown grace, and
        is shown once it lands."""
        idle = asyncio.ensure_future(engine.wait_idle())
        done = lambda _: self._show_reply(show)  # noqa: E731
        try:
            # shielded: cancelling a wait for the reply must not cancel the reply
            await asyncio.shield(idle)
        except asyncio.CancelledError:
            idle.add_done_callback(done)
            raise
        self._show_reply(show)

    def _show_reply(self, show: bool) -> None:
        text = self.port.take()
        if show and not self.interactive:
            sys.stdout.write(pipe_frame(text))
            sys.stdout.flush()

    async def stop_taking(self) -> None:
        return None  # the read loop ends with the adapter's task

    async def stop(self) -> None:
        return None


def _encoding() -> str:
    return getattr(sys.stdin, "encoding", None) or "utf-8"
