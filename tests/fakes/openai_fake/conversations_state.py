"""Conversations state for the Responses fake: conversations, their items and responses.

Items are stored exactly as they go on the wire (``message``, ``function_call``,
``function_call_output``), oldest first, so tests can inspect ``fake.conversations_state``.
:func:`to_messages` turns an item list into the chat-style list the scripted model reads, and
:func:`check_tool_pairs` applies the real API's pairing rules between calls and outputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .model import Messages
from .wire import ApiError, new_id, now, text_of

Obj = dict[str, Any]
MAX_ITEMS_PER_CALL = 20
INPUT_ROLES = ("user", "system", "developer", "assistant")

NO_TOOL_OUTPUT = "No tool output found for function call {call_id}."
NO_TOOL_CALL = "No tool call found for function call output with call_id {call_id}."


def message_item(role: str, content: Any, *, status: str = "completed") -> Obj:
    """A stored message item; assistant text is ``output_text``, anything else ``input_text``."""
    kind = "output_text" if role == "assistant" else "input_text"
    parts: list[Obj] = []
    if isinstance(content, str):
        parts.append(_text_part(kind, content))
    else:
        for part in content or []:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(_text_part(kind, part["text"]))
            elif isinstance(part, dict):
                parts.append(dict(part))
    return {
        "type": "message",
        "id": new_id("msg"),
        "status": status,
        "role": role,
        "content": parts,
    }


def _text_part(kind: str, text: str) -> Obj:
    if kind == "output_text":
        return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    return {"type": "input_text", "text": text}


def normalise_input(raw: Any, param: str = "input") -> list[Obj]:
    """Request ``input`` (a string or a list of items) → stored items, validated like the API."""
    if raw is None:
        return []
    if isinstance(raw, str):
        return [message_item("user", raw)]
    if not isinstance(raw, list):
        raise ApiError(400, f"Invalid type for '{param}': expected a string or an array.")
    items: list[Obj] = []
    for i, entry in enumerate(raw):
        where = f"{param}[{i}]"
        if not isinstance(entry, dict):
            raise ApiError(400, f"Invalid type for '{where}': expected an object.", param=where)
        kind = entry.get("type", "message")
        if kind == "message":
            role = entry.get("role")
            if role not in INPUT_ROLES:
                raise ApiError(
                    400,
                    f"Invalid value: '{role}'. Supported values are: 'user', 'assistant', "
                    "'system', and 'developer'.",
                    param=f"{where}.role",
                    code="invalid_value",
                )
            items.append(message_item(role, entry.get("content")))
        elif kind == "function_call":
            for key in ("call_id", "name", "arguments"):
                _require(entry, key, where)
            items.append(
                {
                    "type": "function_call",
                    "id": entry.get("id") or new_id("fc"),
                    "call_id": entry["call_id"],
                    "name": entry["name"],
                    "arguments": entry["arguments"],
                    "status": "completed",
                }
            )
        elif kind == "function_call_output":
            _require(entry, "call_id", where)
            _require(entry, "output", where)
            output = entry["output"]
            items.append(
                {
                    "type": "function_call_output",
                    "id": new_id("fco"),
                    "call_id": entry["call_id"],
                    "output": output if isinstance(output, str) else text_of(output),
                    "status": "completed",
                }
            )
        else:
            raise ApiError(
                400, f"Invalid value: '{kind}'.", param=f"{where}.type", code="invalid_value"
            )
    return items


def _require(entry: Obj, key: str, where: str) -> None:
    if entry.get(key) is None:
        raise ApiError(
            400,
            f"Missing required parameter: '{where}.{key}'.",
            param=f"{where}.{key}",
            code="missing_required_parameter",
        )


def check_tool_pairs(items: list[Obj]) -> None:
    """Every output answers an earlier call; every call has an output (real 400 texts)."""
    calls: set[str] = set()
    answered: set[str] = set()
    for item in items:
        if item["type"] == "function_call":
            calls.add(item["call_id"])
        elif item["type"] == "function_call_output":
            if item["call_id"] not in calls:
                raise ApiError(400, NO_TOOL_CALL.format(call_id=item["call_id"]), param="input")
            answered.add(item["call_id"])
    for item in items:
        if item["type"] == "function_call" and item["call_id"] not in answered:
            raise ApiError(400, NO_TOOL_OUTPUT.format(call_id=item["call_id"]), param="input")


def to_messages(items: list[Obj], instructions: str | None) -> Messages:
    """Items → chat-style messages for the scripted model (calls in a row form one message)."""
    out: Messages = []
    if instructions:
        out.append({"role": "system", "content": instructions})
    for item in items:
        kind = item["type"]
        if kind == "message":
            out.append({"role": item["role"], "content": text_of(item["content"])})
        elif kind == "function_call":
            call = {
                "id": item["call_id"],
                "type": "function",
                "function": {"name": item["name"], "arguments": item["arguments"]},
            }
            last = out[-1] if out else None
            if last is not None and last["role"] == "assistant" and last.get("tool_calls"):
                last["tool_calls"].append(call)
            else:
                out.append({"role": "assistant", "content": "", "tool_calls": [call]})
        elif kind == "function_call_output":
            out.append({"role": "tool", "tool_call_id": item["call_id"], "content": item["output"]})
    return out


@dataclass(slots=True)
class ConversationsState:
    conversations: dict[str, Obj] = field(default_factory=dict)
    items: dict[str, list[Obj]] = field(default_factory=dict)  # conversation id → items
    responses: dict[str, Obj] = field(default_factory=dict)  # response id → response

    def create(self, body: Obj) -> Obj:
        items = normalise_input(body.get("items"), "items")
        if len(items) > MAX_ITEMS_PER_CALL:
            raise ApiError(
                400,
                f"Invalid 'items': array too long. Expected an array with maximum length "
                f"{MAX_ITEMS_PER_CALL}, but got an array with length {len(items)} instead.",
                param="items",
                code="array_above_max_length",
            )
        conv_id = new_id("conv")
        conv: Obj = {
            "id": conv_id,
            "object": "conversation",
            "created_at": now(),
            "metadata": body.get("metadata") or {},
        }
        self.conversations[conv_id] = conv
        self.items[conv_id] = items
        return conv

    def get(self, conversation_id: str) -> Obj:
        if conversation_id not in self.conversations:
            raise ApiError(404, f"Conversation with id '{conversation_id}' not found.")
        return self.conversations[conversation_id]

    def add_items(self, conversation_id: str, raw: Any) -> list[Obj]:
        self.get(conversation_id)
        if not isinstance(raw, list) or not raw:
            raise ApiError(
                400,
                "Missing required parameter: 'items'.",
                param="items",
                code="missing_required_parameter",
            )
        items = normalise_input(raw, "items")
        if len(items) > MAX_ITEMS_PER_CALL:
            raise ApiError(
                400,
                f"Invalid 'items': array too long. Expected an array with maximum length "
                f"{MAX_ITEMS_PER_CALL}, but got an array with length {len(items)} instead.",
                param="items",
                code="array_above_max_length",
            )
        stored = self.items[conversation_id]
        calls = {i["call_id"] for i in stored + items if i["type"] == "function_call"}
        for item in items:
            if item["type"] == "function_call_output" and item["call_id"] not in calls:
                raise ApiError(400, NO_TOOL_CALL.format(call_id=item["call_id"]), param="items")
        stored.extend(items)
        return items

    def response(self, response_id: str) -> Obj:
        if response_id not in self.responses:
            raise ApiError(404, f"Response with id '{response_id}' not found.")
        return self.responses[response_id]
