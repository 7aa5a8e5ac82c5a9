"""Threadbridge's console, in pipe mode, against a real llama.cpp server (llama-cpp-python).

Each check drives ``python -m bots console`` as a user's script would and then looks at two
things: what the user got (stdout) and what the server received and answered (the recording
proxy). A 135M model is weak, so memory and truncation are judged on the history the server
received, not on whether the model repeats a word.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.interop.console import console_env, run_console
from tests.interop.marker_tool import TOOL_NAME
from tests.interop.proxy import Exchange, RecordingProxy

WORD = "PELICAN"
TELL = f"Remember this code word: {WORD}. Reply with just OK."
ASK = "What was the code word I told you? Reply with the word only."
HELLO = "Say hello in one short sentence."


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def summary(proxy: RecordingProxy) -> str:
    lines = []
    for i, ex in enumerate(proxy.chats()):
        sent = ex.sent or {}
        lines.append(
            f"#{i} {ex.status} stream={ex.streamed} msgs={len(ex.messages())} "
            f"tools={len(sent.get('tools') or [])} tool_choice={sent.get('tool_choice')!r} "
            f"max_tokens={sent.get('max_tokens')} "
            f"max_completion_tokens={sent.get('max_completion_tokens')} "
            f"finish={ex.finish_reasons()} calls={ex.tool_calls()} {ex.notes} "
            f"text={ex.text()[:80]!r} body={ex.body[:200]!r}"
        )
    return "\n".join(lines)


def answered(ex: Exchange) -> bool:
    """The server answered this request with text and finished it."""
    return ex.status == 200 and bool(ex.text().strip()) and bool(ex.finish_reasons())


def last_user_text(ex: Exchange) -> str:
    users = [m for m in ex.messages() if m.get("role") == "user"]
    content = users[-1].get("content") if users else ""
    return content if isinstance(content, str) else str(content)


def for_line(proxy: RecordingProxy, line: str) -> list[Exchange]:
    """The chat requests made for the user message ``line`` (its tool rounds included)."""
    return [ex for ex in proxy.chats() if last_user_text(ex) == line]


def marker_text(marker: Path) -> str:
    return marker.read_text(encoding="utf-8").strip() if marker.exists() else ""


def shown(stdout: str, ex: Exchange) -> bool:
    """The reply text the server streamed reached the user's stdout."""
    head = norm(ex.text())[:24]
    return bool(head) and head in norm(stdout)


async def test_streamed_reply(proxy: RecordingProxy, db: Path, marker: Path) -> None:
    run = await run_console(console_env(proxy.base_url, db, marker), [HELLO])
    why = f"{run.describe()}\n{summary(proxy)}"
    assert run.returncode == 0, why
    chats = for_line(proxy, HELLO)
    assert chats, why
    ex = chats[-1]
    assert ex.streamed, why
    assert answered(ex), why
    assert len(ex.content_deltas()) >= 2, f"the text did not arrive in pieces\n{why}"
    assert shown(run.stdout, ex), why


async def test_memory_across_turns(proxy: RecordingProxy, db: Path, marker: Path) -> None:
    run = await run_console(console_env(proxy.base_url, db, marker), [TELL, ASK])
    why = f"{run.describe()}\n{summary(proxy)}"
    assert run.returncode == 0, why
    asked = for_line(proxy, ASK)
    assert asked, why
    history = asked[0].messages()
    assert WORD in asked[0].prompt_text(), f"turn 1 missing from turn 2's history\n{why}"
    assert [m["role"] for m in history].count("assistant") >= 1, why
    assert answered(asked[-1]), why
    assert shown(run.stdout, asked[-1]), why


async def test_memory_across_restart(proxy: RecordingProxy, db: Path, marker: Path) -> None:
    env = console_env(proxy.base_url, db, marker)
    first = await run_console(env, [TELL])
    second = await run_console(env, [ASK])
    why = f"{first.describe()}\n{second.describe()}\n{summary(proxy)}"
    assert first.returncode == 0 and second.returncode == 0, why
    asked = for_line(proxy, ASK)
    assert asked, why
    assert WORD in asked[0].prompt_text(), f"the restart lost the conversation\n{why}"
    assert answered(asked[-1]), why
    assert shown(second.stdout, asked[-1]), why


async def test_reset_starts_afresh(proxy: RecordingProxy, db: Path, marker: Path) -> None:
    run = await run_console(console_env(proxy.base_url, db, marker), [TELL, "/reset", ASK])
    why = f"{run.describe()}\n{summary(proxy)}"
    assert run.returncode == 0, why
    asked = for_line(proxy, ASK)
    assert asked, why
    assert WORD not in asked[0].prompt_text(), f"/reset kept the old history\n{why}"
    assert [m["role"] for m in asked[0].messages()].count("user") == 1, why
    assert answered(asked[-1]), why


