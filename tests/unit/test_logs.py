"""Log redaction: tokens never reach the logs, even inside exception text."""

import logging

from core.logs import RedactingFormatter, redact


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
        import sys

        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    out = formatter.format(record)
    assert "secretsecret" not in out and "RuntimeError" in out
