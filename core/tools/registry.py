"""The tool registry: ``@tool`` derives a JSON schema from type hints and the docstring,
and ``invoke`` runs a model-requested call safely.

Model-supplied arguments are untrusted: they are parsed and validated with pydantic, and every
failure (bad JSON, schema violation, unknown tool, exception, timeout) becomes an error *output*
the model sees. Outputs are capped in size.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, get_type_hints

from pydantic import BaseModel, ValidationError, create_model
from pydantic import Field as PydanticField

from core.events import ToolCall, ToolOutput
from core.keys import ConversationKey

log = logging.getLogger(__name__)

SIDE_EFFECTS_PER_TURN = 3
"""Posts, threads and uploads tools may make for one user message."""
DEFAULT_CALLS_PER_ROUND = 8
SYNC_TOOL_THREADS = 8
"""Threads for synchronous tools; calls beyond this wait their turn (within their timeout)."""
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_OUTPUT_CHARS = 16_000
_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@dataclass(slots=True)
class ToolContext:
    """What a tool handler knows about the request it serves."""

    platform: str
    user_id: str
    key: ConversationKey
    handle: Any = None
    """A platform handle (e.g. a Slack web client or a Discord client) set by the adapter."""
    message_ref: Any = None
    """The triggering platform message, for tools such as add_reaction."""
    correlation_id: str = ""
    side_effects: int = 0
    """Posts, threads and the like that tools made for this turn so far."""

    def side_effect(self, what: str) -> None:
        """Count one post (or thread, upload…) a tool is about to make for this turn; a tool
        calls it before acting. Past :data:`SIDE_EFFECTS_PER_TURN` it refuses (ToolError):
        one user message (or one injected prompt) can't make the bot flood a workspace."""
        if self.side_effects >= SIDE_EFFECTS_PER_TURN:
            raise ToolError(
                f"not done: at most {SIDE_EFFECTS_PER_TURN} posts or threads per message "
                f"({what} refused)"
            )
        self.side_effects += 1


@dataclass(slots=True)
class ToolSpec:
    name: str
    description: str
    params: type[BaseModel]
    func: Callable[..., Any]
    wants_context: bool
    platforms: frozenset[str] | None = None
    timeout: float | None = None

    def schema(self) -> dict[str, Any]:
        """The Chat Completions / Assistants function-tool schema."""
        params = self.params.model_json_schema()
        params.pop("title", None)
        for prop in params.get("properties", {}).values():
            if isinstance(prop, dict):
                prop.pop("title", None)
        params.setdefault("properties", {})
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": params},
        }


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into a description and per-argument descriptions."""
    if not doc:
        return "", {}
    summary: list[str] = []
    args: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    for line in inspect.cleandoc(doc).splitlines():
        stripped = line.strip()
        if re.match(r"^[A-Z][A-Za-z ]*:$", line):  # a section header such as "Args:"
            section = "args" if stripped.lower() in _ARG_HEADERS else "other"
            continue
        if section is None:
            summary.append(line)
        elif section == "args":
            m = re.match(r"^\s{1,8}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$", line)
            if m and len(line) - len(line.lstrip()) <= 4:
                current = m.group(1)
                args[current] = m.group(2).strip()
            elif current and stripped:
                args[current] = (args[current] + " " + stripped).strip()
    return "\n".join(summary).strip(), args


_ARG_HEADERS = ("args:", "arguments:", "parameters:")


def _build_spec(
    func: Callable[..., Any],
    name: str | None,
    description: str | None,
    platforms: Iterable[str] | None,
    timeout: float | None,
) -> ToolSpec:
    tool_name = name or func.__name__
    if not _NAME_RE.match(tool_name):
        raise ValueError(f"invalid tool name {tool_name!r}")
    hints = get_type_hints(func)
    doc_desc, arg_docs = parse_docstring(func.__doc__)
    fields: dict[str, Any] = {}
    wants_context = False
    for pname, param in inspect.signature(func).parameters.items():
        hint = hints.get(pname, Any)
        if hint is ToolContext:
            wants_context = True
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"tool {tool_name}: *args/**kwargs are not supported")
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[pname] = (hint, PydanticField(default, description=arg_docs.get(pname)))
    model = create_model(f"{tool_name}_args", **fields)
    return ToolSpec(
        name=tool_name,
        description=description or doc_desc or tool_name,
        params=model,
        func=func,
        wants_context=wants_context,
        platforms=frozenset(platforms) if platforms is not None else None,
        timeout=timeout,
    )


def cap_output(text: str, limit: int) -> str:
    """Cap a tool output at ``limit`` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    note = f"\n…[truncated: {len(text) - limit} more characters]"
    return text[: max(0, limit - len(note))] + note


