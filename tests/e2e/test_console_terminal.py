"""The console on a real terminal (a pty, read through a terminal emulator), as a person
uses it: a multi-line paste is one message, a long line arrives whole, logs stay out of the
conversation, and the "thinking…" and tool status notes go once text comes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bots.console.port import THINKING
from tests.fakes.openai_fake import FakeOpenAI, Reply, ToolCallSpec
from tests.harness.terminal import PASTE_END, PASTE_START, open_console

pytestmark = pytest.mark.process


def last_user(fake: FakeOpenAI) -> str:
    return str([m for m in fake.model.calls[-1] if m["role"] == "user"][-1]["content"])


async def test_a_pasted_multi_line_message_is_one_message(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    pasted = "first line\nsecond line\n\nfourth line after a blank"
    async with await open_console(openai_fake, tmp_path) as term:
        at = await term.prompt()
        term.write(PASTE_START + pasted.replace("\n", "\r").encode() + PASTE_END)
        term.write(b"\r")
        at = await term.read_until(b"fourth line after a blank\r\n\r\n", start=at)
        await term.prompt(at)
    assert len(openai_fake.model.calls) == 1
    assert last_user(openai_fake) == pasted


async def test_esc_enter_adds_a_line_and_enter_sends(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    async with await open_console(openai_fake, tmp_path) as term:
        at = await term.prompt()
        term.write(b"one\x1b\rtwo\r")
        await term.read_until(b"echo: one\r\ntwo", start=at)
    assert [last_user(openai_fake)] == ["one\ntwo"]


async def test_a_line_longer_than_the_terminal_line_limit_arrives_whole(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    long = " ".join(f"{i:05d}" for i in range(1500))  # 8,999 bytes, past canonical 4,095
    openai_fake.model.add_rule("00000", Reply(text="got it"))
    async with await open_console(openai_fake, tmp_path) as term:
        at = await term.prompt()
        term.write(long.encode() + b"\r")
        await term.read_until(b"got it", start=at)
    assert last_user(openai_fake) == long


async def test_logs_stay_out_of_the_conversation(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    async with await open_console(openai_fake, tmp_path, LOG_LEVEL="INFO") as term:
        at = await term.prompt()
        term.write(b"hello\r")
        at = await term.read_until(b"echo: hello\r\n\r\n", start=at)
        await term.prompt(at)
        logs = tmp_path / "threadbridge-console.log"
        assert "threadbridge-console.log" in term.words  # the banner says where they go
    assert " INFO " not in term.text
    assert "turn console status=completed" in logs.read_text()


async def test_thinking_shows_until_the_first_text(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    gate = asyncio.Event()
    openai_fake.model.gate = gate
    async with await open_console(openai_fake, tmp_path) as term:
        at = await term.prompt()
        term.write(b"hello\r")
        await term.read_until(THINKING.encode(), start=at)
        await openai_fake.model.wait_for_gate_waiters(1, timeout=30)
        assert THINKING in term.words  # on screen while the model has said nothing
        gate.set()
        at = await term.read_until(b"echo: hello\r\n\r\n", start=at)
        await term.prompt(at)
        assert THINKING not in term.words
        assert "echo: hello" in term.display


async def test_tool_status_is_cleared_when_text_resumes(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    held = asyncio.Event()

    def shout_please(messages: list[dict[str, Any]]) -> bool:
        if any(m["role"] == "tool" for m in messages):
            openai_fake.model.gate = held  # the round after the tool waits for the test
        return "shout" in str(messages[-1]["content"]) or messages[-1]["role"] == "tool"

    openai_fake.model.add_rule(
        shout_please,
        Reply(
            text="Shouting now.",
            tool_calls=[ToolCallSpec("shout", '{"text": "hi"}')],
            then=Reply(text=lambda outs: f"It says {outs[0]}"),
        ),
    )
    status = "Running shout…"
    tools = {"TOOLS_MODULES": "tests.harness.sample_tools"}
    async with await open_console(openai_fake, tmp_path, **tools) as term:
        at = await term.prompt()
        term.write(b"shout please\r")
        await term.read_until(status.encode(), start=at)
        await openai_fake.model.wait_for_gate_waiters(1, timeout=30)
        # the text can reach the screen just after the status (its edit was throttled)
        await term.read_until(b"now.", start=at)
        assert "Shouting now." in term.display
        assert status in term.display  # its own row, under the text so far
        held.set()
        at = await term.read_until(b"(for console)\r\n\r\n", start=at)
        await term.prompt(at)
        assert status not in term.words
        shown = term.display
        start = shown.index("> shout please") + 1
        # the reply as the core composed it (a paragraph between the rounds), no status row
        assert shown[start : start + 5] == [
            "Shouting now.",
            "",
            "It says HI (for console)",
            "",
            ">",
        ]


async def test_a_log_file_that_cannot_be_written_is_one_line(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    bad = str(tmp_path / "no such folder" / "console.log")
    async with await open_console(openai_fake, tmp_path, CONSOLE_LOG_FILE=bad) as term:
        assert await term.wait_exit() == 2
    assert "Invalid setting CONSOLE_LOG_FILE: can't write to it" in term.text
    assert "Traceback" not in term.text


async def test_the_models_escape_sequences_never_reach_the_terminal(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    """A reply that would write the clipboard (OSC 52), set the title and clear the screen is
    shown as its text alone, while it streams and once it is done."""
    trick = "copied\x1b]52;c;cm0gLXJmIH4=\x07 titled\x1b]0;pwned\x07 cleared\x1b[2J\x9b2J done"
    openai_fake.model.add_rule("trick", Reply(text=trick, chunk_size=3))
    async with await open_console(openai_fake, tmp_path) as term:
        at = await term.prompt()
        term.write(b"show the trick\r")
        await term.read_until(b"copied titled cleared done", start=at)
    raw = bytes(term.screen)
    for bad in (b"]52;", b"pwned", b"\x1b[2J", "\x9b".encode()):
        assert bad not in raw
