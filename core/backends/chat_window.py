"""What the `chat` backend learns about its server at start-up: the context window (when
``CONTEXT_WINDOW_TOKENS`` is left empty) and which output-limit parameter to send.

The window is read best effort, each with a short timeout and no retries: llama.cpp's
``GET /props`` (``default_generation_settings.n_ctx``), vLLM's ``GET /v1/models``
(``max_model_len``), Ollama's ``POST /api/show`` (``model_info["<arch>.context_length"]``).
OpenAI itself reports none, so nothing is asked there.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from openai import AsyncOpenAI

from core.backends.base import TRANSIENT_ERRORS

log = logging.getLogger(__name__)

DEFAULT_CONTEXT_WINDOW = 128_000
PROBE_TIMEOUT = 3.0
OPENAI_HOST = "api.openai.com"
PROBE_ERRORS: tuple[type[BaseException], ...] = (*TRANSIENT_ERRORS, ValueError)


def is_openai(base_url: str | None) -> bool:
    """Whether the server is OpenAI's own (OPENAI_BASE_URL unset or pointing there)."""
    return not base_url or urlsplit(base_url).hostname == OPENAI_HOST


def output_tokens_param(setting: str, base_url: str | None) -> str:
    """The parameter that carries MAX_OUTPUT_TOKENS: OpenAI's reasoning models reject
    ``max_tokens``, llama.cpp and LiteLLM (passing through to it) ignore
    ``max_completion_tokens``. ``auto`` picks by server; a 400 naming it switches later."""
    if setting != "auto":
        return setting
    return "max_completion_tokens" if is_openai(base_url) else "max_tokens"


def other_output_param(param: str) -> str:
    return "max_tokens" if param == "max_completion_tokens" else "max_completion_tokens"


def server_root(base_url: str) -> str:
    """``http://host:8080/v1`` → ``http://host:8080`` (where /props and /api/show live)."""
    root = base_url.rstrip("/")
    return root.removesuffix("/v1")


def window_from_props(body: Any) -> int | None:
    settings = body.get("default_generation_settings") if isinstance(body, dict) else None
    n_ctx = settings.get("n_ctx") if isinstance(settings, dict) else None
    return _positive(n_ctx)


def window_from_models(body: Any, model: str) -> int | None:
    data = body.get("data") if isinstance(body, dict) else None
    entries = [m for m in data or () if isinstance(m, dict)]
    chosen = [m for m in entries if m.get("id") == model] or entries[:1]
    return _positive(chosen[0].get("max_model_len")) if chosen else None


def window_from_ollama(body: Any) -> int | None:
    info = body.get("model_info") if isinstance(body, dict) else None
    for key, value in (info or {}).items():
        if str(key).endswith(".context_length"):
            return _positive(value)
    return None


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


async def read_context_window(client: AsyncOpenAI, base_url: str, model: str) -> tuple[int, str]:
    """The server's context window and where it was read; (DEFAULT_CONTEXT_WINDOW, "")
    when the server says nothing."""
    quick = client.with_options(max_retries=0, timeout=PROBE_TIMEOUT)
    root = server_root(base_url)
    probes: list[tuple[str, str, Any]] = [
        ("GET", f"{root}/props", window_from_props),
        ("GET", "/models", lambda body: window_from_models(body, model)),
        ("POST", f"{root}/api/show", window_from_ollama),
    ]
    for method, url, read in probes:
        try:
            if method == "GET":
                body: Any = await quick.get(url, cast_to=object)
            else:
                body = await quick.post(url, body={"model": model}, cast_to=object)
        except PROBE_ERRORS as exc:
            log.debug("no context window at %s: %s", url, type(exc).__name__)
            continue
        window = read(body)
        if window is not None:
            where = url if url.startswith("http") else f"{base_url.rstrip('/')}{url}"
            return window, where
    return DEFAULT_CONTEXT_WINDOW, ""
