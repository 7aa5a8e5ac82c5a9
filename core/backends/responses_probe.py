"""Which way the `responses` backend keeps history on this server, found at start-up.

OpenAI has the Conversations API: a conversation is created (and deleted) to prove it. A
server without it (LiteLLM: ``POST /v1/conversations`` → 404, ``conversation=`` silently
ignored) may still chain responses with ``previous_response_id``: two tiny responses, the
second continuing the first, prove that. A server that can do neither refuses to start with
one line (:class:`SettingsProblem` naming ASSISTANT_BACKEND).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Literal

import openai
from openai import AsyncOpenAI

from core.backends.api_support import (
    TRANSIENT_STATUSES,
    is_missing_api,
    is_refusal,
    no_api,
    server_of,
    server_says,
    startup_problem,
    status_of,
)
from core.backends.base import TRANSIENT_ERRORS
from core.settings import Settings, SettingsProblem

log = logging.getLogger(__name__)

HistoryMode = Literal["conversations", "chained"]
PROBE_METADATA = {"threadbridge": "probe"}
PROBE_INPUT = "Reply with OK."
PROBE_OUTPUT_TOKENS = 16
"""OpenAI's smallest ``max_output_tokens``."""
USE_CHAT = "use ASSISTANT_BACKEND=chat"


async def history_mode(client: AsyncOpenAI, settings: Settings) -> HistoryMode:
    """``conversations`` or ``chained``; raises SettingsProblem when neither works."""
    try:
        if await _conversations_work(client, settings):
            return "conversations"
        await _check_chaining(client, settings)
    except TRANSIENT_ERRORS as exc:
        raise startup_problem(exc, settings, "checking the Responses API") from exc
    return "chained"


async def _conversations_work(client: AsyncOpenAI, settings: Settings) -> bool:
    try:
        conversation = await client.conversations.create(metadata=PROBE_METADATA)
    except openai.APIStatusError as exc:
        if exc.status_code in (401, 403) or exc.status_code in TRANSIENT_STATUSES:
            raise
        log.debug(
            "no Conversations API at %s (%s: %s)",
            server_of(settings),
            exc.status_code,
            server_says(exc),
        )
        return False
    with contextlib.suppress(*TRANSIENT_ERRORS):
        await client.conversations.delete(conversation.id)
    return True


async def _check_chaining(client: AsyncOpenAI, settings: Settings) -> None:
    body: dict[str, Any] = {
        "model": settings.assistant_model,
        "input": PROBE_INPUT,
        "max_output_tokens": PROBE_OUTPUT_TOKENS,
    }
    try:
        first = await client.post("/responses", body=body, cast_to=object)
    except openai.APIStatusError as exc:
        if is_missing_api(exc, settings):
            raise SettingsProblem(
                "ASSISTANT_BACKEND",
                no_api(settings, "Responses", "POST /responses", exc, USE_CHAT),
            ) from exc
        raise
    response_id = first.get("id") if isinstance(first, dict) else None
    if not isinstance(response_id, str) or not response_id:
        raise _cannot_chain(settings, "its responses have no id")
    try:
        await client.post(
            "/responses", body={**body, "previous_response_id": response_id}, cast_to=object
        )
    except openai.APIStatusError as exc:
        if not is_refusal(exc):
            raise
        reason = f"previous_response_id answered {status_of(exc)}: {server_says(exc)}"
        raise _cannot_chain(settings, reason) from exc


def _cannot_chain(settings: Settings, reason: str) -> SettingsProblem:
    return SettingsProblem(
        "ASSISTANT_BACKEND",
        f"the model server at {server_of(settings)} has no Conversations API and does not "
        f"chain responses with previous_response_id ({reason}); {USE_CHAT}",
    )
