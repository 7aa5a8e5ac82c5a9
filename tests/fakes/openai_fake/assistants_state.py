"""Assistants v2 state: assistants, threads, messages, runs and run steps (plain dicts)."""

from __future__ import annotations

from typing import Any


class AssistantsState:
    def __init__(self) -> None:
        self.assistants: dict[str, dict[str, Any]] = {}
        self.threads: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.runs: dict[str, dict[str, Any]] = {}
        self.steps: dict[str, list[dict[str, Any]]] = {}
