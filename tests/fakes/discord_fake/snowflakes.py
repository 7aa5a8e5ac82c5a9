"""Snowflake ids as Discord makes them: milliseconds since the Discord epoch in the top bits."""

from __future__ import annotations

import itertools
import time

DISCORD_EPOCH_MS = 1420070400000


class SnowflakeMaker:
    """Hands out unique, time-ordered snowflakes; ``at`` back-dates one (e.g. old interactions)."""

    def __init__(self) -> None:
        self._counter = itertools.count()

    def next(self, at: float | None = None) -> str:
        ms = int((time.time() if at is None else at) * 1000)
        inc = next(self._counter) & 0xFFF
        return str(((ms - DISCORD_EPOCH_MS) << 22) | (1 << 17) | inc)


def snowflake_time(snowflake: str | int) -> float:
    """Unix time (seconds) encoded in a snowflake."""
    return ((int(snowflake) >> 22) + DISCORD_EPOCH_MS) / 1000
