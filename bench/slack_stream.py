"""Benchmark: N concurrent Slack conversations through the real Bolt app and web client
against the fake Slack, with the fake OpenAI model streaming at 50 deltas per second.

Each conversation is a channel mention (a new thread). The real engine (SQLite), the real
Slack adapter (Socket Mode by default, or signed HTTP) and the real slack_sdk client talk to
the fakes over 127.0.0.1. The fake Slack enforces Tier 3 on chat.update (50/min, workspace-
wide) so any 429 there would come from our own pacing.

Prints, per reply: latency from the first model delta to the first visible text, Slack API
calls, 429s and the p99 visible lag (how long text the model has sent takes to become
visible in Slack); then a summary. Model-side times are the ideal delta schedule from the
moment the model planned the reply, so lags are upper bounds.

    python bench/slack_stream.py [--conversations 100] [--deltas 100] [--rate 50]
                                 [--mode socket|http] [--fallback] [--quiet]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bots.slack import SlackService
from bots.slack.pacing import SlackPacing
from core.bootstrap import build_engine
from core.settings import Settings
from tests.fakes.openai_fake import FakeOpenAI, Reply
from tests.fakes.slack_fake import APP_TOKEN, BOT_TOKEN, BOT_USER_ID, ApiRequest, FakeSlack

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
        self.visible: dict[str, list[tuple[float, int]]] = defaultdict(list)
        self.calls: dict[str, int] = defaultdict(int)
        self.limited: dict[str, int] = defaultdict(int)
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
            self.visible[thread].append((time.monotonic(), shown))


def model_reply(recorder: Recorder, index: str, text: str, rate: float) -> Reply:
    def plan(_outputs: list[str]) -> str:
        recorder.model_start[index] = time.monotonic()
        return text

    return Reply(text=plan, chunk_size=CHUNK, deltas_per_second=rate)


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
    async with FakeOpenAI() as openai, FakeSlack() as slack:
        slack.ws.add_channel("C1", "bench", [f"U{i:04d}" for i in range(args.conversations)])
        for i in range(args.conversations):
            slack.ws.add_user(f"U{i:04d}", f"user{i}")
        slack.set_rate_limit("chat.update", per_minute=50, burst=10)
        if args.fallback:
            slack.methods.streaming_channel_types = set()
        recorder = Recorder(slack)
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                OPENAI_API_KEY="bench",
                OPENAI_BASE_URL=openai.base_url,
                DATABASE_URL=f"sqlite:///{tmp}/bench.db",
                SLACK_BOT_TOKEN=BOT_TOKEN,
                SLACK_APP_TOKEN=APP_TOKEN if args.mode == "socket" else "",
                SLACK_SIGNING_SECRET=SECRET,
                SLACK_API_URL=slack.base_url,
                PORT=0,
                TOOLS_MODULES="",
                LOG_LEVEL="WARNING",
            )
            engine = await build_engine(settings)
            service = SlackService(settings, engine, host="127.0.0.1", pacing=SlackPacing())
            await service.start()
            try:
                if args.mode == "http":
                    slack.use_http_events(f"http://127.0.0.1:{service.port}/slack/events", SECRET)
                else:
                    await slack.socket.wait_connected()
                texts = await converse(args, slack, openai, recorder, service, engine)
            finally:
                await service.stop()
                await engine.close()
        report(args, slack, recorder, texts)


async def converse(
    args: argparse.Namespace,
    slack: FakeSlack,
    openai: FakeOpenAI,
    recorder: Recorder,
    service: SlackService,
    engine: Any,
) -> dict[str, str]:
    n = args.conversations
    bodies = {i: f"bench conv-{i:04d} " for i in range(n)}
    by_index: dict[str, str] = {}
    for i in range(n):
        text = f"Reply {i}: " + "".join(f"tok{j:04d} " for j in range(args.deltas))
        by_index[str(i)] = text[: args.deltas * CHUNK]
        openai.model.add_rule(bodies[i], model_reply(recorder, str(i), by_index[str(i)], args.rate))
    started = time.monotonic()
    posts = await asyncio.gather(
        *(slack.say(f"U{i:04d}", "C1", f"<@{BOT_USER_ID}> {bodies[i]}") for i in range(n))
    )
    texts: dict[str, str] = {}
    for i, post in enumerate(posts):  # each mention started its own thread
        texts[post.ts] = by_index[str(i)]
        recorder.index_of[post.ts] = str(i)
    assert service.handlers is not None
    handlers = service.handlers
    async with asyncio.timeout(args.timeout):
        while handlers.accepted < n:  # noqa: ASYNC110 - bench: wait for the listeners
            await asyncio.sleep(0.01)
        await engine.wait_idle()
    print(f"all {n} replies done in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return texts


def report(
    args: argparse.Namespace, slack: FakeSlack, recorder: Recorder, texts: dict[str, str]
) -> None:
    firsts: list[float] = []
    lags: list[float] = []
    mode = "post+update fallback" if args.fallback else "native streaming"
    print(
        f"Slack stream benchmark: {args.conversations} conversations, {args.mode} mode, {mode}, "
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
    print(
        f"first visible text after first model delta: p50 {pct(firsts, 50) * 1000:.1f} ms, "
        f"p99 {pct(firsts, 99) * 1000:.1f} ms (target p50 <= 50 ms)"
    )
    print(
        f"Slack API calls per reply: mean {statistics.mean(calls):.1f}, "
        f"max {max(calls)}; total 429s {sum(slack.status_429.values())} "
        f"(from the Tier 3 chat.update limit: {slack.limited_429['chat.update']}); "
        f"intermediate updates deferred by our budget: "
        f"{sum(recorder.limited.values())} limited calls"
    )
    print(
        f"visible lag behind the model: p50 {pct(lags, 50) * 1000:.0f} ms, "
        f"p99 {pct(lags, 99) * 1000:.0f} ms, max {max(lags) * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--deltas", type=int, default=100)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--mode", choices=["socket", "http"], default="socket")
    parser.add_argument("--fallback", action="store_true", help="disable native streaming")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--quiet", action="store_true", help="summary only")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
