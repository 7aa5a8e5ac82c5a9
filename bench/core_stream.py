"""Benchmark: N concurrent conversations through the run engine and the streaming renderer.

A fake in-process model streams 200 deltas per reply at 20 deltas/s into the real Engine (with
real SQLite storage), which renders through a recording port with a 1-second edit interval.

Prints: added latency from the first model delta to the first port call (p50, p99), visible lag
behind the model (p99), port calls per reply, and CPU µs per delta.

    python bench/core_stream.py [--conversations 1000] [--deltas 200] [--rate 20]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import random
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.backends.base import RunRequest, new_id
from core.engine import Engine
from core.events import Finished, RunEvent, TextDelta, Usage
from core.keys import ConversationKey
from core.messages import IncomingMessage
from core.port import BasePort
from core.settings import Settings
from core.tools.registry import ToolRegistry
from storage.records import RunRecord
from storage.sqlite import SqliteStorage


class Ticker:
    """One loop timer for every conversation: ``await tick(slot)`` resumes at that slot.

    A real model's deltas arrive as socket reads; this keeps the fake model's own cost per
    delta to one future wake-up, so the figures show the engine's cost, not the fake's.
    """

    def __init__(self, resolution: float) -> None:
        self.resolution = resolution
        self.slot = 0
        self.waiting: dict[int, asyncio.Future[None]] = {}
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        while True:
            self.slot += 1
            await asyncio.sleep(max(0.0, start + self.slot * self.resolution - loop.time()))
            fut = self.waiting.pop(self.slot, None)
            if fut is not None:
                fut.set_result(None)

    async def tick(self, slot: int) -> None:
        if slot <= self.slot:
            return
        fut = self.waiting.get(slot)
        if fut is None:
            fut = self.waiting[slot] = asyncio.get_running_loop().create_future()
        await fut


class PacedModel:
    """A backend whose model streams ``deltas`` pieces at ``rate`` per second."""

    name = "bench"

    def __init__(self, ticker: Ticker, deltas: int, rate: float, start_spread: float):
        self.ticker = ticker
        self.deltas = deltas
        self.step = max(1, round(1.0 / rate / ticker.resolution))
        self.start_spread = start_spread
        self.emitted: dict[str, list[tuple[float, int]]] = {}  # conversation -> (time, length)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def new_thread(self) -> str:
        return new_id("thread")

    async def recover(self, run: RunRecord) -> bool:
        return False

    async def run(self, request: RunRequest) -> AsyncIterator[RunEvent]:
        slot = (
            self.ticker.slot
            + 1
            + int(random.uniform(0, self.start_spread) / self.ticker.resolution)
        )
        await self.ticker.tick(slot)
        log = self.emitted.setdefault(request.conversation, [])
        parts: list[str] = []
        length = 0
        for i in range(self.deltas):
            piece = f"word{i % 10} "
            parts.append(piece)
            length += len(piece)
            log.append((time.monotonic(), length))
            yield TextDelta(piece, parts, len(parts))
            slot += self.step
            await self.ticker.tick(slot)
        yield Finished("completed", Usage(10, self.deltas))


class BenchPort(BasePort):
    max_length = 4000
    edit_interval = 1.0

    def __init__(self) -> None:
        self.calls: list[tuple[float, int]] = []  # (time, visible length)
        self.offset = 0  # length of earlier, finished messages

    async def post(self, text: str) -> Any:
        self.calls.append((time.monotonic(), self.offset + len(text)))
        return len(self.calls)

    async def edit(self, handle: Any, text: str) -> None:
        self.calls.append((time.monotonic(), self.offset + len(text)))

    async def finish(self, handle: Any, text: str, changed: bool) -> None:
        self.calls.append((time.monotonic(), self.offset + len(text)))


async def model_only_cpu(args: argparse.Namespace) -> float:
    """CPU the fake model costs on its own: the same streams, consumed by a bare loop."""
    ticker = Ticker(0.01)
    ticker.start()
    model = PacedModel(ticker, args.deltas, args.rate, args.spread)

    async def consume(i: int) -> None:
        request = RunRequest(thread_id="t", conversation=f"c{i}", user_text="go", user_id="u")
        async for _event in model.run(request):
            pass

    cpu0 = time.process_time()
    await asyncio.gather(*(consume(i) for i in range(args.conversations)))
    cpu = time.process_time() - cpu0
    if ticker.task:
        ticker.task.cancel()
    return cpu


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(  # every conversation streams at once: no run cap here
            _env_file=None,  # type: ignore[call-arg]
            DATABASE_URL=f"sqlite:///{tmp}/b.db",
            MAX_CONCURRENT_RUNS=max(1, args.conversations),
        )
        storage = SqliteStorage(settings.sqlite_path)
        await storage.open()
        baseline_cpu = await model_only_cpu(args)
        ticker = Ticker(0.01)
        ticker.start()
        model = PacedModel(ticker, args.deltas, args.rate, args.spread)
        engine = Engine(settings, storage, model, ToolRegistry())  # type: ignore[arg-type]
        await engine.start()
        ports: dict[str, BenchPort] = {}
        cpu0, wall0 = time.process_time(), time.monotonic()
        for i in range(args.conversations):
            key = ConversationKey("bench", "w", f"c{i}")
            ports[key.as_str()] = port = BenchPort()
            await engine.submit(IncomingMessage(key, "go", user_id="u"), port)
        await engine.wait_idle()
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        await engine.close()
        if ticker.task:
            ticker.task.cancel()

    first_latency: list[float] = []
    lags: list[float] = []
    calls_per_reply: list[int] = []
    for conv, port in ports.items():
        emitted = model.emitted[conv]
        calls_per_reply.append(len(port.calls))
        first_latency.append((port.calls[0][0] - emitted[0][0]) * 1000)
        times = [t for t, _ in port.calls]
        lengths = [n for _, n in port.calls]
        running_max = []
        best = 0
        for n in lengths:
            best = max(best, n)
            running_max.append(best)
        for t_emit, length in emitted:
            i = bisect.bisect_left(running_max, length)
            lags.append((times[i] - t_emit) * 1000 if i < len(times) else float("inf"))
    total_deltas = args.conversations * args.deltas
    print(f"conversations={args.conversations} deltas/reply={args.deltas} rate={args.rate}/s")
    print(f"wall={wall:.1f}s cpu={cpu:.1f}s")
    print(
        f"added latency first delta -> first port call: p50={pct(first_latency, 50):.2f} ms "
        f"p99={pct(first_latency, 99):.2f} ms"
    )
    print(f"visible lag behind the model: p50={pct(lags, 50):.0f} ms p99={pct(lags, 99):.0f} ms")
    print(
        f"port calls per reply: mean={sum(calls_per_reply) / len(calls_per_reply):.1f} "
        f"max={max(calls_per_reply)}"
    )
    print(
        f"CPU per delta: {(cpu - baseline_cpu) / total_deltas * 1e6:.1f} µs engine+renderer+port "
        f"({cpu / total_deltas * 1e6:.1f} µs with the fake model, which alone costs "
        f"{baseline_cpu / total_deltas * 1e6:.1f} µs)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--deltas", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--spread", type=float, default=1.0, help="start times spread (s)")
    asyncio.run(main(parser.parse_args()))
