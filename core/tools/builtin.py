"""Built-in tools available on every platform."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.tools.registry import ToolError, ToolRegistry


def current_time(timezone: str = "UTC") -> str:
    """The current date and time in a time zone.

    Args:
        timezone: An IANA time zone name such as "Europe/Oslo" or "UTC".
    """
    try:
        zone = ZoneInfo(timezone.strip() or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ToolError(f"unknown time zone {timezone[:64]!r}; use an IANA name") from exc
    now = datetime.now(zone)
    return now.strftime("%Y-%m-%d %H:%M:%S %Z (%A)")


def register_builtins(registry: ToolRegistry) -> None:
    registry.add(current_time)
