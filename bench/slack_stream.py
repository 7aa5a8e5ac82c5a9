"""Benchmark: N concurrent Slack conversations through the real Bolt app and web client
against the fake Slack, with the fake OpenAI model streaming at 50 deltas per second.

Each conversation is a channel mention (a new thread); the conversations are spread
round-robin over ``--channels`` channels (10 by default, like the Discord benchmark; ``1``
puts them all in one channel). The real engine (SQLite), the real
Slack adapter (Socket Mode by default, or signed HTTP) and the real slack_sdk client talk to
the fakes over 127.0.0.1. The fake Slack enforces Slack's documented tiers workspace-wide
(chat.update Tier 3, chat.startStream / stopStream Tier 2, chat.appendStream Tier 4; see
``SLACK_TIERS``) and chat.postMessage's limit of about one per second per channel (see
``SLACK_CHANNEL_LIMITS``), so any 429 would come from our own pacing; ``--speedup``
multiplies those rates (the adapter's budgets are multiplied alike) to see how the figures
scale.

Under the real limits 100 simultaneous replies cannot all stream, nor all be posted at once:
the adapter streams as many as its stream-start budget allows and posts the rest as each
channel's post budget allows (a reply that waited for its turn is posted with all the text it
has by then), and every write beyond that waits for the workspace budgets, which is what the
first-visible and lag figures show. With every conversation in one channel (``--channels 1``)
the channel's post budget of about one a second dominates (first text after about a minute
at the median); spread over 10 channels, replies are posted ten at a time and the
workspace-wide limits (stream starts, chat.update) dominate the lag instead.

The fake model runs in its own process (as a real model server would), so its 50 deltas/s
schedule is kept however busy the bot's process gets. It reports, per reply, the wall-clock
time it started streaming; delta i is due at start + i/rate, and a delta sent late only makes
our measured lag larger, so lags are upper bounds.

Prints, per reply: latency from the first model delta to the first visible text, Slack API
calls, 429s and the p99 visible lag (how long text the model has sent takes to become
visible in Slack); then a summary.

    python bench/slack_stream.py [--conversations 100] [--channels 10] [--deltas 100]
                                 [--rate 50]
                                 [--mode socket|http] [--fallback] [--quiet]
                                 [--speedup 1] [--model-in-process]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bots.common.adapter import start_adapter
from bots.slack.adapter import SlackAdapter
from bots.slack.limits import (
    CHANNEL_POSTS,
    HISTORY_READS,
    STREAM_APPENDS,
    STREAM_STARTS,
    STREAM_STOPS,
    UPDATES,
)
from bots.slack.pacing import SlackPacing
from bots.slack.settings import SlackSettings
from core.bootstrap import build_engine
from core.settings import Settings
from tests.fakes.openai_fake import FakeOpenAI, Reply
from tests.fakes.slack_fake import APP_TOKEN, BOT_TOKEN, BOT_USER_ID, ApiRequest, FakeSlack
from tests.harness.observer import Recorder as Observed

SECRET = "bench-signing-secret"
CHUNK = 8


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


class Recorder:
    """Times of model starts and of what became visible in Slack, per conversation."""

    def __init__(self, slack: FakeSlack) -> None:
        self.slack = slack
        self.model_start: dict[str, float] = {}
        """Per conversation index: when the model planned (and began streaming) its reply."""
        self.index_of: dict[str, str] = {}
        """Thread ts → conversation index."""
        self.channel_of: dict[str, str] = {}
        """Thread ts → its channel."""
        self.visible: dict[str, list[tuple[float, int]]] = defaultdict(list)
        self.calls: dict[str, int] = defaultdict(int)
        self.limited: dict[str, int] = defaultdict(int)
        self.deferred: dict[str, int] = {}
        """Writes each of our workspace budgets postponed or refused, by method."""
        slack.on_request = self.on_request

    def thread_of(self, rec: ApiRequest) -> str | None:
        channel = str(rec.args.get("channel") or rec.args.get("channel_id") or "")
        if rec.args.get("thread_ts"):
            return str(rec.args["thread_ts"])
        ts = rec.args.get("ts") or rec.response.get("ts")
        msg = self.slack.ws.message(channel, str(ts)) if ts else None
        return msg.thread_ts if msg is not None else None

    def on_request(self, rec: ApiRequest) -> None:
        thread = self.thread_of(rec)
        if thread is None:
            return
        self.calls[thread] += 1
        if rec.status == 429:
            self.limited[thread] += 1
        if rec.ok and rec.method.startswith("chat."):
            channel = str(rec.args.get("channel"))
            shown = sum(len(m.text) for m in self.slack.ws.bot_messages(channel, thread))
            self.visible[thread].append((time.time(), shown))


def reply_text(i: int, deltas: int) -> str:
    text = f"Reply {i}: " + "".join(f"tok{j:04d} " for j in range(deltas))
    return text[: deltas * CHUNK]


def mention_body(i: int) -> str:
    return f"bench conv-{i:04d}"


def channel_of(i: int, channels: int) -> str:
    """Conversation ``i``'s channel: round-robin over ``channels`` channels."""
    return f"C{i % channels + 1}"


