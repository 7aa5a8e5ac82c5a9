"""Benchmark: concurrent Discord conversations through the real adapter and discord.py
against the fake Discord (Discord-like per-channel and per-token rate limits, and the global
limit of 50 requests per second), with the fake OpenAI model streaming at 50 deltas per second.

Phase 1: N ``/ask`` in C channels at once (answers stream into interaction responses).
Phase 2: every user replies to their answer at once (answers are channel messages, so the
         conversations of one channel share Discord's per-channel post and edit buckets).

Prints per phase: latency from the first model delta to the first visible text (p50, p99),
edits per reply, the 429 count (by bucket), and the p99 visible lag (for every delta: when
Discord first showed it minus when the model emitted it; emission times are the model's pacing
schedule from its first delta, a lower bound, so the lag is an upper bound).

Targets: first visible text ≤ 50 ms after the first model delta (p50), and no 429s caused by
our pacing. Phase 1 can meet the latency target (interaction endpoints have no global limit).
Phase 2 can't, by Discord's rules: ten answers share each channel's 5-posts-per-5-s bucket,
and 100 first posts at once exceed the global 50 requests per second.

    python bench/discord_stream.py [--conversations 100] [--channels 10] [--chars 600]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bots.common.adapter import serve
from bots.discord.adapter import DiscordAdapter
from bots.discord.settings import DiscordSettings
from core.bootstrap import build_engine
from core.settings import Settings
from tests.fakes.discord_fake import (
    DISCORD_LIKE_LIMITS,
    FakeDiscord,
    FakeInteraction,
    LoggedRequest,
)
from tests.fakes.discord_fake.faults import RateLimitHit

ROOT = str(Path(__file__).resolve().parents[1])
RATE = 50.0
CHUNK = 4


@dataclass
class Stream:
    """One reply: when the model started it and when Discord showed how much of it."""

    model_start: float | None = None
    updates: list[tuple[float, int]] = field(default_factory=list)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1)]


def report(
    name: str, streams: list[Stream], reply: str, hits: list[RateLimitHit], elapsed: float
) -> None:
    first: list[float] = []
    lags: list[float] = []
    edits: list[int] = []
    deltas = math.ceil(len(reply) / CHUNK)
    for s in streams:
        assert s.model_start is not None and s.updates, "every reply streamed"
        ups = sorted(s.updates)
        first.append(next(t for t, n in ups if n > 0) - s.model_start)
        edits.append(len(ups) - 1)
        for k in range(deltas):
            need = min(len(reply), CHUNK * (k + 1))
            shown = next(t for t, n in ups if n >= need)
            lags.append(shown - (s.model_start + k / RATE))
        assert ups[-1][1] == len(reply), "the final text landed"
    print(f"{name}: {len(streams)} replies of {len(reply)} chars in {elapsed:.1f}s")
    print(
        f"  first visible text after first model delta: p50 {percentile(first, 50) * 1000:.0f} ms"
        f", p99 {percentile(first, 99) * 1000:.0f} ms"
    )
    print(
        f"  edits per reply (after the first text): mean {sum(edits) / len(edits):.1f}, "
        f"min {min(edits)}, max {max(edits)}"
    )
    buckets = Counter(h.bucket for h in hits)
    detail = f" ({', '.join(f'{b}: {n}' for b, n in sorted(buckets.items()))})" if hits else ""
    print(f"  429 responses: {len(hits)}{detail}")
    print(f"  visible lag: p50 {percentile(lags, 50):.2f} s, p99 {percentile(lags, 99):.2f} s")


MODEL_PROCESS = """
import asyncio, sys, time
sys.path.insert(0, sys.argv[1])
from tests.fakes.openai_fake import FakeOpenAI, Reply

