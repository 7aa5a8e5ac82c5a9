"""Log redaction: tokens never reach the logs, even inside exception text. The core masks
its own keys; each platform adapter registers the patterns of its tokens."""

import logging
import sys

import pytest

from bots.common.adapter import ADAPTER_MODULES, adapter_module, register_secrets
from core.logs import RedactingFormatter, new_ref, redact


@pytest.fixture(autouse=True, scope="module")
def adapters_registered() -> None:
    """What ``python -m bots`` does for the adapters it runs."""
    from bots.discord.adapter import DiscordAdapter
    from bots.slack.adapter import SlackAdapter

    for cls in (SlackAdapter, DiscordAdapter):
        register_secrets(cls)  # type: ignore[arg-type]


def test_every_platform_declares_its_secret_patterns() -> None:
    slack = adapter_module("slack").create  # the modules load without credentials
    assert slack and set(ADAPTER_MODULES) == {"console", "slack", "discord"}


def test_redact_masks_known_token_shapes() -> None:
    text = "bad xoxb-1234567890-abcdefghij and xapp-1-A0B1C2D3E4 and sk-proj-abcdefghijklmnop"
    out = redact(text)
    assert "1234567890" not in out and "A0B1C2D3E4" not in out and "abcdefghijklmnop" not in out
    assert "xoxb-…" in out and "xapp-…" in out and "sk-…" in out


def test_redact_masks_discord_bot_tokens() -> None:
    token = "MTA1NjY3ODkwMTIzNDU2Nzg5MA.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789"
    assert redact(f"Authorization: Bot {token}") == "Authorization: Bot [discord token]"


def test_formatter_redacts_tracebacks() -> None:
    formatter = RedactingFormatter("%(message)s")
    try:
        raise RuntimeError("token xoxp-secretsecretsecret rejected")
    except RuntimeError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    out = formatter.format(record)
    assert "secretsecret" not in out and "RuntimeError" in out


def test_reference_ids_have_one_format() -> None:
    refs = {new_ref() for _ in range(100)}
    assert len(refs) == 100
    assert all(len(r) == 10 and int(r, 16) >= 0 for r in refs)


def test_a_record_stays_on_one_line_and_tracebacks_are_continuation_lines() -> None:
    formatter = RedactingFormatter("%(levelname)s %(name)s: %(message)s")
    server_text = "Error code: 500 - {'error': 'line one\nline two\r\nsk-abcdefghijklmnop'}"
    record = logging.LogRecord(
        "t", logging.WARNING, __file__, 1, "failed: %s", (server_text,), None
    )
    out = formatter.format(record)
    assert "\n" not in out and "\r" not in out
    assert out.startswith("WARNING t: failed:") and "line one\\nline two\\r\\n" in out
    assert "abcdefghijklmnop" not in out
    try:
        raise RuntimeError("bad\nreply")
    except RuntimeError:
        exc = sys.exc_info()
    record = logging.LogRecord("t", logging.ERROR, __file__, 1, "turn\nfailed", None, exc)
    head, *rest = formatter.format(record).split("\n")
    assert head == "ERROR t: turn\\nfailed"
    assert rest and all(line.startswith("  | ") for line in rest)
    assert rest[0] == "  | Traceback (most recent call last):"
    assert rest[-2:] == ["  | RuntimeError: bad", "  | reply"]
