"""Accumulating a streamed Chat Completion: pure logic over chunk payloads (the JSON dicts of
``chat.completion.chunk`` events), no I/O. A non-streamed ``chat.completion`` is turned into
the same chunks (:func:`chunks_from_completion`), so one accumulator serves both.

Tool-call fragments are merged by ``index``: ``id`` and ``name`` come first, ``arguments``
come as pieces to concatenate. Parallel tool calls are separate indexes. Payloads are read
leniently: servers differ in which fields they send and which they leave null.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.events import ToolCall, Usage
from core.tokens import estimate_text


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

    def empty(self) -> bool:
        """No text (but whitespace) and no tool call."""
        return not self.calls and not self.text.strip()

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

    def estimated_completion_tokens(self) -> int:
        """Our estimate of the reply's tokens, for servers that report no usage."""
        calls = "".join(c.name + "".join(c.arguments) for c in self.calls.values())
        return estimate_text(self.text) + estimate_text(calls)


def chunks_from_completion(body: Any) -> list[dict[str, Any]]:
    """The chunk payloads a streamed reply would have had, from a non-streamed response."""
    if not isinstance(body, dict):
        return []
    chunks: list[dict[str, Any]] = []
    for choice in body.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        message = choice.get("message") or {}
        delta: dict[str, Any] = {"role": "assistant", "content": message.get("content")}
        calls = message.get("tool_calls")
        if calls:
            delta["tool_calls"] = [
                {**call, "index": call.get("index", i)}
                for i, call in enumerate(calls)
                if isinstance(call, dict)
            ]
        chunks.append(
            {
                "choices": [
                    {
                        "index": choice.get("index", 0),
                        "delta": delta,
                        "finish_reason": choice.get("finish_reason"),
                    }
                ]
            }
        )
    if body.get("usage"):
        chunks.append({"choices": [], "usage": body["usage"]})
    return chunks
