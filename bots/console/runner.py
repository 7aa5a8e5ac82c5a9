"""The console loop: read lines, run turns in order, print replies.

On a TTY the reply updates in place, and a question a crash left unanswered is answered
first. When stdin is not a TTY, each input line is one user
message; after each reply completes its final text goes to stdout followed by one empty line,
and progress and errors go to stderr.
"""

from __future__ import annotations

import asyncio
import sys

from bots.console.port import PipePort, TtyPort
from core.engine import Engine, IncomingMessage
from core.keys import ConversationKey
from core.settings import Settings

RESET_COMMANDS = ("/reset",)


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


async def serve(settings: Settings, engine: Engine, conversation: str = "default") -> None:
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    key = ConversationKey("console", "local", conversation)
    port: PipePort = TtyPort() if interactive else PipePort()
    if interactive:
        print(f"Threadbridge console — conversation {conversation!r}. /reset starts afresh.")

        async def reopen(msg: IncomingMessage) -> PipePort | None:
            return port if msg.key == key else None

        if await engine.resume_interrupted("console", reopen):
            print("(answering what you asked before the restart)", file=sys.stderr)
            await engine.wait_idle()
            port.take()
    while True:
        line = await _read_line("> " if interactive else None)
        if line is None:
            break
        if line.strip() in RESET_COMMANDS:
            await engine.reset(key)
            print("Started a new conversation.", file=sys.stderr, flush=True)
            continue
        message = IncomingMessage(
            key, line, user_id="console", reply_target={"conversation": conversation}
        )
        await engine.submit(message, port)
        await engine.wait_idle()
        text = port.take()
        if not interactive:
            sys.stdout.write(text + "\n\n")
            sys.stdout.flush()
