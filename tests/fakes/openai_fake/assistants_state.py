"""Assistants v2 state: assistants, threads, messages, runs and run steps, as wire-shaped dicts.

Objects are stored exactly as they are sent (complete, as the openai SDK types expect), so
tests can inspect ``fake.assistants_state`` directly. Lists are kept in creation order.
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from typing import Any

from .model import Messages
from .wire import ApiError, new_id, now, text_of

Obj = dict[str, Any]
ACTIVE = ("queued", "in_progress", "requires_action", "cancelling")
TERMINAL = ("completed", "failed", "cancelled", "expired", "incomplete")


@dataclass(slots=True)
class RunContext:
    """Internal bookkeeping of one run that is not part of the wire object."""

    rounds: list[tuple[list[Obj], dict[str, str]]] = field(default_factory=list)
    pending_calls: list[Obj] = field(default_factory=list)  # chat-format tool calls
    fault_status: str | None = None
    fault_message: str | None = None
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    step: Obj | None = None  # the step in progress (or awaiting tool outputs)
    message: Obj | None = None  # the assistant message in progress
    driving: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    step_usage: Obj | None = None


def snapshot(obj: Obj) -> Obj:
    return copy.deepcopy(obj)


def message_content(content: Any) -> list[Obj]:
    """Request ``content`` (string or parts) → stored message content blocks."""
    if isinstance(content, str):
        return [{"type": "text", "text": {"value": content, "annotations": []}}]
    blocks: list[Obj] = []
    for part in content or []:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text":
            blocks.append(
                {"type": "text", "text": {"value": part.get("text", ""), "annotations": []}}
            )
        else:
            blocks.append(dict(part))
    return blocks


def usage_of(prompt: int, completion: int) -> Obj:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


class AssistantsState:
    def __init__(self) -> None:
        self.assistants: dict[str, Obj] = {}
        self.threads: dict[str, Obj] = {}
        self.messages: dict[str, list[Obj]] = {}  # thread id → messages, oldest first
        self.runs: dict[str, Obj] = {}  # run id → run
        self.steps: dict[str, list[Obj]] = {}  # run id → steps, oldest first
        self.contexts: dict[str, RunContext] = {}  # run id → internal bookkeeping

    # --- lookups ---------------------------------------------------------------------------

    def assistant(self, assistant_id: str) -> Obj:
        if assistant_id not in self.assistants:
            raise ApiError(404, f"No assistant found with id '{assistant_id}'.")
        return self.assistants[assistant_id]

    def thread(self, thread_id: str) -> Obj:
        if thread_id not in self.threads:
            raise ApiError(404, f"No thread found with id '{thread_id}'.")
        return self.threads[thread_id]

    def run(self, thread_id: str, run_id: str) -> Obj:
        self.thread(thread_id)
        run = self.runs.get(run_id)
        if run is None or run["thread_id"] != thread_id:
            raise ApiError(404, f"No run found with id '{run_id}'.")
        return run

    def thread_runs(self, thread_id: str) -> list[Obj]:
        return [r for r in self.runs.values() if r["thread_id"] == thread_id]

    def active_run(self, thread_id: str) -> Obj | None:
        for run in self.thread_runs(thread_id):
            if run["status"] in ACTIVE:
                return run
        return None

    # --- creation --------------------------------------------------------------------------

    def create_assistant(self, body: Obj) -> Obj:
        assistant = {
            "id": new_id("asst"),
            "object": "assistant",
            "created_at": now(),
            "name": body.get("name"),
            "description": body.get("description"),
            "model": body.get("model") or "gpt-4o",
            "instructions": body.get("instructions"),
            "tools": body.get("tools") or [],
            "tool_resources": body.get("tool_resources") or {},
            "metadata": body.get("metadata") or {},
            "temperature": body.get("temperature", 1.0),
            "top_p": body.get("top_p", 1.0),
            "response_format": body.get("response_format", "auto"),
        }
        self.assistants[assistant["id"]] = assistant
        return assistant

    def create_thread(self, body: Obj) -> Obj:
        thread_id = new_id("thread")
        thread = {
            "id": thread_id,
            "object": "thread",
            "created_at": now(),
            "metadata": body.get("metadata") or {},
            "tool_resources": body.get("tool_resources") or {},
        }
        self.threads[thread_id] = thread
        self.messages[thread_id] = []
        for m in body.get("messages") or []:
            self.add_message(thread_id, m)
        return thread

    def add_message(
        self,
        thread_id: str,
        body: Obj,
        *,
        run_id: str | None = None,
        assistant_id: str | None = None,
        status: str = "completed",
    ) -> Obj:
        role = body.get("role")
        if role not in ("user", "assistant"):
            raise ApiError(
                400,
                f"Invalid value: '{role}'. Supported values are: 'user' and 'assistant'.",
                param="role",
                code="invalid_value",
            )
        t = now()
        message = {
            "id": new_id("msg"),
            "object": "thread.message",
            "created_at": t,
            "thread_id": thread_id,
            "role": role,
            "content": message_content(body.get("content")),
            "status": status,
            "assistant_id": assistant_id,
            "run_id": run_id,
            "attachments": body.get("attachments") or [],
            "metadata": body.get("metadata") or {},
            "completed_at": t if status == "completed" else None,
            "incomplete_at": None,
            "incomplete_details": None,
        }
        self.messages[thread_id].append(message)
        return message

    def create_run(self, thread_id: str, assistant: Obj, body: Obj) -> Obj:
        t = now()
        instructions = body.get("instructions")
        if instructions is None:
            instructions = assistant.get("instructions") or ""
        if body.get("additional_instructions"):
            instructions = f"{instructions}\n{body['additional_instructions']}".strip()
        run = {
            "id": new_id("run"),
            "object": "thread.run",
            "created_at": t,
            "assistant_id": assistant["id"],
            "thread_id": thread_id,
            "status": "queued",
            "started_at": None,
            "expires_at": t + 600,
            "cancelled_at": None,
            "failed_at": None,
            "completed_at": None,
            "required_action": None,
            "last_error": None,
            "model": body.get("model") or assistant["model"],
            "instructions": instructions,
            "tools": body.get("tools") or assistant["tools"],
            "metadata": body.get("metadata") or {},
            "incomplete_details": None,
            "usage": None,
            "temperature": body.get("temperature", assistant.get("temperature", 1.0)),
            "top_p": body.get("top_p", assistant.get("top_p", 1.0)),
            "max_prompt_tokens": body.get("max_prompt_tokens"),
            "max_completion_tokens": body.get("max_completion_tokens"),
            "truncation_strategy": body.get("truncation_strategy")
            or {"type": "auto", "last_messages": None},
            "response_format": body.get("response_format", "auto"),
            "tool_choice": body.get("tool_choice", "auto"),
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
        }
        self.runs[run["id"]] = run
        self.steps[run["id"]] = []
        self.contexts[run["id"]] = RunContext()
        return run

    def create_step(self, run: Obj, details: Obj) -> Obj:
        step = {
            "id": new_id("step"),
            "object": "thread.run.step",
            "created_at": now(),
            "assistant_id": run["assistant_id"],
            "thread_id": run["thread_id"],
            "run_id": run["id"],
            "type": details["type"],
            "status": "in_progress",
            "step_details": details,
            "last_error": None,
            "expired_at": None,
            "cancelled_at": None,
            "failed_at": None,
            "completed_at": None,
            "metadata": {},
            "usage": None,
        }
        self.steps[run["id"]].append(step)
        return step

    # --- what the model sees ---------------------------------------------------------------

    def model_input(self, run: Obj) -> Messages:
        """The chat-style history for the next model step of ``run``."""
        out: Messages = []
        if run.get("instructions"):
            out.append({"role": "system", "content": run["instructions"]})
        history = [m for m in self.messages[run["thread_id"]] if m["status"] != "in_progress"]
        strategy = run.get("truncation_strategy") or {}
        if strategy.get("type") == "last_messages" and strategy.get("last_messages"):
            history = history[-int(strategy["last_messages"]) :]
        out += [{"role": m["role"], "content": text_of(m["content"])} for m in history]
        for calls, outputs in self.contexts[run["id"]].rounds:
            out.append({"role": "assistant", "content": "", "tool_calls": calls})
            out += [
                {"role": "tool", "content": outputs.get(c["id"], ""), "tool_call_id": c["id"]}
                for c in calls
            ]
        return out
