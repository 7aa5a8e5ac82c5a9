"""The scriptable fake model, independent of any wire protocol.

Tests script replies with rules (match → :class:`Reply`); both the Chat Completions and the
Assistants handlers ask :meth:`ScriptedModel.complete` what to say, given the normalised
chat-style message list ``[{"role", "content", "tool_calls"?, "tool_call_id"?}]``.

The stage of a rule is derived statelessly from that list: the number of tool-result rounds
after the last user message. Stage 0 is the rule's reply, stage k its k-th ``then``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .wire import dumps, new_id

Messages = list[dict[str, Any]]
TextSource = str | Callable[[list[str]], str]


@dataclass(slots=True)
class ToolCallSpec:
    """A function call the model makes. ``arguments`` is raw text, possibly malformed on purpose."""

    name: str
    arguments: str
    id: str | None = None


@dataclass(slots=True)
class Reply:
    """What the model says at one stage. See the module docstring for how stages advance."""

    text: TextSource = ""
    chunks: list[str] | None = None
    chunk_size: int = 4
    tool_calls: list[ToolCallSpec] = field(default_factory=list)
    then: Reply | None = None
    finish_reason: str | None = None
    deltas_per_second: float | None = None
    usage: tuple[int, int] | None = None


Matcher = str | Callable[[Messages], bool]


@dataclass(slots=True)
class Rule:
    match: Matcher
    reply: Reply
    times: int | None = None
    used: int = 0

    def matches(self, messages: Messages, last_user: str) -> bool:
        if isinstance(self.match, str):
            return self.match in last_user
        return bool(self.match(messages))

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.used >= self.times


@dataclass(slots=True)
class PlannedToolCall:
    id: str
    name: str
    arguments: str
    argument_chunks: list[str]

    def as_chat(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass(slots=True)
class Completion:
    """One model turn, ready to be put on the wire by a protocol handler."""

    text: str
    chunks: list[str]
    tool_calls: list[PlannedToolCall]
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    deltas_per_second: float | None

    @property
    def delay(self) -> float:
        """Seconds between deltas (0 = unpaced)."""
        dps = self.deltas_per_second
        return 1.0 / dps if dps and dps > 0 else 0.0


@dataclass(slots=True)
class Position:
    """Where the conversation stands: last user text, tool rounds since, latest outputs."""

    last_user: str
    stage: int
    outputs: list[str]


def split_text(text: str, size: int) -> list[str]:
    size = max(1, size)
    return [text[i : i + size] for i in range(0, len(text), size)]


def split_arguments(arguments: str, size: int) -> list[str]:
    """Argument pieces: always at least two, so clients must really accumulate them."""
    if len(arguments) < 2:
        return [arguments, ""]
    size = max(1, min(size, math.ceil(len(arguments) / 2)))
    return split_text(arguments, size)


def estimate_tokens(messages: Messages) -> int:
    chars = 0
    for m in messages:
        chars += len(str(m.get("content") or "")) + 4
        if m.get("tool_calls"):
            chars += len(dumps(m["tool_calls"]))
    return max(1, chars // 4)


def position(messages: Messages) -> Position:
    last_user_idx = -1
    for i, m in enumerate(messages):
        if m.get("role") == "user":
            last_user_idx = i
    last_user = str(messages[last_user_idx].get("content") or "") if last_user_idx >= 0 else ""
    stage = 0
    outputs: list[str] = []
    tail = messages[last_user_idx + 1 :]
    for i, m in enumerate(tail):
        if m.get("role") == "assistant" and m.get("tool_calls"):
            stage += 1
            results = {
                r.get("tool_call_id"): str(r.get("content") or "")
                for r in tail[i + 1 :]
                if r.get("role") == "tool"
            }
            outputs = [results.get(c.get("id"), "") for c in m["tool_calls"]]
    return Position(last_user=last_user, stage=stage, outputs=outputs)


class ScriptedModel:
    """Rules, a default reply, pacing and a gate; records every input it was given."""

    def __init__(self) -> None:
        self.default: Reply | None = None  # None = echo the last user message
        self.deltas_per_second: float | None = None
        self.gate: asyncio.Event | None = None
        self.rules: list[Rule] = []
        self.calls: list[Messages] = []
        self.gate_waiters = 0  # streams currently held at the gate
        self._waiters_changed = asyncio.Condition()

    def add_rule(self, match: Matcher, reply: Reply, times: int | None = None) -> Rule:
        rule = Rule(match=match, reply=reply, times=times)
        self.rules.append(rule)
        return rule

    def clear_rules(self) -> None:
        self.rules.clear()

    async def wait_gate(self, *also: asyncio.Event) -> None:
        """Wait until the gate (if any) is set, or any of ``also`` is (e.g. a run's cancel)."""
        gate = self.gate
        if gate is None or gate.is_set():
            return
        waits = [asyncio.ensure_future(e.wait()) for e in (gate, *also)]
        await self._count_waiter(+1)
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
            await self._count_waiter(-1)

    async def _count_waiter(self, change: int) -> None:
        self.gate_waiters += change
        async with self._waiters_changed:
            self._waiters_changed.notify_all()

    async def wait_for_gate_waiters(
        self,
        n: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 (condition-wait helper)
    ) -> None:
        """Wait until ``n`` streams are held at the gate, i.e. really "during a run"."""
        async with asyncio.timeout(timeout), self._waiters_changed:
            await self._waiters_changed.wait_for(lambda: self.gate_waiters >= n)

    def complete(self, messages: Messages) -> Completion:
        self.calls.append([dict(m) for m in messages])
        pos = position(messages)
        reply = self._stage_reply(self._pick(messages, pos), pos)
        return self._plan(reply, pos, messages)

    def _pick(self, messages: Messages, pos: Position) -> Reply | None:
        matching = [r for r in self.rules if r.matches(messages, pos.last_user)]
        if pos.stage > 0:
            # A continuation belongs to the rule that answered stage 0, even if now exhausted.
            for rule in matching:
                if rule.used > 0:
                    return rule.reply
        for rule in matching:
            if not rule.exhausted:
                if pos.stage == 0:
                    rule.used += 1
                return rule.reply
        return self.default

    @staticmethod
    def _stage_reply(reply: Reply | None, pos: Position) -> Reply:
        if reply is None:
            reply = Reply(text=f"echo: {pos.last_user}") if pos.stage == 0 else None
        for _ in range(pos.stage):
            if reply is None:
                break
            reply = reply.then
        return reply if reply is not None else Reply(text="done")

    def _plan(self, reply: Reply, pos: Position, messages: Messages) -> Completion:
        if reply.chunks is not None:
            chunks = list(reply.chunks)
            text = "".join(chunks)
        else:
            text = reply.text(pos.outputs) if callable(reply.text) else reply.text
            chunks = split_text(text, reply.chunk_size)
        calls = [
            PlannedToolCall(
                id=spec.id or new_id("call"),
                name=spec.name,
                arguments=spec.arguments,
                argument_chunks=split_arguments(spec.arguments, reply.chunk_size),
            )
            for spec in reply.tool_calls
        ]
        finish = reply.finish_reason or ("tool_calls" if calls else "stop")
        if reply.usage is not None:
            prompt_tokens, completion_tokens = reply.usage
        else:
            prompt_tokens = estimate_tokens(messages)
            out_chars = len(text) + sum(len(c.name) + len(c.arguments) for c in calls)
            completion_tokens = max(1, out_chars // 4)
        dps = reply.deltas_per_second
        return Completion(
            text=text,
            chunks=chunks,
            tool_calls=calls,
            finish_reason=finish,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            deltas_per_second=dps if dps is not None else self.deltas_per_second,
        )
