"""Switchable server quirks: how real OpenAI-compatible servers (llama.cpp, vLLM, Ollama,
LiteLLM) differ from OpenAI, so every backend can be tested against each difference.

All off by default (the fake then behaves like OpenAI). Set them on ``FakeOpenAI.quirks``::

    fake.quirks.max_tokens_only = True
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Quirks:
    # --- Chat Completions -----------------------------------------------------------------
    empty_stream_on_overflow: bool = False
    """A streamed request over the context limit gets 200 and an empty stream (no chunks,
    no finish_reason, no [DONE]), as llama.cpp does; instead of a 400."""
    string_content_only: bool = False
    """Messages whose ``content`` is not a string (null, or a list of parts) get a 500, as
    llama-cpp-python does for an assistant tool-call message with ``"content": null``."""
    max_tokens_only: bool = False
    """``max_tokens`` is honoured and ``max_completion_tokens`` ignored (llama.cpp, LiteLLM
    passing through to it)."""
    no_usage: bool = False
    """``stream_options.include_usage`` is ignored: no usage chunk."""
    tools_need_choice: bool = False
    """Without an explicit ``tool_choice`` the tools are ignored (llama-cpp-python)."""
    no_streamed_tool_calls: bool = False
    """With ``tool_choice: "auto"`` a streamed request answers 200 with an empty stream
    (llama-cpp-python can't stream auto tool calls); non-streamed requests work."""
    empty_reply_for_auto_tools: bool = False
    """With ``tool_choice: "auto"`` a streamed request answers an empty assistant message: a
    role chunk, an empty content chunk, ``finish_reason: "stop"`` and ``[DONE]`` (what
    llama-cpp-python's server with ``chatml-function-calling`` sends, seen in ``make
    interop``); non-streamed requests work."""
    no_text_with_auto_tools: bool = False
    """With tools and ``tool_choice: "auto"`` the model answers an empty message whenever it
    calls no tool, streamed or not (SmolLM2 under llama-cpp-python's chatml-function-calling,
    seen in ``make interop``); with ``tool_choice: "none"`` it answers in text."""
    context_window: int | None = None
    """Reported at llama.cpp's ``GET /props`` (``default_generation_settings.n_ctx``) and as
    vLLM's ``max_model_len`` in ``GET /v1/models``; None: not reported."""
    # --- Responses / Conversations / Assistants -------------------------------------------
    no_conversations_api: bool = False
    """``/v1/conversations`` answers 404 and ``conversation=`` on a response is silently
    ignored (LiteLLM)."""
    no_assistants_api: bool = False
    """``/v1/assistants`` and ``/v1/threads`` answer 404 (any server but an Assistants one)."""
    no_stored_responses: bool = False
    """Responses are not stored: ``previous_response_id`` (and ``GET /v1/responses/{id}``)
    answers 404 "not found" (vLLM without ``VLLM_ENABLE_RESPONSES_API_STORE``)."""
