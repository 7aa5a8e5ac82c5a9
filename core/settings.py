"""Settings from the environment and ``.env`` (pydantic-settings).

Every field here (and in each adapter's ``bots/<platform>/settings.py``) is listed in
``.env.example``. ``load_settings()`` turns a missing or invalid
setting into one clear line naming the variable and exit code 2, never a traceback.
"""

from __future__ import annotations

import sys
from typing import Literal, TypeVar

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

S = TypeVar("S", bound=BaseSettings)


ENV_CONFIG = SettingsConfigDict(
    env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
)
"""How every settings class reads the environment and ``.env``: the core's here, each
platform adapter's beside it (``bots/<platform>/settings.py``)."""


def empty_is_none(v: object) -> object:
    """An empty or blank variable means "not set"."""
    return None if isinstance(v, str) and not v.strip() else v


class Settings(BaseSettings):
    """The core's settings: model server, assistant, tools, storage and logs."""

    model_config = ENV_CONFIG

    # --- model server -------------------------------------------------------------------
    openai_api_key: str = Field(default="", alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, alias="OPENAI_BASE_URL")
    openai_max_retries: int = Field(default=2, ge=0, le=10, alias="OPENAI_MAX_RETRIES")
    openai_timeout: float = Field(default=120.0, gt=0, alias="OPENAI_TIMEOUT")

    # --- assistant ----------------------------------------------------------------------
    assistant_backend: Literal["chat", "assistants", "responses"] = Field(
        default="chat", alias="ASSISTANT_BACKEND"
    )
    assistant_model: str = Field(default="gpt-4o-mini", min_length=1, alias="ASSISTANT_MODEL")
    assistant_name: str = Field(default="Threadbridge", alias="ASSISTANT_NAME")
    assistant_instructions: str = Field(
        default="You are a helpful assistant in a team chat. Answer concisely in Markdown.",
        alias="ASSISTANT_INSTRUCTIONS",
    )
    assistant_temperature: float | None = Field(
        default=None, ge=0, le=2, alias="ASSISTANT_TEMPERATURE"
    )
    assistant_id: str | None = Field(default=None, alias="ASSISTANT_ID")
    context_window_tokens: int | None = Field(default=None, ge=1024, alias="CONTEXT_WINDOW_TOKENS")
    """None: read from the model server at start-up (see ``core.backends.chat_window``)."""
    max_output_tokens: int = Field(default=4096, ge=16, alias="MAX_OUTPUT_TOKENS")
    output_tokens_param: Literal["auto", "max_tokens", "max_completion_tokens"] = Field(
        default="auto", alias="OUTPUT_TOKENS_PARAM"
    )
    max_tool_rounds: int = Field(default=8, ge=1, le=64, alias="MAX_TOOL_ROUNDS")
    max_input_chars: int = Field(default=20_000, ge=100, alias="MAX_INPUT_CHARS")
    new_conversations_per_user_per_hour: int = Field(
        default=20, ge=0, le=100_000, alias="NEW_CONVERSATIONS_PER_USER_PER_HOUR"
    )
    max_concurrent_runs: int = Field(default=100, ge=1, le=10_000, alias="MAX_CONCURRENT_RUNS")
    max_queued_per_conversation: int = Field(
        default=5, ge=1, le=1000, alias="MAX_QUEUED_PER_CONVERSATION"
    )

    # --- tools --------------------------------------------------------------------------
    tools_modules: str = Field(default="", alias="TOOLS_MODULES")
    tool_timeout: float = Field(default=30.0, gt=0, alias="TOOL_TIMEOUT")
    tool_max_output_chars: int = Field(default=16_000, ge=256, alias="TOOL_MAX_OUTPUT_CHARS")
    max_tool_calls_per_round: int = Field(default=8, ge=1, le=128, alias="MAX_TOOL_CALLS_PER_ROUND")

    # --- storage and logs ---------------------------------------------------------------
    database_url: str = Field(default="sqlite:///threadbridge.db", alias="DATABASE_URL")
    dedupe_ttl_seconds: int = Field(default=86_400, ge=60, alias="DEDUPE_TTL_SECONDS")
    retention_days: int = Field(default=90, ge=0, le=36_500, alias="RETENTION_DAYS")
    """Threads reset away (and what hangs off them), message links and adapter state untouched
    this long are forgotten at start-up; 0 keeps everything."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", alias="LOG_LEVEL"
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, v: object) -> object:
        return v.upper() if isinstance(v, str) else v

    @field_validator("output_tokens_param", mode="before")
    @classmethod
    def _lower(cls, v: object) -> object:
        return (v.strip().lower() or "auto") if isinstance(v, str) else v

    @field_validator(
        "openai_base_url",
        "assistant_id",
        "assistant_temperature",
        "context_window_tokens",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, v: object) -> object:
        return empty_is_none(v)

    @property
    def tools_module_list(self) -> list[str]:
        return [m.strip() for m in self.tools_modules.split(",") if m.strip()]

    @property
    def sqlite_path(self) -> str:
        url = self.database_url
        if url.startswith("sqlite:///"):
            return url[len("sqlite:///") :] or ":memory:"
        if url.startswith("sqlite://"):
            return ":memory:"
        raise ValueError("DATABASE_URL must start with sqlite:///")

    @field_validator("database_url")
    @classmethod
    def _sqlite_only(cls, v: str) -> str:
        if not v.startswith("sqlite://"):
            raise ValueError("only sqlite:///PATH is supported")
        return v


CONTEXT_MARGIN_TOKENS = 256
"""The least room the conversation must have in the context window beside the reply."""


def check_context_window(window: int, max_output: int, source: str | None = None) -> None:
    """Raise SettingsProblem unless ``window`` leaves room for history beside ``max_output``.
    ``source``: where the window was read from (None: the CONTEXT_WINDOW_TOKENS setting)."""
    if window > max_output + CONTEXT_MARGIN_TOKENS:
        return
    most = window - CONTEXT_MARGIN_TOKENS
    if source is None:
        raise SettingsProblem(
            "CONTEXT_WINDOW_TOKENS",
            f"{window} leaves no room for the conversation beside MAX_OUTPUT_TOKENS "
            f"({max_output}); it must be larger than {max_output + CONTEXT_MARGIN_TOKENS}",
        )
    raise SettingsProblem(
        "MAX_OUTPUT_TOKENS",
        f"{max_output} leaves no room for the conversation in the server's {window}-token "
        f"context window (read from {source}); set it below {max(16, most)}",
    )


class SettingsProblem(Exception):
    """A setting that parsed but can't be used; reported as one line with exit code 2."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"Invalid setting {variable}: {problem}")
        self.variable = variable


def describe_error(exc: ValidationError, cls: type[BaseSettings] = Settings) -> str:
    """One line naming the first bad variable."""
    err = exc.errors()[0]
    var = str(err["loc"][0]) if err["loc"] else "settings"
    field = cls.model_fields.get(var)
    if field is not None and field.alias:
        var = field.alias
    return f"Invalid setting {var.upper()}: {err['msg']}"


def load(cls: type[S], **overrides: object) -> S:
    """Load a settings class, or print one clear line and exit with code 2."""
    try:
        return cls(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        print(describe_error(exc, cls), file=sys.stderr)
        raise SystemExit(2) from None


def load_settings(**overrides: object) -> Settings:
    """Load the core's settings, or print one clear line and exit with code 2."""
    return load(Settings, **overrides)
