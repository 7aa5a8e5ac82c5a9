"""The outputs handed to the model for tool calls that did not run normally, as JSON
``{"error": ...}`` strings: one spelling for every backend and for the chat context repair."""

from __future__ import annotations

import json


def tool_error(reason: str) -> str:
    """A tool output that tells the model the call failed, and why."""
    return json.dumps({"error": reason})


NO_OUTPUT = tool_error("no output")
"""A call the tool runner returned no output for."""

ROUND_LIMIT_OUTPUT = tool_error("tool round limit reached")
REPEATED_OUTPUT = tool_error(
    "not run again: this exact call was already made for this message; use its result "
    "above and answer the user"
)
"""Calls made after the last allowed tool round (or in a response cut short)."""

INTERRUPTED_OUTPUT = tool_error("interrupted")
"""Calls a failure, a stop or a crash left without an output."""

UNKNOWN_OUTCOME_OUTPUT = tool_error(
    "unknown outcome: the process stopped while this call ran; it may have taken effect "
    "— check before repeating it"
)
"""Calls a crash cut off while they ran (recorded as started, never finished): the action may
have happened, so the model must not simply repeat it."""


def cut_off_instructions(names: list[str]) -> str:
    """For a server that keeps the run (Assistants): what the model is told instead of a tool
    output when a crash cut these tools off."""
    shown = ", ".join(dict.fromkeys(names))
    return (
        f"The previous attempt to answer this message was cut off by a restart while the "
        f"tool(s) {shown} ran: the outcome is unknown and may have taken effect. Check before "
        "repeating any of them."
    )
