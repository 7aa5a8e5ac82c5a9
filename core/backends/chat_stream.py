"""Accumulating a streamed Chat Completion: pure logic over chunk payloads (the JSON dicts of
``chat.completion.chunk`` events), no I/O.

Tool-call fragments are merged by ``index``: ``id`` and ``name`` come first, ``arguments``
come as pieces to concatenate. Parallel tool calls are separate indexes. Payloads are read
leniently: servers differ in which fields they send and which they leave null.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.events import ToolCall, Usage


@dataclass(slots=True)
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass(slots=True)
class CompletionAccumulator:
    content: list[str] = field(default_factory=list)
    calls: dict[int, _PartialCall] = field(default_factory=dict)
    finish_reason: str | None = None
    usage: Usage | None = None

    def add(self, chunk: dict[str, Any]) -> str | None:
        """Merge one chunk payload; return its text delta, if any."""
        usage = chunk.get("usage")
        if usage:
            self.usage = Usage(
                int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
            )
        text: str | None = None
        for choice in chunk.get("choices") or ():
            if choice.get("index") not in (0, None):
                continue
            delta = choice.get("delta") or {}
            content = delta.get("content")
            if content:
                text = content
                self.content.append(content)
            for frag in delta.get("tool_calls") or ():
                index = frag.get("index")
                call = self.calls.setdefault(
                    index if index is not None else len(self.calls), _PartialCall()
                )
                if frag.get("id"):
                    call.id = frag["id"]
                fn = frag.get("function") or {}
                if fn.get("name") and not call.name:
                    call.name = fn["name"]
                if fn.get("arguments"):
                    call.arguments.append(fn["arguments"])
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return text

    @property
    def text(self) -> str:
        return "".join(self.content)

    def tool_calls(self) -> list[ToolCall]:
        return [
            ToolCall(id=c.id or f"call_{i}", name=c.name, arguments="".join(c.arguments))
            for i, c in sorted(self.calls.items())
        ]

    def assistant_tool_calls(self) -> list[dict[str, Any]]:
        """The ``tool_calls`` field of the stored assistant message."""
        return [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments},
            }
            for c in self.tool_calls()
        ]
