"""The console's settings (pydantic-settings, same environment and ``.env`` as the core's;
each one is listed in ``.env.example``)."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

from core.settings import ENV_CONFIG, empty_is_none


class ConsoleSettings(BaseSettings):
    model_config = ENV_CONFIG

    log_file: str | None = Field(default="threadbridge-console.log", alias="CONSOLE_LOG_FILE")
    """On a terminal, log records go to this file (relative to the working directory) so
    they stay out of the conversation; empty keeps them on stderr."""

    @field_validator("log_file", mode="before")
    @classmethod
    def _empty_is_none(cls, v: object) -> object:
        return empty_is_none(v)
