"""Wiring: build the storage, backend, tool registry and engine from settings."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from openai import AsyncOpenAI

from core.backends.assistants import AssistantsBackend
from core.backends.base import Backend
from core.backends.chat import ChatBackend
from core.backends.responses import ResponsesBackend
from core.engine import Engine
from core.settings import Settings, SettingsProblem
from core.tools.builtin import register_builtins
from core.tools.registry import ToolConflictError, ToolRegistry, default_registry
from storage.sqlite import SqliteStorage


def check_model_settings(settings: Settings) -> None:
    """Raise SettingsProblem when the model server can't be reached as configured."""
    if not settings.openai_api_key and not settings.openai_base_url:
        raise SettingsProblem("OPENAI_API_KEY", "is required (or set OPENAI_BASE_URL)")


PlatformTools = Mapping[str, Sequence[Callable[..., Any]]]
"""Each platform adapter's own tools, by platform name."""


def build_registry(settings: Settings, platform_tools: PlatformTools | None = None) -> ToolRegistry:
    """Built-in tools, each platform's own tools (seen by that platform only), and every
    ``@tool`` from the modules named in TOOLS_MODULES. A user tool whose name another tool
    already has is a SettingsProblem naming both."""
    registry = ToolRegistry(
        timeout=settings.tool_timeout,
        max_output_chars=settings.tool_max_output_chars,
        max_calls_per_round=settings.max_tool_calls_per_round,
    )
    register_builtins(registry)
    for platform, funcs in (platform_tools or {}).items():
        registry.add_platform(platform, funcs)
    for module in settings.tools_module_list:
        try:
            importlib.import_module(module)
        except Exception as exc:
            raise SettingsProblem(
                "TOOLS_MODULES", f"cannot import {module!r}: {type(exc).__name__}: {exc}"
            ) from exc
    try:
        registry.include(default_registry, modules=settings.tools_module_list)
    except ToolConflictError as exc:
        raise SettingsProblem("TOOLS_MODULES", str(exc)) from exc
    return registry


def build_client(settings: Settings) -> AsyncOpenAI:
    return AsyncOpenAI(
        api_key=settings.openai_api_key or "not-needed",
        base_url=settings.openai_base_url,
        max_retries=settings.openai_max_retries,
        timeout=settings.openai_timeout,
    )


async def build_engine(
    settings: Settings,
    registry: ToolRegistry | None = None,
    platform_tools: PlatformTools | None = None,
) -> Engine:
    """A started engine: storage open and migrated, backend ready, crashed runs recovered.
    ``platform_tools`` are the adapters' tools (when no ``registry`` is given)."""
    check_model_settings(settings)
    registry = registry or build_registry(settings, platform_tools)
    storage = SqliteStorage(settings.sqlite_path)
    await storage.open()
    client = build_client(settings)
    backend: Backend
    if settings.assistant_backend == "assistants":
        backend = AssistantsBackend(client, storage, settings)
    elif settings.assistant_backend == "responses":
        backend = ResponsesBackend(client, storage, settings)
    else:
        backend = ChatBackend(client, storage, settings)
    engine = Engine(settings, storage, backend, registry)
    try:
        await engine.start()
    except BaseException:
        await client.close()
        await storage.close()
        raise
    return engine
