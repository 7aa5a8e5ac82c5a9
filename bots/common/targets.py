"""Typed resume targets: where to answer a message, stored as JSON with it
(``IncomingMessage.reply_target``) so an adapter can answer a message a crash left
unanswered. Each adapter declares its own frozen dataclass on :class:`ResumeTarget`; the JSON
round trip and its validation are written once, here."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Self, get_type_hints


def _accepts(hint: Any, value: Any) -> bool:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_accepts(arg, value) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    return isinstance(value, hint)


@dataclasses.dataclass(frozen=True, slots=True)
class ResumeTarget:
    """Base of every adapter's resume target: fields of ``str``, ``bool`` or ``str | None``."""

    def usable(self) -> bool:
        """Checks beyond the field types (e.g. a non-empty channel)."""
        return True

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> Self | None:
        """The stored target, or None when it is missing or malformed (a field of the wrong
        type, or a required one absent)."""
        if not isinstance(data, dict):
            return None
        hints = get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in data:
                if f.default is dataclasses.MISSING:
                    return None
                continue
            if not _accepts(hints[f.name], data[f.name]):
                return None
            values[f.name] = data[f.name]
        target = cls(**values)
        return target if target.usable() else None