async def test_tool_round_trip(proxy: RecordingProxy, db: Path, marker: Path) -> None:
    """The tool is forced (the proxy sets ``tool_choice`` for that one request): the server
    streams a real tool call, Threadbridge runs the tool, sends the result back, the server
    answers it, and the conversation goes on."""
    env = console_env(proxy.base_url, db, marker, TOOLS_MODULES="tests.interop.marker_tool")
    use = f"Use the {TOOL_NAME} tool to record a code word."
    after = "Thanks. Now say goodbye in one short sentence."
    proxy.force_tool = TOOL_NAME
    run = await run_console(env, [use, after])
    why = f"{run.describe()}\n{summary(proxy)}"
    assert run.returncode == 0, why
    rounds = for_line(proxy, use)
    assert rounds, why
    offered = [t.get("function", {}).get("name") for t in (rounds[0].sent.get("tools") or [])]
    assert TOOL_NAME in offered, why
    calls = rounds[0].tool_calls()
    assert rounds[0].status == 200 and [c.get("name") for c in calls] == [TOOL_NAME], why
    assert marker_text(marker), f"the tool did not run\n{why}"
    assert len(rounds) >= 2, f"no request carried the tool result\n{why}"
    result_msgs = [m for m in rounds[1].messages() if m.get("role") == "tool"]
    assert [m.get("tool_call_id") for m in result_msgs] == [calls[0].get("id")], why
    assert rounds[1].status == 200, f"the server refused the tool result\n{why}"
    assert answered(rounds[-1]), why
    later = for_line(proxy, after)
    assert later and answered(later[-1]), f"the conversation died after the tool call\n{why}"
    assert shown(run.stdout, later[-1]), why


async def test_tools_offered_with_explicit_tool_choice(
    proxy: RecordingProxy, db: Path, marker: Path
) -> None:
    """llama-cpp-python ignores tools when ``tool_choice`` is missing: it must be sent, and a
    plain message must still be answered with tools offered."""
    env = console_env(proxy.base_url, db, marker, TOOLS_MODULES="tests.interop.marker_tool")
    run = await run_console(env, [HELLO])
    why = f"{run.describe()}\n{summary(proxy)}"
    assert run.returncode == 0, why
    chats = for_line(proxy, HELLO)
    assert chats and chats[0].sent.get("tools"), why
    assert chats[0].sent.get("tool_choice") is not None, f"no tool_choice sent\n{why}"
    assert answered(chats[-1]) or chats[-1].tool_calls(), why
    assert run.stdout.strip(), why


async def test_overlong_message_then_normal(proxy: RecordingProxy, db: Path, marker: Path) -> None:
    """A message longer than the server's 2048-token window, then a normal one: the normal one
    is answered, and the huge one is not sent again (nor an empty assistant message)."""
    huge = " ".join(f"word{i}" for i in range(1800))
    env = console_env(proxy.base_url, db, marker, CONTEXT_WINDOW_TOKENS=None)
    run = await run_console(env, [huge, HELLO])
    why = f"{run.describe()}\n{summary(proxy)}"
    assert run.returncode == 0, why
    chats = for_line(proxy, HELLO)
    assert chats, why
    assert "word1000" not in chats[0].prompt_text(), f"the huge message was sent again\n{why}"
    empty = [
        m
        for m in chats[0].messages()
        if m.get("role") == "assistant" and not m.get("content") and not m.get("tool_calls")
    ]
    assert not empty, f"an empty assistant message was stored and sent\n{why}"
    assert answered(chats[-1]), why
    assert shown(run.stdout, chats[-1]), why


async def test_max_output_tokens_honoured(proxy: RecordingProxy, db: Path, marker: Path) -> None:
    # Unbounded, SmolLM2 at temperature 0 runs past 300 tokens on this prompt.
    count = "Write a long story about a dragon who learns to fly."
    env = console_env(proxy.base_url, db, marker, MAX_OUTPUT_TOKENS="16")
    run = await run_console(env, [count])
    why = f"{run.describe()}\n{summary(proxy)}"
    assert run.returncode == 0, why
    chats = for_line(proxy, count)
    assert chats, why
    ex = chats[-1]
    assert ex.status == 200, why
    assert ex.sent.get("max_tokens") == 16, f"max_tokens not sent (llama.cpp's name)\n{why}"
    assert len(ex.content_deltas()) <= 16, f"the reply ran past 16 tokens\n{why}"
    # cut at the bound, or (the small model sometimes calls a tool first) ended within it
    assert "length" in ex.finish_reasons() or "stop" in ex.finish_reasons(), why
    assert all(c.sent.get("max_tokens") == 16 for c in chats), why
    assert run.stdout.strip(), why
