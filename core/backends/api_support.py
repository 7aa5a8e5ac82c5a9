"""What the model server supports, checked at start-up: the probe errors of the `responses` and
`assistants` backends become one clear line (a :class:`SettingsProblem`, exit 2), so a backend
the server can't serve refuses to start instead of failing on every message.

A server without an API answers its routes 404 (LiteLLM, vLLM, llama.cpp, Ollama), 405 or 501.
"""

from __future__ import annotations

import re

import httpx2
import openai

from core.settings import Settings, SettingsProblem

MISSING_API_STATUSES = frozenset({404, 405, 501})
TRANSIENT_STATUSES = frozenset({408, 409, 429, 502, 503, 504})
OPENAI_URL = "https://api.openai.com/v1"


def server_of(settings: Settings) -> str:
    return settings.openai_base_url or OPENAI_URL


_SDK_PREFIX = re.compile(r"^Error code: \d+(?: - )?")


def one_line(text: object, limit: int = 200) -> str:
    return " ".join(str(text).split())[:limit]


def server_says(exc: BaseException) -> str:
    """What the server said, on one line, without the SDK's "Error code: 404 - " prefix."""
    message = getattr(exc, "message", None) or str(exc)
    return one_line(_SDK_PREFIX.sub("", str(message))) or "(no message)"


def status_of(exc: BaseException) -> int | None:
    return exc.status_code if isinstance(exc, openai.APIStatusError) else None


def is_missing_api(exc: BaseException, settings: Settings) -> bool:
    """Did the server answer as if the route does not exist (and not "no such model")?"""
    if status_of(exc) not in MISSING_API_STATUSES:
        return False
    assert isinstance(exc, openai.APIStatusError)
    return exc.code != "model_not_found" and settings.assistant_model not in str(exc.message)


def is_refusal(exc: BaseException) -> bool:
    """A client error that is about the request itself (not the key, not a passing state)."""
    status = status_of(exc)
    return status is not None and 400 <= status < 500 and status not in (401, 403, 408, 409, 429)


def no_api(settings: Settings, api: str, request: str, exc: BaseException, advice: str) -> str:
    """The problem text for a server that lacks ``api``."""
    return (
        f"the model server at {server_of(settings)} has no {api} API ({request} answered "
        f"{status_of(exc)}); {advice}"
    )


def startup_problem(exc: BaseException, settings: Settings, doing: str) -> SettingsProblem:
    """The one line for a start-up request that failed in a way no fallback helps."""
    server = server_of(settings)
    status = status_of(exc)
    if isinstance(exc, openai.APIConnectionError | httpx2.HTTPError):
        return SettingsProblem(
            "OPENAI_BASE_URL",
            f"the model server at {server} can't be reached ({type(exc).__name__} while "
            f"{doing}); is it running?",
        )
    if status in (401, 403):
        return SettingsProblem(
            "OPENAI_API_KEY", f"the model server at {server} refused it ({status} while {doing})"
        )
    if status in MISSING_API_STATUSES:  # what is left of them: an unknown model
        return SettingsProblem(
            "ASSISTANT_MODEL",
            f"the model server at {server} has no model {settings.assistant_model!r} "
            f"({status} while {doing})",
        )
    return SettingsProblem(
        "ASSISTANT_BACKEND",
        f"{settings.assistant_backend}: the model server at {server} answered {status} while "
        f"{doing}: {server_says(exc)}",
    )
