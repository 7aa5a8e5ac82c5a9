"""Accumulating streamed Chat Completion chunk payloads (wire-format dicts, no network)."""

from typing import Any

from core.backends.chat_stream import CompletionAccumulator


def chunk(
    delta: dict | None, finish: str | None = None, usage: dict | None = None
) -> dict[str, Any]:
    return {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
        if delta is not None
        else [],
        "usage": usage,
    }


def test_lenient_with_missing_and_null_fields() -> None:
    acc = CompletionAccumulator()
    assert acc.add({"choices": [{"delta": None, "finish_reason": None}]}) is None
    assert (
        acc.add({"choices": [{"index": 0, "delta": {"content": None, "tool_calls": None}}]}) is None
    )
    assert acc.add({}) is None
    assert acc.add({"choices": [{"index": 1, "delta": {"content": "other choice"}}]}) is None
    assert acc.text == "" and acc.tool_calls() == []


def test_text_and_usage() -> None:
    acc = CompletionAccumulator()
    assert acc.add(chunk({"role": "assistant", "content": ""})) is None
    assert acc.add(chunk({"content": "Hel"})) == "Hel"
    assert acc.add(chunk({"content": "lo"}, "stop")) == "lo"
    acc.add(chunk(None, usage={"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}))
    assert acc.text == "Hello" and acc.finish_reason == "stop"
    assert acc.usage is not None and acc.usage.prompt_tokens == 7


def test_parallel_tool_calls_split_across_chunks() -> None:
    acc = CompletionAccumulator()
    acc.add(
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "a",
                        "type": "function",
                        "function": {"name": "f", "arguments": ""},
                    }
                ]
            }
        )
    )
    acc.add(
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "b",
                        "type": "function",
                        "function": {"name": "g", "arguments": '{"x"'},
                    }
                ]
            }
        )
    )
    acc.add(chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"q": '}}]}))
    acc.add(
        chunk(
            {
                "tool_calls": [
                    {"index": 0, "function": {"arguments": "1}"}},
                    {"index": 1, "function": {"arguments": ": 2}"}},
                ]
            },
            "tool_calls",
        )
    )
    calls = acc.tool_calls()
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("a", "f", '{"q": 1}'),
        ("b", "g", '{"x": 2}'),
    ]
    assert acc.assistant_tool_calls()[1] == {
        "id": "b",
        "type": "function",
        "function": {"name": "g", "arguments": '{"x": 2}'},
    }


def test_shrunk_budget_uses_the_servers_numbers() -> None:
    from core.backends.chat import shrunk_budget

    text = "This model's maximum context length is 1000 tokens. However, your messages resulted in 4000 tokens."
    # we estimated 2000 for what the server counted as 4000: our units are half the server's
    assert shrunk_budget(text, 2000, 100) == int((1000 - 100) / 2 * 0.9)
    assert shrunk_budget("context_length_exceeded", 2000, 100) == 1000
    assert shrunk_budget("nothing useful", 10, 100) == 64
