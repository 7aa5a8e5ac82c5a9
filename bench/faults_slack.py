"""Fault-matrix rows on Slack in-process (bench/faults.py): the real Bolt adapter over signed
HTTP against the fake Slack, a real engine on SQLite and the fake OpenAI (``slack_env``).
Each message is a channel mention; its replies are the bot's messages in its thread.

Rows: platform 429, Slack redelivery storm, storage write failure.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from faults_common import Row, user_calls

from tests.fakes.openai_fake import Reply
from tests.fakes.slack_fake import Fault, UserPost
from tests.harness.slack import MENTION, SlackEnv, slack_env

SETTLE = 20.0
REPLY_METHODS = [
    "chat.postMessage",
    "chat.startStream",
    "chat.appendStream",
    "chat.stopStream",
    "chat.update",
]


async def mention(env: SlackEnv, text: str) -> UserPost:
    return await env.slack.say("U1", "C1", f"{MENTION} {text}")


def replies(env: SlackEnv, post: UserPost) -> list[str]:
    return [m.text for m in env.thread_replies("C1", post.ts)]


async def idle(env: SlackEnv, row: Row, within: float = SETTLE) -> None:
    try:
        async with asyncio.timeout(within):
            await env.engine.wait_idle()
    except TimeoutError:
        row.note(f"engine not idle after {within:g}s")


async def outcomes(env: SlackEnv, posts: dict[str, UserPost], answers: dict[str, str]) -> bool:
    """Wait until every message has its answer or an error; False on timeout."""

    def done() -> bool:
        return all(
            any(answers[t] in r or "(ref " in r for r in replies(env, p)) for t, p in posts.items()
        )

    with contextlib.suppress(TimeoutError):
        await env.slack.wait_for(done, within=SETTLE)
        return True
    return False


def count(row: Row, env: SlackEnv, posts: dict[str, UserPost], answers: dict[str, str]) -> None:
    for text, post in posts.items():
        calls = user_calls(env.openai.model.calls, text)
        row.count(replies(env, post), answers[text], model_calls=calls, label=text)


async def platform_429(tmp: Path) -> Row:
    row = Row("platform 429 (Slack)")
    async with slack_env(tmp, "http") as env:
        for method in REPLY_METHODS:
            env.slack.inject(method, Fault.rate_limited(1), times=2)
        posts, answers = {}, {}
        for i in range(6):
            text = f"limited {i}"
            env.openai.model.add_rule(text, Reply(text=f"answer {i}: " + "word " * 30))
            posts[text] = await mention(env, text)
            answers[text] = f"answer {i}: " + "word " * 29 + "word"
        await outcomes(env, posts, answers)
        await idle(env, row)
        count(row, env, posts, answers)
        row.note(f"{sum(env.slack.status_429.values())} 429s (Retry-After 1s) on reply methods")
    return row


async def redelivery_storm(tmp: Path) -> Row:
    row = Row("Slack redelivery storm")
    async with slack_env(tmp, "http") as env:
        gate = env.openai.model.gate = asyncio.Event()
        posts, answers = {}, {}
        for i in range(6):
            text = f"storm {i}"
            posts[text] = await mention(env, text)
            answers[text] = f"echo: {text}"
        await env.openai.model.wait_for_gate_waiters(6, timeout=SETTLE)
        for retry in (1, 2):  # while the replies are running
            for post in posts.values():
                for event_id in post.event_ids:
                    await env.slack.redeliver(event_id, retry_num=retry)
        gate.set()
        await outcomes(env, posts, answers)
        await env.processed(within=SETTLE)
        await idle(env, row)
        for post in posts.values():  # after they are answered
            for event_id in post.event_ids:
                await env.slack.redeliver(event_id, retry_num=3)
        await env.processed(within=SETTLE)
        await idle(env, row)
        await env.restart()  # and after a restart (the dedupe must be stored)
        for post in posts.values():
            for event_id in post.event_ids:
                await env.slack.redeliver(event_id, retry_num=4)
        await env.processed(within=SETTLE)
        await idle(env, row)
        count(row, env, posts, answers)
        row.note("each event delivered 5 times: 2 mid-reply, 1 after, 1 after a restart")
    return row


async def storage_failure(tmp: Path) -> Row:
    """SQLite refuses writes for a moment (``PRAGMA query_only``): messages that arrive then
    must get a clear error; replies already running when it starts, and messages after it
    ends, must be answered once, also across a restart."""
    row = Row("storage write failure")
    async with slack_env(tmp, "http") as env:
        gate = env.openai.model.gate = asyncio.Event()
        running, refused, later = {}, {}, {}
        answers: dict[str, str] = {}
        for i in range(2):
            text = f"running {i}"
            running[text] = await mention(env, text)
            answers[text] = f"echo: {text}"
        await env.openai.model.wait_for_gate_waiters(2, timeout=SETTLE)
        db = env.engine.storage.db  # type: ignore[attr-defined]
        await db.execute("PRAGMA query_only = 1")
        for i in range(3):
            text = f"refused {i}"
            refused[text] = await mention(env, text)
            answers[text] = f"echo: {text}"
        await outcomes(env, refused, answers)
        gate.set()
        await outcomes(env, running, answers)
        await idle(env, row)
        await db.execute("PRAGMA query_only = 0")
        for i in range(2):
            text = f"later {i}"
            later[text] = await mention(env, text)
            answers[text] = f"echo: {text}"
        await outcomes(env, later, answers)
        await idle(env, row)
        await env.restart()
        resumed = env.handlers.resumed  # queued again by the restart itself
        await idle(env, row)
        count(row, env, {**running, **refused, **later}, answers)
        row.note(
            f"2 running + 3 sent while writes fail, 2 after; {resumed} resumed after a restart"
        )
    return row


ROWS = [platform_429, redelivery_storm, storage_failure]
