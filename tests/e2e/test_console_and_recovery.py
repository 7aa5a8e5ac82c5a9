"""The console adapter as a real process, and recovery after a real crash (SIGKILL mid-run)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from core.inputs import EMPTY_REPLY
from core.messages import IncomingMessage
from storage.sqlite import SqliteStorage
from tests.fakes.openai_fake import FakeOpenAI, Reply
from tests.fakes.recording_port import RecordingPort
from tests.harness.core import start_harness
from tests.harness.processes import bot_env, spawn_console
from tests.harness.terminal import open_console

pytestmark = pytest.mark.process  # every test here runs `python -m bots`


@pytest.mark.parametrize("backend", ["chat", "assistants", "responses"])
async def test_console_non_interactive(
    openai_fake: FakeOpenAI, tmp_path: Path, backend: str
) -> None:
    openai_fake.model.add_rule("fence", Reply(text="```py\nx = 1\n```"))
    env = bot_env(openai_fake, tmp_path / "c.db", backend)
    proc = await spawn_console(env, tmp_path, "--conversation", "demo")
    stdin = "hello\nshow a fence\n/reset\nafter reset\n\n"
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 60)
    assert proc.returncode == 0, err.decode()
    assert out.decode() == (
        f"echo: hello\n\n```py\nx = 1\n```\n\necho: after reset\n\n{EMPTY_REPLY}\n\n"
    )
    assert "Started a new conversation." in err.decode()
    # after /reset the model no longer sees the earlier exchange
    assert [m["content"] for m in openai_fake.model.calls[-1] if m["role"] == "user"][-1:] == [
        "after reset"
    ]
    assert "hello" not in [m["content"] for m in openai_fake.model.calls[-1]]


async def test_console_pipe_framing_and_escape_sequences(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    """A reply with blank lines stays one reply to a script (blank lines inside it come out as
    a single space), and the model's terminal escape sequences never reach stdout."""
    trick = "para one\n\npara two\x1b]52;c;cm0gLXJmIH4=\x07\x1b]0;pwned\x07\x1b[2J end\n"
    openai_fake.model.add_rule("trick", Reply(text=trick))
    env = bot_env(openai_fake, tmp_path / "f.db", "chat")
    proc = await spawn_console(env, tmp_path)
    out, err = await asyncio.wait_for(proc.communicate(b"show the trick\nhello\n"), 60)
    assert proc.returncode == 0, err.decode()
    assert out.decode() == "para one\n \npara two end\n\necho: hello\n\n"


@pytest.mark.parametrize("backend", ["chat", "assistants"])
async def test_crash_mid_run_is_recovered_on_restart(
    openai_fake: FakeOpenAI, tmp_path: Path, backend: str
) -> None:
    db = tmp_path / "crash.db"
    gate = asyncio.Event()
    openai_fake.model.gate = gate
    proc = await spawn_console(bot_env(openai_fake, db, backend), tmp_path)
    assert proc.stdin is not None
    proc.stdin.write(b"before the crash\n")
    await proc.stdin.drain()
    path = "/chat/completions" if backend == "chat" else "/runs"
    await openai_fake.wait_for_requests(path, 1, timeout=30, method="POST")
    await openai_fake.model.wait_for_gate_waiters(1)
    proc.kill()
    await proc.wait()

    store = SqliteStorage(str(db))
    await store.open()
    active = await store.active_runs()
    await store.close()
    assert len(active) == 1, "the crashed run is still marked active"

    h = await start_harness(openai_fake, db, backend)  # recovery runs here
    gate.set()
    try:
        h.key = h.key.__class__("console", "local", "default")
        store = h.engine.storage
        assert await store.active_runs() == []  # type: ignore[attr-defined]
        if backend == "assistants":
            assert openai_fake.requests_to("/cancel", "POST"), "the server run was cancelled"
        # acting as the console adapter: answer the message the crash left unanswered
        resumed = RecordingPort()

        async def reopen(msg: IncomingMessage) -> RecordingPort:
            assert msg.reply_target == {"conversation": "default"}
            return resumed

        assert await h.engine.resume_interrupted("console", reopen) == 1
        assert await h.engine.resume_interrupted("console", reopen) == 0  # only once
        await h.engine.wait_idle()
        assert resumed.reply == "echo: before the crash"
        port = await h.ask("after the crash")
        assert port.reply == "echo: after the crash"
        users = [m["content"] for m in openai_fake.model.calls[-1] if m["role"] == "user"]
        assert users == ["before the crash", "after the crash"]  # not stored twice
    finally:
        await h.engine.close()


async def test_console_interactive_on_a_tty(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    """On a terminal the reply streams into place after a prompt; /reset works there too."""
    openai_fake.model.add_rule("story", Reply(text="once upon a time " * 20, chunk_size=5))
    async with await open_console(openai_fake, tmp_path) as term:
        at = await term.prompt()
        term.write(b"tell me a story\n")
        # the whole reply, then the next prompt
        at = await term.read_until(b"time once upon a time \r\n", start=at)
        at = await term.prompt(at)
        term.write(b"/reset\n")
        await term.read_until(b"Started a new conversation.", start=at)
    text = term.text
    assert "Threadbridge console" in text
    assert ("once upon a time " * 20).strip() in text.replace("\r\n", "\n")
