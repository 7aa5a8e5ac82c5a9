"""Interactions the fake Discord has dispatched: token, callback state, original response and
follow-ups. Token validity follows the snowflake time (15 minutes), like Discord."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.discord_fake.snowflakes import snowflake_time

TOKEN_LIFETIME = 15 * 60


@dataclass(eq=False)
class FakeInteraction:
    id: str
    token: str
    name: str
    user_id: str
    channel_id: str
    guild_id: str | None
    payload: dict[str, Any]
    dispatched_at: float = field(default_factory=time.monotonic)
    callback_type: int | None = None
    ephemeral: bool = False
    original_id: str | None = None
    followup_ids: list[str] = field(default_factory=list)
    revoked: bool = False
    """Set by ``FakeDiscord.expire``: the token is rejected from now on, whatever its age."""

    @property
    def expires_at(self) -> float:
        """Unix time when the token stops working."""
        return snowflake_time(self.id) + TOKEN_LIFETIME

    def expired(self) -> bool:
        return self.revoked or time.time() >= self.expires_at

    def metadata(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": 2,
            "name": self.name,
            "user": self.payload.get("member", {}).get("user") or self.payload.get("user"),
            "authorizing_integration_owners": {},
        }
