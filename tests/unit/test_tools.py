"""The tool registry: schemas from hints and docstrings, and every failure as an error output."""

import asyncio
import json
import threading
from typing import Literal

import pytest

from core.events import ToolCall
from core.keys import ConversationKey
from core.tools.builtin import current_time, register_builtins
from core.tools.registry import (
    SIDE_EFFECTS_PER_TURN,
    ToolConflictError,
    ToolContext,
    ToolError,
    ToolRegistry,
    cap_output,
    parse_docstring,
)

KEY = ConversationKey("console", "w", "c")


def ctx(platform: str = "console") -> ToolContext:
    return ToolContext(platform=platform, user_id="U1", key=KEY, correlation_id="cid")


@pytest.fixture
def registry() -> ToolRegistry:
    reg = ToolRegistry(timeout=0.2, max_output_chars=300)

    @reg.tool
    def add(a: int, b: int = 2) -> int:
        """Add two numbers.

        Args:
            a: The first number.
            b: The second number.
        """
        return a + b

    @reg.tool(platforms={"slack"})
    async def whoami(context: ToolContext, unit: Literal["id", "name"] = "id") -> str:
        """Who asked."""
        return f"{context.platform}:{context.user_id}:{unit}"

    @reg.tool
    def boom() -> str:
        """Always fails."""
        raise RuntimeError("secret internals")

    @reg.tool
    def refuse() -> str:
        """Refuses politely."""
        raise ToolError("you may not do that")

    @reg.tool
    async def slow() -> str:
        """Never finishes in time."""
        await asyncio.Event().wait()
        return "never"

    @reg.tool
    def huge() -> str:
        """Returns far too much."""
        return "x" * 10_000

    return reg


def call(name: str, args: str) -> ToolCall:
    return ToolCall(id="call_1", name=name, arguments=args)


def test_schema_from_hints_and_docstring(registry: ToolRegistry) -> None:
    schema = registry.get("add").schema()  # type: ignore[union-attr]
    fn = schema["function"]
    assert schema["type"] == "function"
    assert fn["name"] == "add" and fn["description"] == "Add two numbers."
    params = fn["parameters"]
    assert params["required"] == ["a"]
    assert params["properties"]["a"] == {"type": "integer", "description": "The first number."}
    assert params["properties"]["b"]["default"] == 2


def test_context_param_is_hidden_and_platform_scoping(registry: ToolRegistry) -> None:
    names = {s["function"]["name"] for s in registry.schemas_for("slack")}
    assert "whoami" in names
    assert "whoami" not in {s["function"]["name"] for s in registry.schemas_for("discord")}
    props = registry.get("whoami", "slack").schema()["function"]["parameters"]["properties"]  # type: ignore[union-attr]
    assert set(props) == {"unit"}
    assert props["unit"]["enum"] == ["id", "name"]


async def test_valid_call(registry: ToolRegistry) -> None:
    assert await registry.invoke(call("add", '{"a": 1, "b": 5}'), ctx()) == "6"
    assert await registry.invoke(call("add", '{"a": "3"}'), ctx()) == "5"
    assert await registry.invoke(call("whoami", "{}"), ctx("slack")) == "slack:U1:id"


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("add", "{not json", "not valid JSON"),
        ("add", "[1, 2]", "must be a JSON object"),
        ("add", '{"b": 1}', "invalid arguments: a: Field required"),
        ("add", '{"a": "many"}', "invalid arguments: a:"),
        ("nope", "{}", "unknown tool 'nope'"),
        ("whoami", "{}", "unknown tool 'whoami'"),  # not registered for this platform
        ("boom", "{}", "tool 'boom' failed: RuntimeError"),
        ("refuse", "{}", "you may not do that"),
        ("slow", "{}", "timed out"),
    ],
)
async def test_failures_become_error_outputs(
    registry: ToolRegistry, name: str, args: str, expected: str
) -> None:
    out = await registry.invoke(call(name, args), ctx())
    assert expected in json.loads(out)["error"]
    assert "secret internals" not in out


async def test_output_is_capped(registry: ToolRegistry) -> None:
    out = await registry.invoke(call("huge", ""), ctx())
    assert len(out) <= 300 and "truncated" in out


async def test_invoke_all_keeps_order(registry: ToolRegistry) -> None:
    calls = [
        ToolCall("a", "add", '{"a": 1}'),
        ToolCall("b", "boom", "{}"),
        ToolCall("c", "add", '{"a": 9}'),
    ]
    outs = await registry.invoke_all(calls, ctx())
    assert [o.tool_call_id for o in outs] == ["a", "b", "c"]
    assert outs[0].output == "3" and outs[2].output == "11" and "error" in outs[1].output


def test_docstring_parsing() -> None:
    desc, args = parse_docstring(
        """Summary line.

        More detail.

        Args:
            x (int): first
                continued.
            y: second

        Returns:
            nothing
        """
    )
    assert desc == "Summary line.\n\nMore detail."
    assert args == {"x": "first continued.", "y": "second"}


def test_cap_output_keeps_short_text() -> None:
    assert cap_output("abc", 10) == "abc"


