"""The Slack adapter's settings (pydantic-settings, same environment and ``.env`` as the core's;
each one is listed in ``.env.example``)."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

from core.settings import ENV_CONFIG, empty_is_none


class SlackSettings(BaseSettings):
    model_config = ENV_CONFIG

    bot_token: str | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    app_token: str | None = Field(default=None, alias="SLACK_APP_TOKEN")
    signing_secret: str | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    api_url: str = Field(default="https://slack.com/api/", alias="SLACK_API_URL")
    suggested_prompts: str = Field(
        default="Summarise this thread|Draft a reply|Explain this error",
        alias="SLACK_SUGGESTED_PROMPTS",
    )
    port: int = Field(default=3000, ge=0, le=65535, alias="PORT")

    @field_validator("bot_token", "app_token", "signing_secret", mode="before")
    @classmethod
    def _empty_is_none(cls, v: object) -> object:
        return empty_is_none(v)

    @property
    def configured(self) -> bool:
        """A bot token is set: ``python -m bots`` runs Slack."""
        return bool(self.bot_token)

    @property
    def socket_mode(self) -> bool:
        return bool(self.app_token)

    @property
    def prompt_list(self) -> list[str]:
        return [p.strip() for p in self.suggested_prompts.split("|") if p.strip()]