async def main():
    async with FakeOpenAI() as fake:
        fake.model.deltas_per_second = float(sys.argv[2])
        seen = set()
        def stamp(messages):
            last = next(m["content"] for m in reversed(messages) if m["role"] == "user")
            if last not in seen:
                seen.add(last)
                print(f"STAMP {time.monotonic()!r} {last}", flush=True)
            return True
        fake.model.add_rule(stamp, Reply(text=sys.argv[3], chunk_size=int(sys.argv[4])))
        print(f"URL {fake.base_url}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

asyncio.run(main())
"""


class ModelProcess:
    """The fake OpenAI in its own process, so its pacing isn't slowed by the bot's work.
    It reports when each conversation's first delta goes out (CLOCK_MONOTONIC is system-wide).
    """

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.base_url = ""
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self, reply: str) -> None:
        root = ROOT
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            MODEL_PROCESS,
            root,
            str(RATE),
            reply,
            str(CHUNK),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self._proc.stdout is not None
        line = (await self._proc.stdout.readline()).decode()
        assert line.startswith("URL "), line
        self.base_url = line.split(" ", 1)[1].strip()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        async for raw in self._proc.stdout:
            _, at, prompt = raw.decode().rstrip("\n").split(" ", 2)
            self.started[prompt] = float(at)

    async def stop(self) -> None:
        if self._proc is not None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            await self._proc.wait()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)


async def run(conversations: int, channel_count: int, chars: int) -> None:
    reply = ("Streaming reply text " * (chars // 21 + 1))[:chars]
    model = ModelProcess()
    await model.start(reply)
    started = model.started
    try:
        async with FakeDiscord(limits=DISCORD_LIKE_LIMITS) as discord:
            channels = [discord.add_channel(f"bench-{i}") for i in range(channel_count)]
            users = [discord.add_member(f"user{i}") for i in range(conversations)]
            with tempfile.TemporaryDirectory() as tmp:
                values = {
                    "OPENAI_API_KEY": "bench",
                    "OPENAI_BASE_URL": model.base_url,
                    "ASSISTANT_MODEL": "fake-model",
                    "DATABASE_URL": f"sqlite:///{tmp}/bench.db",
                    "DISCORD_TOKEN": discord.token,
                    "DISCORD_API_BASE": discord.api_base,
                    "DISCORD_GATEWAY_URL": str(discord.gateway_url),
                    "DISCORD_GUILD_IDS": discord.guild["id"],
                    "LOG_LEVEL": "WARNING",
                }
                settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
                engine = await build_engine(
                    settings, platform_tools={"discord": DiscordAdapter.tools}
                )
                adapter = DiscordAdapter(
                    DiscordSettings(_env_file=None, **values),  # type: ignore[call-arg]
                    guild_ready_timeout=0.01,
                )
                task = asyncio.create_task(serve([adapter], engine, grace=0.0))
                try:
                    await discord.wait_for(
                        lambda: adapter.bot is not None and adapter.bot.is_ready(), 10
                    )
                    inters = await phase_one(discord, users, channels, reply, started)
                    await engine.wait_idle()
                    await phase_two(discord, inters, users, reply, started)
                finally:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
                    await engine.close()
    finally:
        await model.stop()


def _prompt(i: int) -> str:
    return f"question {i}"


async def phase_one(
    discord: FakeDiscord,
    users: list[dict[str, Any]],
    channels: list[dict[str, Any]],
    reply: str,
    started: dict[str, float],
) -> list[FakeInteraction]:
    by_token: dict[str, Stream] = defaultdict(Stream)

    def on_request(r: LoggedRequest) -> None:
        if r.method == "PATCH" and r.status == 200 and r.path.endswith("/messages/@original"):
            by_token[r.path.split("/")[3]].updates.append((r.at, len(r.body.get("content", ""))))

    discord.on_request = on_request
    hits_before = len(discord.rate_limited)
    t0 = time.monotonic()
    inters = await asyncio.gather(
        *(
            discord.slash("ask", {"prompt": _prompt(i)}, u["id"], channels[i % len(channels)]["id"])
            for i, u in enumerate(users)
        )
    )
    await discord.wait_for(
        lambda: all((m := discord.original(x)) and m["content"] == reply for x in inters), 120
    )
    elapsed = time.monotonic() - t0
    discord.on_request = None
    streams = []
    for i, inter in enumerate(inters):
        s = by_token[inter.token]
        s.model_start = started[_prompt(i)]
        streams.append(s)
    hits = discord.rate_limited[hits_before:]
    report("phase 1 (/ask, interaction responses)", streams, reply, hits, elapsed)
    return inters


async def phase_two(
    discord: FakeDiscord,
    inters: list[FakeInteraction],
    users: list[dict[str, Any]],
    reply: str,
    started: dict[str, float],
) -> None:
    streams: dict[str, Stream] = defaultdict(Stream)  # by the user's reply message id
    answer_of: dict[str, str] = {}  # bot message id -> user's reply id

    def on_request(r: LoggedRequest) -> None:
        if r.status != 200 or not isinstance(r.body, dict):
            return
        if r.method == "POST" and r.path.endswith("/messages"):
            ref = (r.body.get("message_reference") or {}).get("message_id")
            if ref is not None:
                streams[str(ref)].updates.append((r.at, len(r.body.get("content", ""))))
        elif r.method == "PATCH" and "/channels/" in r.path:
            mid = r.path.rsplit("/", 1)[1]
            if mid in answer_of:
                streams[answer_of[mid]].updates.append((r.at, len(r.body.get("content", ""))))

    def on_created(msg: dict[str, Any]) -> None:
        ref = (msg.get("message_reference") or {}).get("message_id")
        if ref is not None and msg["author"]["id"] == discord.bot["id"]:
            answer_of[msg["id"]] = ref

    discord.on_request = on_request
    hits_before = len(discord.rate_limited)
    t0 = time.monotonic()
    replies = await asyncio.gather(
        *(
            discord.user_says(x.channel_id, u["id"], f"follow-up {i}", reply_to=x.original_id)
            for i, (u, x) in enumerate(zip(users, inters, strict=True))
        )
    )

    def done() -> bool:
        for m in list(discord.world.messages.values()):
            if m["id"] not in answer_of:
                on_created(m)
        finished = {
            answer_of[m["id"]]
            for m in discord.world.messages.values()
            if m["id"] in answer_of and m["content"] == reply
        }
        return len(finished) == len(replies)

    await discord.wait_for(done, 180)
    elapsed = time.monotonic() - t0
    discord.on_request = None
    out = []
    for i, r in enumerate(replies):
        s = streams[r["id"]]
        s.model_start = started[f"follow-up {i}"]
        out.append(s)
    hits = discord.rate_limited[hits_before:]
    report("phase 2 (replies, channel messages)", out, reply, hits, elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--chars", type=int, default=600)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(run(args.conversations, args.channels, args.chars))


if __name__ == "__main__":
    main()
