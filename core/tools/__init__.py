"""Function-calling tools: the registry, the ``@tool`` decorator and the built-in tools."""

from core.tools.registry import (
    ToolContext,
    ToolError,
    ToolRegistry,
    ToolSpec,
    default_registry,
    tool,
)

__all__ = ["ToolContext", "ToolError", "ToolRegistry", "ToolSpec", "default_registry", "tool"]
