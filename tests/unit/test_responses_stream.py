"""Pure tests of the Responses stream accumulator and the tool schema conversion."""

from __future__ import annotations

from typing import Any

from core.backends.responses_stream import ResponseAccumulator, flat_tools
from core.events import ToolCall, Usage


def test_flat_tools_from_chat_style_schemas() -> None:
    chat: list[dict[str, Any]] = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city.",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        },
        {"type": "function", "function": {"name": "bare"}},
        {"type": "web_search"},
    ]
    assert flat_tools(chat) == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather for a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            "strict": False,
        },
        {
            "type": "function",
            "name": "bare",
            "parameters": {"type": "object", "properties": {}},
            "strict": False,
        },
        {"type": "web_search"},
    ]
    assert flat_tools([]) == []


def response(status: str, **extra: Any) -> dict[str, Any]:
    return {"id": "resp_1", "object": "response", "status": status, "output": [], **extra}


def feed(acc: ResponseAccumulator, events: list[dict[str, Any]]) -> list[str]:
    return [d for e in events if (d := acc.add(e))]


def test_text_deltas_usage_and_completion() -> None:
    acc = ResponseAccumulator()
    where = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    deltas = feed(
        acc,
        [
            {"type": "response.created", "response": response("in_progress")},
            {"type": "response.output_item.added", "output_index": 0, "item": {"type": "message"}},
            {"type": "response.output_text.delta", **where, "delta": "Hel"},
            {"type": "response.output_text.delta", **where, "delta": ""},
            {"type": "response.output_text.delta", **where, "delta": "lo"},
            {"type": "response.output_text.done", **where, "text": "Hello"},
            {"type": "some.future.event"},
            {
                "type": "response.completed",
                "response": response("completed", usage={"input_tokens": 7, "output_tokens": 2}),
            },
        ],
    )
    assert deltas == ["Hel", "lo"] and acc.text == "Hello"
    assert acc.response_id == "resp_1" and acc.status == "completed"
    assert acc.usage == Usage(7, 2) and acc.tool_calls() == []


def test_parallel_function_calls_with_split_arguments() -> None:
    acc = ResponseAccumulator()

    def added(index: int, call_id: str, name: str) -> dict[str, Any]:
        item = {"type": "function_call", "id": f"fc_{index}", "call_id": call_id}
        return {
            "type": "response.output_item.added",
            "output_index": index,
            "item": {**item, "name": name, "arguments": ""},
        }

    def delta(index: int, piece: str) -> dict[str, Any]:
        return {
            "type": "response.function_call_arguments.delta",
            "item_id": f"fc_{index}",
            "output_index": index,
            "delta": piece,
        }

    feed(
        acc,
        [
            added(0, "call_a", "get_weather"),
            added(1, "call_b", "get_weather"),
            delta(1, '{"city"'),
            delta(0, '{"ci'),
            delta(1, ': "Rome"}'),
            delta(0, 'ty": "Oslo"}'),
            {"type": "response.completed", "response": response("completed")},
        ],
    )
    assert acc.tool_calls() == [
        ToolCall("call_a", "get_weather", '{"city": "Oslo"}'),
        ToolCall("call_b", "get_weather", '{"city": "Rome"}'),
    ]


def test_done_events_carry_the_full_arguments() -> None:
    acc = ResponseAccumulator()
    item = {"type": "function_call", "id": "fc_0", "call_id": "call_a", "name": "f"}
    feed(
        acc,
        [
            {"type": "response.output_item.added", "output_index": 0, "item": item},
            {"type": "response.function_call_arguments.delta", "item_id": "fc_0", "delta": "{"},
            {"type": "response.function_call_arguments.done", "item_id": "fc_0", "arguments": "{}"},
        ],
    )
    assert acc.tool_calls() == [ToolCall("call_a", "f", "{}")]
    assert acc.status is None  # no terminal event yet


def test_calls_only_in_the_final_response_are_found() -> None:
    acc = ResponseAccumulator()
    call = {
        "type": "function_call",
        "id": "fc_0",
        "call_id": "call_z",
        "name": "g",
        "arguments": "{}",
    }
    acc.add({"type": "response.completed", "response": response("completed", output=[call])})
    assert acc.tool_calls() == [ToolCall("call_z", "g", "{}")]


def test_failed_incomplete_and_error_events() -> None:
    failed = ResponseAccumulator()
    failed.add(
        {
            "type": "response.failed",
            "response": response("failed", error={"code": "server_error", "message": "boom"}),
        }
    )
    assert failed.status == "failed" and failed.error_code == "server_error"
    cut = ResponseAccumulator()
    cut.add(
        {
            "type": "response.incomplete",
            "response": response("incomplete", incomplete_details={"reason": "max_output_tokens"}),
        }
    )
    assert cut.status == "incomplete" and cut.incomplete_reason == "max_output_tokens"
    err = ResponseAccumulator()
    err.add({"type": "error", "code": "rate_limit_exceeded", "message": "slow", "param": None})
    assert err.status == "failed" and err.error_code == "rate_limit_exceeded"
