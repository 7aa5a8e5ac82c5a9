"""Logging set-up: one line per record, with level and logger; secrets are never formatted in.

Message bodies are logged only at DEBUG. ``redact`` masks token-like strings that might slip into
exception texts.
"""

from __future__ import annotations

import logging
import re
import sys

_TOKEN = re.compile(r"\b(xox[abpr]-|xapp-|sk-)[A-Za-z0-9-_]{6,}")
_DISCORD_TOKEN = re.compile(r"\b[MNO][A-Za-z\d_-]{23,}\.[\w-]{6}\.[\w-]{27,}")


def redact(text: str) -> str:
    text = _TOKEN.sub(lambda m: m.group(1) + "…", text)
    return _DISCORD_TOKEN.sub("[discord token]", text)


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


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
