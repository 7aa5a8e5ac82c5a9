"""Offline token estimation: UTF-8 bytes / 3.5 plus per-message overhead, calibrated against
the ``usage.prompt_tokens`` the server reports. Needs no network and no tokenizer files."""

from __future__ import annotations

import json
from typing import Any

BYTES_PER_TOKEN = 3.5
MESSAGE_OVERHEAD = 4


def estimate_text(text: str | None) -> int:
    if not text:
        return 0
    return int(len(text.encode("utf-8", "surrogatepass")) / BYTES_PER_TOKEN) + 1


def estimate_message(message: dict[str, Any]) -> int:
    """Tokens for one Chat Completions message dict."""
    total = MESSAGE_OVERHEAD + estimate_text(message.get("content"))
    if message.get("tool_calls"):
        total += estimate_text(json.dumps(message["tool_calls"]))
    return total


def estimate_tools(tools: list[dict[str, Any]]) -> int:
    return estimate_text(json.dumps(tools)) if tools else 0


class Calibrator:
    """Learns how far our estimate is from the server's count, as a smoothed ratio."""

    def __init__(self, smoothing: float = 0.3) -> None:
        self.ratio = 1.0
        self.smoothing = smoothing

    def observe(self, estimated: int, actual: int) -> None:
        if estimated <= 0 or actual <= 0:
            return
        sample = min(3.0, max(0.5, actual / estimated))
        self.ratio += self.smoothing * (sample - self.ratio)

    def scale(self, estimated: int) -> int:
        return int(estimated * max(1.0, self.ratio))
