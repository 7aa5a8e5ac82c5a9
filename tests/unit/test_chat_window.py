"""What the chat backend reads about its server: context window replies, output parameter,
the window check, and non-streamed replies turned into chunks."""

from __future__ import annotations

import pytest

from core.backends.chat_stream import CompletionAccumulator, chunks_from_completion
from core.backends.chat_window import (
    output_tokens_param,
    server_root,
    window_from_models,
    window_from_ollama,
    window_from_props,
)
from core.context import LEFT_OUT_REPLY, NOTE_ROLE, TOO_LONG_NOTE, build_context
from core.settings import SettingsProblem, check_context_window
from storage.records import StoredMessage


def test_windows_as_each_server_reports_them() -> None:
    assert window_from_props({"default_generation_settings": {"n_ctx": 4096}}) == 4096
    assert window_from_props({"n_ctx": 4096}) is None
    models = {"data": [{"id": "a", "max_model_len": 1}, {"id": "m", "max_model_len": 8192}]}
    assert window_from_models(models, "m") == 8192
    assert window_from_models({"data": [{"id": "gpt-4o"}]}, "gpt-4o") is None
    assert window_from_ollama({"model_info": {"llama.context_length": 131072}}) == 131072
    assert window_from_ollama({"model_info": {"llama.context_length": "big"}}) is None
    assert window_from_ollama("not json") is None
    assert server_root("http://h:8080/v1/") == "http://h:8080"


def test_output_parameter_by_server() -> None:
    assert output_tokens_param("auto", None) == "max_completion_tokens"
    assert output_tokens_param("auto", "https://api.openai.com/v1") == "max_completion_tokens"
    assert output_tokens_param("auto", "http://localhost:8080/v1") == "max_tokens"
    assert output_tokens_param("max_completion_tokens", "http://x/v1") == "max_completion_tokens"


def test_window_check() -> None:
    check_context_window(8192, 4096)
    with pytest.raises(SettingsProblem, match="CONTEXT_WINDOW_TOKENS"):
        check_context_window(4200, 4096)
    with pytest.raises(SettingsProblem, match=r"MAX_OUTPUT_TOKENS.*set it below 1792"):
        check_context_window(2048, 4096, "http://h/props")


def test_a_non_streamed_reply_becomes_the_same_chunks() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    body = {
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "tool_calls": [call]},
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3},
    }
    acc = CompletionAccumulator()
    for chunk in chunks_from_completion(body):
        acc.add(chunk)
    assert acc.finish_reason == "tool_calls" and acc.usage is not None
    assert acc.assistant_tool_calls() == [call]


def test_a_left_out_turn_is_sent_as_a_placeholder_and_content_is_never_null() -> None:
    history = [
        StoredMessage("user", "x" * 10_000, turn_id="t1"),
        StoredMessage(NOTE_ROLE, TOO_LONG_NOTE, turn_id="t1"),
        StoredMessage(
            "assistant",
            None,
            turn_id="t2",
            tool_calls=[{"id": "c", "type": "function", "function": {"name": "f"}}],
        ),
        StoredMessage("tool", "ok", turn_id="t2", tool_call_id="c"),
    ]
    messages, _ = build_context("sys", history, 100_000)
    assert messages[1:3] == [
        {"role": "user", "content": TOO_LONG_NOTE},
        {"role": "assistant", "content": LEFT_OUT_REPLY},
    ]
    assert messages[3]["content"] == "" and all(isinstance(m["content"], str) for m in messages)
