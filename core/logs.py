"""Logging set-up: one line per record, with level and logger; secrets are never formatted in.

A record's message stays on its line: newlines in it (a server's error text, say) are written
as ``\\n``. A traceback follows on continuation lines that each start with ``  | ``, so every
line that does not start with a space starts a record.

Message bodies are logged only at DEBUG. ``redact`` masks token-like strings that might slip
into exception texts: the core's own (OpenAI-style keys) and the patterns each platform
adapter registers for its tokens (``add_secret_pattern``). ``new_ref`` makes the one kind of
reference id that ties a short message in the chat to the log lines about it.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from typing import TextIO

REF_HEX_CHARS = 10


def new_ref() -> str:
    """A reference id for a log line and the chat message that points to it."""
    return uuid.uuid4().hex[:REF_HEX_CHARS]


_patterns: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(sk-)[A-Za-z0-9-_]{6,}"), r"\1…"),
]


def add_secret_pattern(pattern: str, replacement: str) -> None:
    """Mask every match of ``pattern`` in log output with ``replacement`` (which may refer to
    the pattern's groups, as in ``re.sub``). Registering the same pattern twice is harmless."""
    if any(p.pattern == pattern for p, _ in _patterns):
        return
    _patterns.append((re.compile(pattern), replacement))


def redact(text: str) -> str:
    for pattern, replacement in _patterns:
        text = pattern.sub(replacement, text)
    return text


CONTINUATION = "  | "


def one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record.message = one_line(redact(record.getMessage()))  # redact before escaping
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        head = self.formatMessage(record)
        tail: list[str] = []
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            tail.append(record.exc_text)
        if record.stack_info:
            tail.append(self.formatStack(record.stack_info))
        lines = [one_line(redact(head))]
        for block in tail:
            lines.extend(CONTINUATION + line for line in redact(block).splitlines())
        return "\n".join(lines)


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx2", "httpcore", "openai", "discord.gateway", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def send_logs_to(stream: TextIO) -> None:
    """Write log records to ``stream`` from now on, formatted as before (e.g. a file, when
    the terminal is a conversation)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)