def _error(message: str) -> str:
    return json.dumps({"error": message}, ensure_ascii=False)


class ToolConflictError(ValueError):
    """Two tools want one name where a model would see both."""


def origin(spec: ToolSpec) -> str:
    """Where a tool is defined, for error messages: ``module.function``."""
    func = spec.func
    return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', spec.name)}"


class ToolRegistry:
    """Holds tools and shows each platform its own list: the tools for every platform plus
    the ones registered for it. Names are unique within what one platform sees; two
    platforms may each have a tool of the same name. A clash raises :class:`ToolConflictError`
    naming both tools, never a silent override."""

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
        max_calls_per_round: int = DEFAULT_CALLS_PER_ROUND,
    ) -> None:
        self.max_calls_per_round = max_calls_per_round
        self._shared: dict[str, ToolSpec] = {}
        """Tools every platform sees."""
        self._platform: dict[str, dict[str, ToolSpec]] = {}
        """Tools only one platform sees, per platform."""
        self.timeout = timeout
        self.max_output_chars = max_output_chars
        self._threads = ThreadPoolExecutor(SYNC_TOOL_THREADS, thread_name_prefix="tool")
        """Synchronous tools run here, never in the event loop's default executor: a tool
        that hangs past its timeout keeps its thread (threads can't be killed) and must not
        starve DNS lookups and other ``to_thread`` work of the whole process."""

    def add(
        self,
        func: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        platforms: Iterable[str] | None = None,
        timeout: float | None = None,
    ) -> ToolSpec:
        spec = _build_spec(func, name, description, platforms, timeout)
        self._put(spec)
        return spec

    def add_platform(self, platform: str, funcs: Iterable[Callable[..., Any]]) -> None:
        """Register a platform adapter's tools, seen by that platform only."""
        for func in funcs:
            self.add(func, platforms={platform})

    def _clash(self, spec: ToolSpec) -> ToolSpec | None:
        if spec.platforms is None:
            found = self._shared.get(spec.name)
            return found or next(
                (t[spec.name] for t in self._platform.values() if spec.name in t), None
            )
        for platform in spec.platforms:
            found = self._shared.get(spec.name) or self._platform.get(platform, {}).get(spec.name)
            if found is not None:
                return found
        return None

    def _put(self, spec: ToolSpec) -> None:
        existing = self._clash(spec)
        if existing is not None and existing is not spec:
            raise ToolConflictError(
                f"tool {spec.name!r} of {origin(spec)} collides with {origin(existing)}"
            )
        if spec.platforms is None:
            self._shared[spec.name] = spec
        for platform in spec.platforms or ():
            self._platform.setdefault(platform, {})[spec.name] = spec

    def tool(
        self,
        func: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        platforms: Iterable[str] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Decorator: ``@registry.tool`` or ``@registry.tool(platforms={"slack"})``."""

        def register(f: Callable[..., Any]) -> Callable[..., Any]:
            self.add(f, name=name, description=description, platforms=platforms, timeout=timeout)
            return f

        return register(func) if func is not None else register

    def specs(self) -> list[ToolSpec]:
        """Every tool once."""
        found = {id(s): s for s in self._shared.values()}
        for tools in self._platform.values():
            found.update({id(s): s for s in tools.values()})
        return list(found.values())

    def include(self, other: ToolRegistry, modules: Iterable[str] | None = None) -> None:
        """Add the tools of ``other``; with ``modules``, only those defined in these modules
        (or their submodules). A name clash raises :class:`ToolConflictError`."""
        prefixes = tuple(modules) if modules is not None else None
        for spec in other.specs():
            where = getattr(spec.func, "__module__", "") or ""
            if prefixes is None or any(where == m or where.startswith(m + ".") for m in prefixes):
                self._put(spec)

    def get(self, name: str, platform: str | None = None) -> ToolSpec | None:
        """The tool ``name`` as ``platform`` sees it (None: the tools for every platform)."""
        found = self._shared.get(name)
        if found is None and platform is not None:
            found = self._platform.get(platform, {}).get(name)
        return found

    def specs_for(self, platform: str) -> list[ToolSpec]:
        return [*self._shared.values(), *self._platform.get(platform, {}).values()]

    def schemas_for(self, platform: str) -> list[dict[str, Any]]:
        return [s.schema() for s in self.specs_for(platform)]

    async def invoke(self, call: ToolCall, ctx: ToolContext) -> str:
        """Run one call. Never raises: every failure is an error output for the model."""
        spec = self.get(call.name, ctx.platform)
        if spec is None:
            return _error(f"unknown tool {call.name!r}")
        try:
            raw = json.loads(call.arguments) if call.arguments.strip() else {}
        except (ValueError, RecursionError) as exc:  # incl. integers of thousands of digits
            return _error(f"arguments are not valid JSON: {str(exc)[:200]}")
        if not isinstance(raw, dict):
            return _error("arguments must be a JSON object")
        try:
            args = spec.params.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
                for e in exc.errors()
            )
            return _error(f"invalid arguments: {problems[:1000]}")
        except (ValueError, RecursionError) as exc:
            return _error(f"invalid arguments: {type(exc).__name__}")
        kwargs = {name: getattr(args, name) for name in type(args).model_fields}
        if spec.wants_context:
            ctx_name = next(n for n, h in get_type_hints(spec.func).items() if h is ToolContext)
            kwargs[ctx_name] = ctx
        timeout = spec.timeout if spec.timeout is not None else self.timeout
        try:
            async with asyncio.timeout(timeout):
                if inspect.iscoroutinefunction(spec.func):
                    result = await spec.func(**kwargs)
                else:
                    result = await asyncio.get_running_loop().run_in_executor(
                        self._threads, functools.partial(spec.func, **kwargs)
                    )
        except TimeoutError:
            log.warning("tool %s timed out after %ss [%s]", call.name, timeout, ctx.correlation_id)
            return _error(f"tool {call.name!r} timed out after {timeout:g}s")
        except ToolError as exc:
            return _error(str(exc))
        except Exception as exc:
            log.exception("tool %s raised [%s]", call.name, ctx.correlation_id)
            return _error(f"tool {call.name!r} failed: {type(exc).__name__}")
        return cap_output(_to_text(result), self.max_output_chars)

    async def invoke_all(self, calls: list[ToolCall], ctx: ToolContext) -> list[ToolOutput]:
        """Run calls concurrently; outputs come back in the order of the calls. Calls past
        ``max_calls_per_round`` are not run: their output says so."""
        run, skipped = calls[: self.max_calls_per_round], calls[self.max_calls_per_round :]
        results = await asyncio.gather(*(self.invoke(c, ctx) for c in run))
        too_many = _error(
            f"not run: at most {self.max_calls_per_round} tool calls per round; "
            "call the rest in a later round if still needed"
        )
        if skipped:
            log.warning(
                "%d tool calls over the round's limit [%s]", len(skipped), ctx.correlation_id
            )
        return [
            *(ToolOutput(c.id, r) for c, r in zip(run, results, strict=True)),
            *(ToolOutput(c.id, too_many) for c in skipped),
        ]


class ToolError(Exception):
    """Raise from a tool to send the model a plain error message (e.g. permission refused)."""


def _to_text(result: Any) -> str:
    if result is None:
        return "ok"
    if isinstance(result, str):
        return result
    if isinstance(result, BaseModel):
        return result.model_dump_json()
    try:
        return json.dumps(result, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(result)


default_registry = ToolRegistry()
tool = default_registry.tool
"""Register a tool in the default registry: ``@tool`` or ``@tool(platforms={"slack"})``."""
