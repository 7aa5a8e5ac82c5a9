"""Fault-matrix rows on the core alone (bench/faults.py): the real engine on SQLite talking
to the fake OpenAI over HTTP, replying through recording ports; one port per message.

Rows: model 429, 500 burst, stall, mid-stream disconnect, failed/expired run, tool
exception, tool timeout, hung sync tool.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from faults_common import Row, user_calls

from core.keys import ConversationKey
from core.tools.registry import ToolRegistry
from tests.fakes.openai_fake import FakeOpenAI, Fault, Reply, ToolCallSpec
from tests.fakes.recording_port import RecordingPort
from tests.harness.core import Harness, start_harness

MODEL_PATH = {"chat": "/chat/completions", "responses": "/responses", "assistants": "/runs"}
SETTLE = 20.0


def long_answer(i: int) -> str:
    return f"answer {i}: " + "word " * 40


async def harness(
    fake: FakeOpenAI, tmp: Path, backend: str, registry: ToolRegistry | None = None, **extra: Any
) -> Harness:
    return await start_harness(fake, tmp / f"{backend}.db", backend, registry, **extra)


async def send(h: Harness, i: int, text: str) -> RecordingPort:
    """Each message in a conversation of its own, so one message's fate is one port."""
    return await h.send(text, key=ConversationKey("console", "w", f"c{i}"))


async def settle(h: Harness) -> None:
    async with asyncio.timeout(SETTLE):
        await h.engine.wait_idle()


def count(
    row: Row, fake: FakeOpenAI, ports: dict[str, RecordingPort], answers: dict[str, str]
) -> None:
    for text, port in ports.items():
        row.count(
            port.messages,
            answers[text],
            model_calls=user_calls(fake.model.calls, text),
            label=text,
        )


async def model_429(tmp: Path) -> Row:
    row = Row("model 429")
    async with FakeOpenAI() as fake:
        h = await harness(fake, tmp, "chat")
        try:
            ports, answers = {}, {}
            for i in range(6):
                text = f"rate limited {i}"
                # every first attempt (and every other message's second) is refused
                times = 2 if i % 2 else 1
                fake.inject(Fault.status(429, retry_after_ms=20), MODEL_PATH["chat"], times, "POST")
                ports[text] = await send(h, i, text)
                answers[text] = f"echo: {text}"
                await settle(h)
            count(row, fake, ports, answers)
            row.note(f"{len(fake.requests_to(MODEL_PATH['chat'], 'POST'))} requests for 6")
        finally:
            await h.engine.close()
    return row


async def burst_500(tmp: Path) -> Row:
    row = Row("500 burst")
    async with FakeOpenAI() as fake:
        h = await harness(fake, tmp, "chat")  # OPENAI_MAX_RETRIES=2: 3 attempts
        try:
            ports, answers = {}, {}
            fake.inject(Fault.status(500), MODEL_PATH["chat"], 9, "POST")  # 3 messages' worth
            for i in range(6):
                text = f"burst {i}"
                ports[text] = await send(h, i, text)
                answers[text] = f"echo: {text}"
                await settle(h)
            count(row, fake, ports, answers)
            row.note("first 3 exhaust retries (expected clear errors)")
        finally:
            await h.engine.close()
    return row


async def stall(tmp: Path) -> Row:
    row = Row("stall")
    async with FakeOpenAI() as fake:
        h = await harness(fake, tmp, "chat", OPENAI_TIMEOUT=1.0)
        try:
            ports, answers = {}, {}
            for i in range(6):
                text = f"stall {i}"
                fake.model.add_rule(text, Reply(text=long_answer(i)))
                if i < 3:
                    fake.inject(Fault.stall_after(4, 30.0), MODEL_PATH["chat"], 1, "POST")
                ports[text] = await send(h, i, text)
                answers[text] = long_answer(i)
            await settle(h)
            count(row, fake, ports, answers)
            row.note("3 streams go silent after 4 events; OPENAI_TIMEOUT=1s")
        finally:
            await h.engine.close()
    return row


