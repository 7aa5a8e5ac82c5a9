"""Fault-matrix rows on real processes (bench/faults.py): ``python -m bots slack`` in Socket
Mode against the fake Slack and the fake OpenAI, signalled while replies are streaming or a
tool is running, then started again on the same database.

After the restart the bench waits until every message has an answer or an error, then stops
the second process with SIGTERM (its grace lets running replies finish) so nothing can be
posted after the count. A crash legitimately asks the model again, so two model calls per
message are allowed in the SIGKILL rows; two visible answers are not.

Rows: SIGTERM mid-stream, SIGKILL mid-stream, SIGKILL mid-tool.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from pathlib import Path

from faults_common import Row, user_calls

from tests.fakes.openai_fake import FakeOpenAI, Reply, ToolCallSpec
from tests.fakes.slack_fake import FakeSlack, UserPost
from tests.harness.processes import ROOT, spawn_slack
from tests.harness.slack import MENTION
from tests.waiting import wait_until

N = 4
SETTLE = 25.0


def long_answer(i: int) -> str:
    return f"answer {i}: " + "word " * 30


class Bot:
    """The bot process, started again on the same database after a signal."""

    def __init__(self, tmp: Path, openai: FakeOpenAI, slack: FakeSlack, **extra: str):
        self.tmp, self.openai, self.slack, self.extra = tmp, openai, slack, extra
        self.proc: asyncio.subprocess.Process | None = None
        self.stderr = b""

    async def start(self) -> None:
        self.proc = await spawn_slack(self.tmp, self.openai, self.slack, ["slack"], **self.extra)
        await self.slack.socket.wait_connected(within=30)

    async def stop(self, sig: signal.Signals) -> int | None:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        async with asyncio.timeout(30):
            _, err = await self.proc.communicate()
        self.stderr += err
        await self.slack.wait_for(lambda: not self.slack.socket.connections, within=10)
        return self.proc.returncode


def replies(slack: FakeSlack, post: UserPost) -> list[str]:
    return [m.text for m in slack.ws.bot_messages("C1", post.ts)]


async def settle(
    slack: FakeSlack, posts: dict[str, UserPost], answers: dict[str, str], row: Row
) -> None:
    def done() -> bool:
        return all(
            any(answers[t] in r or "(ref " in r for r in replies(slack, p))
            for t, p in posts.items()
        )

    try:
        await slack.wait_for(done, within=SETTLE)
    except TimeoutError:
        row.note(f"not every message had an outcome {SETTLE:g}s after the restart")


def count(
    row: Row,
    openai: FakeOpenAI,
    slack: FakeSlack,
    posts: dict[str, UserPost],
    answers: dict[str, str],
    calls_allowed: int,
) -> None:
    for text, post in posts.items():
        row.count(
            replies(slack, post),
            answers[text],
            model_calls=user_calls(openai.model.calls, text),
            calls_allowed=calls_allowed,
            label=text,
        )
    partial = [
        m
        for p in posts.values()
        for m in slack.ws.bot_messages("C1", p.ts)
        if m.stream_state == "streaming"
    ]
    if partial:
        row.note(f"{len(partial)} replies left mid-stream (never stopped)")
    stubs = sum(1 for t, p in posts.items() for r in replies(slack, p) if answers[t] not in r and r)
    if stubs:
        row.note(f"{stubs} partial replies from before the signal still visible")
    in_history = 0
    for text in posts:
        asked = [c for c in openai.model.calls if c and text in str(c[-1].get("content"))]
        if asked and any(m.get("role") == "assistant" for m in asked[-1]):
            in_history += 1
    if in_history:
        row.note(f"the model's last call for {in_history} messages had an earlier answer in it")


async def mid_stream(tmp: Path, sig: signal.Signals) -> Row:
    name = "SIGTERM mid-stream" if sig == signal.SIGTERM else "SIGKILL mid-stream"
    row = Row(name)
    async with FakeOpenAI() as openai, FakeSlack() as slack:
        slack.ws.add_user("U1", "ada")
        slack.ws.add_channel("C1", "general", ["U1"])
        bot = Bot(tmp, openai, slack)
        await bot.start()
        posts, answers = {}, {}
        for i in range(N):
            text = f"{sig.name} stream {i}"
            answers[text] = long_answer(i).strip()
            openai.model.add_rule(
                text, Reply(text=long_answer(i), chunk_size=5, deltas_per_second=10)
            )
            posts[text] = await slack.say("U1", "C1", f"{MENTION} {text}")

        # every reply has shown some of its text, none has finished
        def shown() -> bool:
            return all(any(len(r) >= 15 for r in replies(slack, p)) for p in posts.values())

        await slack.wait_for(shown, SETTLE)
        code = await bot.stop(sig)
        row.note(f"exit {code}")
        await bot.start()
        await settle(slack, posts, answers, row)
        await bot.stop(signal.SIGTERM)
        count(row, openai, slack, posts, answers, 1 if sig == signal.SIGTERM else 2)
        if b"Traceback" in bot.stderr:
            row.note("traceback on stderr")
    return row


async def sigterm_mid_stream(tmp: Path) -> Row:
    return await mid_stream(tmp, signal.SIGTERM)


async def sigkill_mid_stream(tmp: Path) -> Row:
    return await mid_stream(tmp, signal.SIGKILL)


async def sigkill_mid_tool(tmp: Path) -> Row:
    row = Row("SIGKILL mid-tool")
    log, hold = tmp / "tool.log", tmp / "tool.hold"
    hold.touch()
    async with FakeOpenAI() as openai, FakeSlack() as slack:
        slack.ws.add_user("U1", "ada")
        slack.ws.add_channel("C1", "general", ["U1"])
        bot = Bot(
            tmp,
            openai,
            slack,
            TOOLS_MODULES="fault_tools",
            PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'bench'}",
            FAULT_TOOL_LOG=str(log),
            FAULT_TOOL_HOLD=str(hold),
        )
        await bot.start()
        posts, answers = {}, {}
        for i in range(N):
            text = f"note {i}"
            answers[text] = "the tool said"
            call = ToolCallSpec("record_note", json.dumps({"text": text}))
            then = Reply(text=lambda outs: f"the tool said {outs[0][:80]}")
            openai.model.add_rule(text, Reply(tool_calls=[call], then=then))
            posts[text] = await slack.say("U1", "C1", f"{MENTION} {text}")

        def starts() -> list[str]:
            with contextlib.suppress(FileNotFoundError):
                return [ln[6:] for ln in log.read_text().splitlines() if ln.startswith("start ")]
            return []

        await wait_until(lambda: len(starts()) >= N, SETTLE)  # every tool is running
        await bot.stop(signal.SIGKILL)
        hold.unlink()
        await bot.start()
        await settle(slack, posts, answers, row)
        await bot.stop(signal.SIGTERM)
        count(row, openai, slack, posts, answers, 2)
        again = sorted({t for t in starts() if starts().count(t) > 1})
        row.note(f"tool ran {len(starts())} times for {N} messages")
        if again:
            row.note(f"side effect repeated after the restart for {len(again)} messages")
        finals = [replies(slack, p)[-1][:70] for p in posts.values() if replies(slack, p)]
        if finals:
            row.note(f"e.g. {finals[0]!r}")
    return row


ROWS = [sigterm_mid_stream, sigkill_mid_stream, sigkill_mid_tool]