async def test_builtin_current_time() -> None:
    reg = ToolRegistry()
    register_builtins(reg)
    out = await reg.invoke(call("current_time", '{"timezone": "Europe/Oslo"}'), ctx())
    assert "CET" in out or "CEST" in out
    bad = await reg.invoke(call("current_time", '{"timezone": "Mars/Base"}'), ctx())
    assert "unknown time zone" in json.loads(bad)["error"]
    assert "UTC" in current_time()


def test_include_only_named_modules(registry: ToolRegistry) -> None:
    empty = ToolRegistry()
    empty.include(registry, modules=["some.other.module"])
    assert empty.specs_for("console") == []
    empty.include(registry, modules=[__name__.rsplit(".", 1)[0]])  # a parent package counts
    assert {s.name for s in empty.specs_for("console")} >= {"add", "boom"}


def test_platforms_may_share_a_tool_name_but_see_only_their_own() -> None:
    """Bug: Slack lost its add_reaction when Discord's registered second (one name, one slot)."""

    def slack_react(emoji: str) -> str:
        """React on Slack."""
        return f"slack {emoji}"

    def discord_react(emoji: str) -> str:
        """React on Discord."""
        return f"discord {emoji}"

    for order in (("slack", "discord"), ("discord", "slack")):
        reg = ToolRegistry()
        register_builtins(reg)
        funcs = {"slack": slack_react, "discord": discord_react}
        for platform in order:
            reg.add(funcs[platform], name="add_reaction", platforms={platform})
        for platform in order:
            described = {
                s["function"]["name"]: s["function"]["description"]
                for s in reg.schemas_for(platform)
            }
            assert described == {
                "current_time": described["current_time"],
                "add_reaction": f"React on {platform.capitalize()}.",
            }
            out = asyncio.run(
                reg.invoke(ToolCall("c", "add_reaction", '{"emoji": "x"}'), ctx(platform))
            )
            assert out == f"{platform} x"
        assert (
            json.loads(asyncio.run(reg.invoke(ToolCall("c", "add_reaction", "{}"), ctx())))["error"]
            == "unknown tool 'add_reaction'"
        )


def test_a_clash_names_both_tools_and_overrides_nothing() -> None:
    reg = ToolRegistry()
    register_builtins(reg)

    def current_time() -> str:
        """Mine."""
        return "mine"

    with pytest.raises(ToolConflictError) as shared:
        reg.add(current_time)
    with pytest.raises(ToolConflictError) as scoped:
        reg.add(current_time, platforms={"slack"})
    for err in (shared, scoped):
        assert "test_tools" in str(err.value) and "core.tools.builtin.current_time" in str(
            err.value
        )
    assert reg.get("current_time", "slack").func.__module__ == "core.tools.builtin"  # type: ignore[union-attr]
    reg.add(current_time, name="my_time", platforms={"slack"})
    with pytest.raises(ToolConflictError):
        reg.add(current_time, name="my_time")  # a shared tool would clash on Slack


async def test_integers_of_thousands_of_digits_are_an_error_output() -> None:
    reg = ToolRegistry()

    def add(a: int, b: int = 2) -> int:
        """Add."""
        return a + b

    reg.add(add)
    out = await reg.invoke(ToolCall("c", "add", '{"a": ' + "9" * 5000 + "}"), ctx())
    assert json.loads(out)["error"].startswith("arguments are not valid JSON")
    out = await reg.invoke(ToolCall("c", "add", '{"a": "' + "9" * 5000 + '"}'), ctx())
    assert json.loads(out)["error"].startswith("invalid arguments")


async def test_hung_sync_tools_never_starve_the_event_loops_executor() -> None:
    """A synchronous tool that hangs keeps its thread after the timeout; a few of them used
    to fill the loop's default executor and stall every DNS lookup of the process."""
    release = threading.Event()
    reg = ToolRegistry(timeout=0.05)

    def hang() -> str:
        """Never returns on its own."""
        release.wait(30)
        return "late"

    reg.add(hang)
    try:
        outs = await asyncio.gather(
            *(reg.invoke(ToolCall(f"c{i}", "hang", "{}"), ctx()) for i in range(12))
        )
        assert all("timed out" in json.loads(o)["error"] for o in outs)
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(5):
            assert await loop.getaddrinfo("127.0.0.1", 80)
            assert await asyncio.to_thread(lambda: "free") == "free"
    finally:
        release.set()


async def test_calls_past_the_rounds_limit_are_not_run() -> None:
    ran: list[int] = []
    reg = ToolRegistry(max_calls_per_round=3)

    def note(n: int) -> int:
        """Note a number."""
        ran.append(n)
        return n

    reg.add(note)
    calls = [ToolCall(f"c{i}", "note", json.dumps({"n": i})) for i in range(5)]
    outs = await reg.invoke_all(calls, ctx())
    assert [o.tool_call_id for o in outs] == [c.id for c in calls]
    assert [o.output for o in outs[:3]] == ["0", "1", "2"] and sorted(ran) == [0, 1, 2]
    for out in outs[3:]:
        assert "at most 3 tool calls per round" in json.loads(out.output)["error"]


def test_side_effects_per_turn_are_budgeted() -> None:
    c = ctx()
    for _ in range(SIDE_EFFECTS_PER_TURN):
        c.side_effect("a post")
    with pytest.raises(ToolError, match="at most"):
        c.side_effect("a post")
