"""The console stops as gracefully as the platforms: on SIGTERM or Ctrl-C a reply already
streaming finishes within the shutdown grace, is shown whole, and the process then exits
(0 after SIGTERM, 130 after Ctrl-C/SIGINT) — even while its input is still open."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from tests.fakes.openai_fake import FakeOpenAI, Reply
from tests.harness.processes import bot_env, spawn_console
from tests.harness.terminal import open_console

pytestmark = pytest.mark.process

SLOW = "the whole of a slow reply " * 8
STOPS = [(signal.SIGTERM, 0), (signal.SIGINT, 130)]


@pytest.mark.parametrize(("sig", "code"), STOPS)
async def test_pipe_reply_in_flight_finishes_on_signal(
    openai_fake: FakeOpenAI, tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    gate = asyncio.Event()
    openai_fake.model.gate = gate
    openai_fake.model.add_rule("slow", Reply(text=SLOW, chunk_size=8, deltas_per_second=40))
    proc = await spawn_console(bot_env(openai_fake, tmp_path / "c.db", "chat"), tmp_path)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdin.write(b"slow please\n")
    await proc.stdin.drain()
    await openai_fake.model.wait_for_gate_waiters(1, timeout=30)  # the reply is streaming
    proc.send_signal(sig)
    gate.set()
    # stdin stays open: the stop must not wait for the end of input
    out, err = await asyncio.wait_for(asyncio.gather(proc.stdout.read(), proc.stderr.read()), 30)
    assert await asyncio.wait_for(proc.wait(), 30) == code, err.decode()
    assert out.decode() == SLOW + "\n\n", err.decode()
    assert "interrupted" not in err.decode()
    proc.stdin.close()


async def test_pipe_stops_at_once_while_waiting_for_input(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    proc = await spawn_console(bot_env(openai_fake, tmp_path / "c.db", "chat"), tmp_path)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(b"hello\n")
    await proc.stdin.drain()
    assert await asyncio.wait_for(proc.stdout.readline(), 30) == b"echo: hello\n"
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 30) == 0
    proc.stdin.close()


@pytest.mark.parametrize(("sig", "code"), STOPS)
async def test_tty_reply_in_flight_finishes_on_signal(
    openai_fake: FakeOpenAI, tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    openai_fake.model.add_rule("slow", Reply(text=SLOW, chunk_size=8, deltas_per_second=40))
    async with await open_console(openai_fake, tmp_path) as term:
        await term.prompt()
        term.write(b"slow please\r")
        await term.read_until(b"the whole of a slow")  # the reply is streaming
        term.proc.send_signal(sig)
        assert await term.wait_exit() == code
        assert SLOW.strip() in term.words
        assert "interrupted" not in term.text


async def test_tty_ctrl_c_at_an_empty_prompt_stops(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    async with await open_console(openai_fake, tmp_path) as term:
        at = await term.prompt()
        term.write(b"some half-typed words\x03")  # Ctrl-C with text clears the line
        term.write(b"hi\r")
        await term.read_until(b"echo: hi", start=at)
        at = await term.prompt(at)
        term.write(b"\x03")  # Ctrl-C on an empty line stops the console
        assert await term.wait_exit() == 130
    assert openai_fake.model.calls[-1][-1]["content"] == "hi"