def script_model(
    openai: FakeOpenAI, args: argparse.Namespace, on_start: Callable[[str, float], None]
) -> None:
    """One rule per conversation; ``on_start(index, wall_time)`` when its stream begins."""
    for i in range(args.conversations):

        def plan(_outputs: list[str], index: str = str(i)) -> str:
            on_start(index, time.time())
            return reply_text(int(index), args.deltas)

        openai.model.add_rule(
            mention_body(i), Reply(text=plan, chunk_size=CHUNK, deltas_per_second=args.rate)
        )


async def serve_model(args: argparse.Namespace) -> None:
    """The model process: print the base URL, then one START line per reply, until stdin ends."""
    async with FakeOpenAI() as openai:
        script_model(openai, args, lambda i, t: print(f"START {i} {t:.6f}", flush=True))
        print(f"URL {openai.base_url}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


@contextlib.asynccontextmanager
async def model_server(args: argparse.Namespace, recorder: Recorder) -> AsyncIterator[str]:
    """The fake model's base URL: in its own process, or in this one when asked."""
    if args.model_in_process:
        async with FakeOpenAI() as openai:
            script_model(openai, args, recorder.model_start.__setitem__)
            yield openai.base_url
        return
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--serve-model",
        f"--conversations={args.conversations}",
        f"--deltas={args.deltas}",
        f"--rate={args.rate}",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stdin is not None
    url = (await proc.stdout.readline()).decode().split()[1]

    async def read_starts() -> None:
        assert proc.stdout is not None
        async for line in proc.stdout:
            _, index, wall = line.decode().split()
            recorder.model_start[index] = float(wall)

    reader = asyncio.create_task(read_starts())
    try:
        yield url
    finally:
        proc.stdin.close()
        await proc.wait()
        await reader


def reply_figures(
    recorder: Recorder, thread: str, text: str, rate: float
) -> tuple[float, list[float]]:
    """(first visible latency, lags of every delta) for one conversation, in seconds."""
    t0 = recorder.model_start[recorder.index_of[thread]]
    seen = recorder.visible[thread]
    first = next(t for t, n in seen if n > 0) - t0
    lags = []
    for i in range(0, len(text), CHUNK):
        need = min(len(text), i + CHUNK)
        sent_at = t0 + (i // CHUNK) / rate
        shown_at = next(t for t, n in seen if n >= need)
        lags.append(max(0.0, shown_at - sent_at))
    return first, lags


async def run(args: argparse.Namespace) -> None:
    async with FakeSlack() as slack:
        for c in range(args.channels):
            members = [f"U{i:04d}" for i in range(c, args.conversations, args.channels)]
            slack.ws.add_channel(channel_of(c, args.channels), f"bench-{c + 1}", members)
        for i in range(args.conversations):
            slack.ws.add_user(f"U{i:04d}", f"user{i}")
        slack.enforce_tiers(args.speedup)
        slack.enforce_channel_limits(args.speedup)
        if args.fallback:
            slack.methods.streaming_channel_types = set()
        recorder = Recorder(slack)
        async with model_server(args, recorder) as model_url:
            texts = await run_bot(args, slack, recorder, model_url)
        report(args, slack, recorder, texts)


async def run_bot(
    args: argparse.Namespace, slack: FakeSlack, recorder: Recorder, model_url: str
) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        values = {
            "OPENAI_API_KEY": "bench",
            "OPENAI_BASE_URL": model_url,
            "DATABASE_URL": f"sqlite:///{tmp}/bench.db",
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_APP_TOKEN": APP_TOKEN if args.mode == "socket" else "",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": slack.base_url,
            "PORT": 0,
            "TOOLS_MODULES": "",
            "LOG_LEVEL": "WARNING",
        }
        settings = Settings(**values)  # type: ignore[arg-type]
        engine = await build_engine(settings, platform_tools={"slack": SlackAdapter.tools})
        k = args.speedup
        pacing = SlackPacing(
            updates=UPDATES.faster(k),
            stream_starts=STREAM_STARTS.faster(k),
            stream_appends=STREAM_APPENDS.faster(k),
            stream_stops=STREAM_STOPS.faster(k),
            history_reads=HISTORY_READS.faster(k),
            channel_posts=CHANNEL_POSTS.faster(k),
        )
        observed = Observed()
        service = SlackAdapter(
            SlackSettings(**values),  # type: ignore[arg-type]
            host="127.0.0.1",
            pacing=pacing,
            observe=observed,
        )
        await start_adapter(service, engine)
        try:
            if args.mode == "http":
                slack.use_http_events(f"http://127.0.0.1:{service.port}/slack/events", SECRET)
            else:
                await slack.socket.wait_connected()
            return await converse(args, slack, recorder, observed, engine)
        finally:
            recorder.deferred = {
                "chat.startStream (posted instead)": pacing.stream_starts.deferred,
                "chat.appendStream": pacing.stream_appends.deferred,
                "chat.stopStream": pacing.stream_stops.deferred,
                "chat.update": pacing.updates.deferred,
                "chat.postMessage (queued for the channel)": pacing.posts.deferred,
            }
            await service.stop()
            await engine.close()


async def converse(
    args: argparse.Namespace,
    slack: FakeSlack,
    recorder: Recorder,
    observed: Observed,
    engine: Any,
) -> dict[str, str]:
    n = args.conversations
    started = time.monotonic()
    cpu = time.process_time()
    posts = await asyncio.gather(
        *(
            slack.say(
                f"U{i:04d}", channel_of(i, args.channels), f"<@{BOT_USER_ID}> {mention_body(i)}"
            )
            for i in range(n)
        )
    )
    texts: dict[str, str] = {}
    for i, post in enumerate(posts):  # each mention started its own thread
        texts[post.ts] = reply_text(i, args.deltas)
        recorder.index_of[post.ts] = str(i)
        recorder.channel_of[post.ts] = post.channel
    async with asyncio.timeout(args.timeout):
        while observed.accepted < n:  # noqa: ASYNC110 - bench: wait for the listeners
            await asyncio.sleep(0.01)
        await engine.wait_idle()
    wall = time.monotonic() - started
    busy = time.process_time() - cpu
    print(
        f"all {n} replies done in {wall:.1f}s; this process (bot + fake Slack) used "
        f"{busy:.1f}s CPU ({100 * busy / wall:.0f}% of one core)"
    )
    return texts


def report(
    args: argparse.Namespace, slack: FakeSlack, recorder: Recorder, texts: dict[str, str]
) -> None:
    firsts: list[float] = []
    lags: list[float] = []
    mode = "post+update fallback" if args.fallback else "native streaming"
    print(
        f"Slack stream benchmark: {args.conversations} conversations in {args.channels} "
        f"channel(s), {args.mode} mode, {mode}, "
        f"model {args.rate:g} deltas/s x {args.deltas} deltas of {CHUNK} chars"
    )
    if not args.quiet:
        print(
            f"{'reply':>5} {'first_visible_ms':>16} {'api_calls':>9} {'429s':>5} {'p99_lag_ms':>10}"
        )
    for n, (thread, text) in enumerate(sorted(texts.items())):
        first, reply_lags = reply_figures(recorder, thread, text, args.rate)
        firsts.append(first)
        lags.extend(reply_lags)
        if not args.quiet:
            print(
                f"{n:>5} {first * 1000:>16.1f} {recorder.calls[thread]:>9} "
                f"{recorder.limited[thread]:>5} {pct(reply_lags, 99) * 1000:>10.1f}"
            )
    calls = [recorder.calls[t] for t in texts]
    streamed = sum(
        1
        for t in texts
        if (m := slack.ws.bot_messages(recorder.channel_of[t], t)) and m[0].stream_state
    )
    print(
        f"first visible text after first model delta: p50 {pct(firsts, 50) * 1000:.1f} ms, "
        f"p99 {pct(firsts, 99) * 1000:.1f} ms (target p50 <= 50 ms)"
    )
    print(f"replies streamed natively: {streamed}; posted and updated: {len(texts) - streamed}")
    print(
        f"Slack API calls per reply: mean {statistics.mean(calls):.1f}, max {max(calls)}; "
        f"total 429s {sum(slack.status_429.values())} "
        f"(by method: {dict(slack.status_429) or 'none'}; target 0)"
    )
    deferred = ", ".join(f"{m} {n}" for m, n in recorder.deferred.items())
    print(f"writes deferred by our own budgets: {deferred}")
    print(
        f"visible lag behind the model: p50 {pct(lags, 50) * 1000:.0f} ms, "
        f"p99 {pct(lags, 99) * 1000:.0f} ms, max {max(lags) * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument(
        "--channels", type=int, default=10, help="spread the conversations over N channels"
    )
    parser.add_argument("--deltas", type=int, default=100)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--mode", choices=["socket", "http"], default="socket")
    parser.add_argument("--fallback", action="store_true", help="disable native streaming")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument(
        "--speedup", type=float, default=1.0, help="multiply the Slack tiers and our budgets"
    )
    parser.add_argument("--quiet", action="store_true", help="summary only")
    parser.add_argument(
        "--model-in-process", action="store_true", help="run the fake model in this process"
    )
    parser.add_argument("--serve-model", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.channels < 1:
        parser.error("--channels must be at least 1")
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(serve_model(args) if args.serve_model else run(args))


if __name__ == "__main__":
    main()
