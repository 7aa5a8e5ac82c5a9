"""The Discord adapter's settings (pydantic-settings, same environment and ``.env`` as the
core's; each one is listed in ``.env.example``)."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

from core.settings import ENV_CONFIG, empty_is_none


class DiscordSettings(BaseSettings):
    model_config = ENV_CONFIG

    token: str | None = Field(default=None, alias="DISCORD_TOKEN")
    guild_ids: str = Field(default="", alias="DISCORD_GUILD_IDS")
    api_base: str | None = Field(default=None, alias="DISCORD_API_BASE")
    gateway_url: str | None = Field(default=None, alias="DISCORD_GATEWAY_URL")

    @field_validator("token", "api_base", "gateway_url", mode="before")
    @classmethod
    def _empty_is_none(cls, v: object) -> object:
        return empty_is_none(v)

    @field_validator("guild_ids")
    @classmethod
    def _guild_ids(cls, v: str) -> str:
        for part in v.replace(" ", "").split(","):
            if part and not part.isdigit():
                raise ValueError(f"not a guild id: {part!r}")
        return v

    @property
    def configured(self) -> bool:
        """A bot token is set: ``python -m bots`` runs Discord."""
        return bool(self.token)

    @property
    def guild_id_list(self) -> list[int]:
        return [int(g) for g in self.guild_ids.replace(" ", "").split(",") if g]
