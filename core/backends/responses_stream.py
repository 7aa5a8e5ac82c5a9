"""Accumulating a streamed Responses call: pure logic over event payloads (the JSON dicts of
``response.*`` and ``error`` events), no I/O; plus the tool schema conversion.

Function calls are keyed by ``output_index``: ``output_item.added`` brings ``call_id`` and
``name``, ``function_call_arguments.delta`` brings argument pieces (found by ``item_id``),
and ``…arguments.done`` / ``output_item.done`` bring the full text, which wins. Parallel calls
are separate output items. A spec-shaped ``error`` event and ``response.failed`` end the
response as failed (the SDK yields them, it does not raise).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from core.events import ToolCall, Usage

ResponseStatus = Literal["completed", "incomplete", "failed", "cancelled"]
TERMINAL_EVENTS: dict[str, ResponseStatus] = {
    "response.completed": "completed",
    "response.incomplete": "incomplete",
    "response.failed": "failed",
    "response.cancelled": "cancelled",
}


def flat_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat-style tool schemas (``{"type":"function","function":{…}}``) → the Responses flat
    form (``{"type":"function","name",…,"strict":false}``); other tools pass through."""
    out: list[dict[str, Any]] = []
    for tool in tools:
        fn = tool.get("function")
        if tool.get("type") != "function" or not isinstance(fn, dict):
            out.append(tool)
            continue
        flat: dict[str, Any] = {"type": "function", "name": fn["name"]}
        if fn.get("description"):
            flat["description"] = fn["description"]
        flat["parameters"] = fn.get("parameters") or {"type": "object", "properties": {}}
        flat["strict"] = bool(fn.get("strict", False))
        out.append(flat)
    return out


@dataclass(slots=True)
class _PartialCall:
    item_id: str = ""
    call_id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ResponseAccumulator:
    response_id: str | None = None
    status: ResponseStatus | None = None
    """None until a terminal event (or an ``error`` event) arrived."""
    content: list[str] = field(default_factory=list)
    calls: dict[int, _PartialCall] = field(default_factory=dict)
    usage: Usage | None = None
    error_code: str | None = None
    error_message: str | None = None
    incomplete_reason: str | None = None

    def add(self, event: dict[str, Any]) -> str | None:
        """Merge one event payload; return its text delta, if any."""
        kind = event.get("type")
        if kind == "response.output_text.delta":
            delta = event.get("delta")
            if isinstance(delta, str) and delta:
                self.content.append(delta)
                return delta
            return None
        if kind == "response.function_call_arguments.delta":
            call = self._call_for(event)
            if call is not None and event.get("delta"):
                call.arguments.append(str(event["delta"]))
        elif kind == "response.function_call_arguments.done":
            call = self._call_for(event)
            if call is not None and isinstance(event.get("arguments"), str):
                call.arguments = [event["arguments"]]
        elif kind in ("response.output_item.added", "response.output_item.done"):
            self._on_item(event)
        elif kind in ("response.created", "response.in_progress"):
            self._on_response(event.get("response"))
        elif kind in TERMINAL_EVENTS:
            self.status = TERMINAL_EVENTS[kind]
            self._on_response(event.get("response"))
        elif kind == "error":
            self.status = "failed"
            self.error_code = _str(event.get("code")) or "error"
            self.error_message = _str(event.get("message"))
        return None

    def _call_for(self, event: dict[str, Any]) -> _PartialCall | None:
        item_id = event.get("item_id")
        for call in self.calls.values():
            if item_id and call.item_id == item_id:
                return call
        index = event.get("output_index")
        return self.calls.get(index) if isinstance(index, int) else None

    def _on_item(self, event: dict[str, Any]) -> None:
        item = event.get("item") or {}
        if item.get("type") != "function_call":
            return
        index = event.get("output_index")
        key = index if isinstance(index, int) else len(self.calls)
        call = self.calls.setdefault(key, _PartialCall())
        call.item_id = _str(item.get("id")) or call.item_id
        call.call_id = _str(item.get("call_id")) or call.call_id
        call.name = _str(item.get("name")) or call.name
        arguments = item.get("arguments")
        if isinstance(arguments, str) and arguments:
            call.arguments = [arguments]

    def _on_response(self, response: Any) -> None:
        if not isinstance(response, dict):
            return
        if response.get("id"):
            self.response_id = str(response["id"])
        usage = response.get("usage")
        if isinstance(usage, dict):
            self.usage = Usage(
                int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)
            )
        error = response.get("error")
        if isinstance(error, dict):
            self.error_code = _str(error.get("code")) or self.error_code
            self.error_message = _str(error.get("message")) or self.error_message
        details = response.get("incomplete_details")
        if isinstance(details, dict):
            self.incomplete_reason = _str(details.get("reason"))
        if self.status is not None and not self.calls:
            # a terminal response whose calls were not streamed (e.g. a proxy that buffers)
            for index, item in enumerate(response.get("output") or ()):
                if isinstance(item, dict) and item.get("type") == "function_call":
                    self._on_item({"output_index": index, "item": item})

    @property
    def text(self) -> str:
        return "".join(self.content)

    def tool_calls(self) -> list[ToolCall]:
        return [
            ToolCall(id=c.call_id or c.item_id, name=c.name, arguments="".join(c.arguments))
            for _, c in sorted(self.calls.items())
        ]


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