async def disconnect(tmp: Path) -> Row:
    row = Row("mid-stream disconnect")
    async with FakeOpenAI() as fake:
        h = await harness(fake, tmp, "chat")
        try:
            ports, answers = {}, {}
            for i in range(6):
                text = f"disconnect {i}"
                fake.model.add_rule(text, Reply(text=long_answer(i)))
                if i < 3:
                    fake.inject(Fault.disconnect_after(8), MODEL_PATH["chat"], 1, "POST")
                ports[text] = await send(h, i, text)
                answers[text] = long_answer(i)
                await settle(h)
            count(row, fake, ports, answers)
            row.note("3 streams cut after 8 events")
        finally:
            await h.engine.close()
    return row


async def failed_run(tmp: Path) -> Row:
    row = Row("failed/expired run")
    for backend in ("assistants", "responses"):
        async with FakeOpenAI() as fake:
            h = await harness(fake, tmp, backend)
            try:
                ports, answers = {}, {}
                for i, status in enumerate(("failed", "expired", None, "failed", None)):
                    text = f"{backend} run {i}"
                    if status is not None:
                        fake.inject(Fault.run_status(status), MODEL_PATH[backend], 1, "POST")
                    ports[text] = await send(h, i, text)
                    answers[text] = f"echo: {text}"
                    await settle(h)
                count(row, fake, ports, answers)
            finally:
                await h.engine.close()
    row.note("assistants+responses; 3 of 5 runs each end failed/expired")
    return row


def tool_rule(fake: FakeOpenAI, text: str, tool: str) -> str:
    fake.model.add_rule(
        text,
        Reply(
            tool_calls=[ToolCallSpec(tool, "{}")],
            then=Reply(text=lambda outs: f"the tool said {outs[0][:60]}"),
        ),
    )
    return "the tool said"


async def tool_exception(tmp: Path) -> Row:
    reg = ToolRegistry(timeout=2)

    @reg.tool
    def explode() -> str:
        """Always raises."""
        raise ValueError("kaput")

    return await tool_row(tmp, "tool exception", reg, "explode", 6)


async def tool_timeout(tmp: Path) -> Row:
    reg = ToolRegistry(timeout=0.3)
    stop = asyncio.Event()

    @reg.tool
    async def slow() -> str:
        """Never finishes in time."""
        await stop.wait()
        return "late"

    try:
        return await tool_row(tmp, "tool timeout", reg, "slow", 6)
    finally:
        stop.set()


async def hung_sync_tool(tmp: Path) -> Row:
    """More hung synchronous tools than the tool threads, all at once, plus plain messages
    that need new HTTP connections (DNS lookups in the loop's default executor)."""
    reg = ToolRegistry(timeout=0.3)
    release = threading.Event()

    @reg.tool
    def hang() -> str:
        """Blocks its thread."""
        release.wait(60)
        return "late"

    try:
        return await tool_row(tmp, "hung sync tool", reg, "hang", 10, plain=4)
    finally:
        release.set()


async def tool_row(
    tmp: Path, name: str, reg: ToolRegistry, tool: str, n: int, plain: int = 0
) -> Row:
    row = Row(name)
    async with FakeOpenAI() as fake:
        h = await harness(fake, tmp, "chat", reg)
        try:
            ports, answers = {}, {}
            for i in range(n):
                text = f"{name} {i}"
                answers[text] = tool_rule(fake, text, tool)
                ports[text] = await send(h, i, text)
            for i in range(n, n + plain):
                text = f"plain {i}"
                answers[text] = f"echo: {text}"
                ports[text] = await send(h, i, text)
            await settle(h)
            count(row, fake, ports, answers)
            if plain:
                row.note(f"{n} hung at once, {plain} plain messages alongside")
        finally:
            await h.engine.close()
    return row


ROWS = [
    model_429,
    burst_500,
    stall,
    disconnect,
    failed_run,
    tool_exception,
    tool_timeout,
    hung_sync_tool,
]
