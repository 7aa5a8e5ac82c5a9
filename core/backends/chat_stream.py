"""Accumulating a streamed Chat Completion: pure logic over chunk objects, no I/O.

Tool-call fragments are merged by ``index``: ``id`` and ``name`` come first, ``arguments``
come as pieces to concatenate. Parallel tool calls are separate indexes.
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

    def add(self, chunk: Any) -> str | None:
        """Merge one ``ChatCompletionChunk``; return its text delta, if any."""
        if getattr(chunk, "usage", None) is not None:
            u = chunk.usage
            self.usage = Usage(u.prompt_tokens or 0, u.completion_tokens or 0)
        text: str | None = None
        for choice in chunk.choices or ():
            if choice.index not in (0, None):
                continue
            delta = choice.delta
            if delta is not None:
                if delta.content:
                    text = delta.content
                    self.content.append(text)
                for frag in delta.tool_calls or ():
                    index = frag.index if frag.index is not None else len(self.calls)
                    call = self.calls.setdefault(index, _PartialCall())
                    if frag.id:
                        call.id = frag.id
                    fn = frag.function
                    if fn is not None:
                        if fn.name and not call.name:
                            call.name = fn.name
                        if fn.arguments:
                            call.arguments.append(fn.arguments)
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason
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
