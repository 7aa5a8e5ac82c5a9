"""Slack reply streaming end to end, in HTTP and Socket Mode: a stream failing mid-reply
falls back to updates with no duplicated text, 429s on chat.update are retried, and a
30,000-character reply with code blocks continues in further messages, split cleanly."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.test_slack_harness import MENTION, MODES, SlackEnv, slack_env
from tests.fakes.openai_fake import Reply
from tests.fakes.slack_fake import Fault

LONG_ANSWER = " ".join(f"w{i}" for i in range(60))


@pytest.fixture(params=MODES)
async def env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SlackEnv]:
    async with slack_env(tmp_path, request.param) as e:
        yield e


async def test_stream_failure_mid_reply_falls_back_to_updates(env: SlackEnv) -> None:
    env.openai.model.add_rule("long", Reply(text=LONG_ANSWER, chunk_size=6, deltas_per_second=100))
    env.slack.inject("chat.appendStream", Fault.error("message_not_in_streaming_state"), after=1)
    post = await env.slack.say("U1", "C1", f"{MENTION} long please")
    await env.settle(1)
    [reply] = env.thread_replies("C1", post.ts)
    assert reply.text == LONG_ANSWER  # one coherent reply, nothing twice
    assert reply.stream_state == "expired"
    assert env.slack.calls("chat.update")
    assert not env.slack.calls("chat.stopStream")


async def test_streaming_unsupported_posts_and_updates(env: SlackEnv) -> None:
    env.slack.methods.streaming_channel_types = {"im"}
    post = await env.slack.say("U1", "C1", f"{MENTION} no streams here")
    await env.settle(1)
    [reply] = env.thread_replies("C1", post.ts)
    assert reply.text == "echo: no streams here" and reply.stream_state is None
    assert env.slack.calls("chat.postMessage")


async def test_429_on_chat_update_is_retried(env: SlackEnv) -> None:
    env.openai.model.add_rule("long", Reply(text=LONG_ANSWER, chunk_size=6, deltas_per_second=60))
    env.slack.inject("chat.update", Fault.rate_limited(retry_after=0))
    dm = (await env.slack.dm("U1", "long please")).channel  # top-level DM: post + updates
    await env.settle(1)
    [reply] = env.top_level_replies(dm)
    assert reply.text == LONG_ANSWER
    assert env.slack.status_429["chat.update"] == 1
    assert [c.status for c in env.slack.calls("chat.update")][:2] == [429, 200]


def _fenced_answer() -> str:
    parts: list[str] = []
    i = 0
    while sum(len(p) for p in parts) < 30_000:
        parts.append(f"Step {i}: some prose explaining the next block of code in detail.\n\n")
        body = "\n".join(f"    value_{i}_{j} = compute({i}, {j})  # line {j}" for j in range(40))
        parts.append(f"```python\ndef block_{i}():\n{body}\n```\n\n")
        i += 1
    return "".join(parts).strip()


async def test_thirty_thousand_characters_with_code_split_cleanly(env: SlackEnv) -> None:
    answer = _fenced_answer()
    assert len(answer) >= 30_000
    env.openai.model.add_rule("essay", Reply(text=answer, chunk_size=500))
    post = await env.slack.say("U1", "C1", f"{MENTION} essay")
    await env.settle(1, within=15)
    replies = env.thread_replies("C1", post.ts)
    assert len(replies) >= 3
    for r in replies:
        assert len(r.text) <= 12_000
        fences = [ln for ln in r.text.splitlines() if ln.startswith("```")]
        assert len(fences) % 2 == 0, "every message closes the fences it opens"
        assert r.stream_state == "stopped"
    joined = "\n".join(r.text for r in replies)
    code_lines = [ln for ln in answer.splitlines() if "compute(" in ln]
    found = [ln for ln in joined.splitlines() if "compute(" in ln]
    assert found == code_lines, "every code line once, in order"
