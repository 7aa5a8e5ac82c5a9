"""Slack reply streaming end to end, in HTTP and Socket Mode: a stream failing mid-reply
falls back to updates with no duplicated text, 429s on chat.update are retried, a
30,000-character reply with code blocks continues in further messages, split cleanly,
concurrent replies keep within the workspace's rate tiers, and many replies posted into one
channel at once keep within its chat.postMessage limit."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bots.slack.limits import Rate
from bots.slack.pacing import SlackPacing
from tests.fakes.openai_fake import Reply
from tests.fakes.slack_fake import Fault
from tests.harness.fixtures import MakeSlackEnv
from tests.harness.slack import MENTION, MODES, SlackEnv, slack_env

LONG_ANSWER = " ".join(f"w{i}" for i in range(60))


@pytest.fixture(params=MODES)
async def env(request: pytest.FixtureRequest, make_slack_env: MakeSlackEnv) -> SlackEnv:
    return await make_slack_env(request.param)


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


async def test_model_broadcasts_never_reach_slack(env: SlackEnv) -> None:
    """Model text (e.g. from a prompt injection) with <!channel> and friends is shown as plain
    text in every reply path: streamed and posted-then-updated."""
    text = "Alert <!channel> and <!here> and <!subteam^S1|@oncall>, " + LONG_ANSWER
    env.openai.model.add_rule("ping", Reply(text=text, chunk_size=3, deltas_per_second=200))
    post = await env.slack.say("U1", "C1", f"{MENTION} ping all")
    dm = (await env.slack.dm("U1", "ping all")).channel  # top-level DM: post + updates
    await env.settle(2)
    replies = [*env.thread_replies("C1", post.ts), *env.top_level_replies(dm)]
    assert len(replies) == 2
    for reply in replies:
        assert "<!" not in reply.text and reply.text.startswith("Alert @\u2060channel and")
    sent = [
        c.args
        for m in (
            "chat.postMessage",
            "chat.update",
            "chat.startStream",
            "chat.appendStream",
            "chat.stopStream",
        )
        for c in env.slack.calls(m)
    ]
    assert sent and not any("<!" in str(p) for p in sent)


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


@pytest.mark.parametrize("mode", MODES)
async def test_concurrent_replies_keep_within_the_rate_tiers(tmp_path: Path, mode: str) -> None:
    """Eight replies streaming at once against a fake that enforces (time-compressed) tiers:
    stream starts beyond the budget become posted messages, appends coalesce, and Slack
    never answers 429."""
    pacing = SlackPacing(
        message_edit_interval=0.2,
        stream_flush_interval=0.1,
        stream_starts=Rate(60, 3),
        stream_stops=Rate(60, 3),
        stream_appends=Rate(600, 6),
        updates=Rate(600, 4),
    )
    async with slack_env(tmp_path, mode, pacing=pacing) as env:
        limits = {
            "chat.startStream": (75, 4),
            "chat.stopStream": (75, 4),
            "chat.appendStream": (750, 8),
            "chat.update": (750, 5),
        }
        for method, (per_minute, burst) in limits.items():
            env.slack.set_rate_limit(method, per_minute, burst)
        env.openai.model.gate = gate = asyncio.Event()
        answers = {}
        for i in range(8):
            answers[i] = f"answer {i}: " + LONG_ANSWER
            env.openai.model.add_rule(
                f"question {i}", Reply(text=answers[i], chunk_size=6, deltas_per_second=60)
            )
        posts = [await env.slack.say("U1", "C1", f"{MENTION} question {i}") for i in range(8)]
        await env.openai.model.wait_for_gate_waiters(8)  # all eight start together
        gate.set()
        await env.settle(8, within=20)
        replies = [env.thread_replies("C1", p.ts) for p in posts]
        assert [[r.text for r in rs] for rs in replies] == [[answers[i]] for i in range(8)]
        assert sum(env.slack.limited_429.values()) == 0
        assert sum(env.slack.status_429.values()) == 0
        states = [rs[0].stream_state for rs in replies]
        assert "stopped" in states, "some replies streamed"
        assert None in states, "the rest were posted and updated"
        assert pacing.stream_starts.deferred > 0 and pacing.stream_appends.deferred > 0


@pytest.mark.parametrize("mode", MODES)
async def test_concurrent_replies_in_one_channel_keep_within_its_post_limit(
    tmp_path: Path, mode: str
) -> None:
    """Eight replies posted into one channel at once (streaming unavailable there), against a
    fake that limits chat.postMessage per channel (time-compressed): posts beyond the
    channel's budget wait their turn and Slack never answers 429. (With a roomy post budget
    the same test gets 429s.)"""
    pacing = SlackPacing(
        message_edit_interval=0.2,
        updates=Rate(6000, 50),
        channel_posts=Rate(480, 3),
    )
    async with slack_env(tmp_path, mode, pacing=pacing) as env:
        env.slack.set_channel_rate_limit("chat.postMessage", per_minute=600, burst=4)
        env.slack.methods.streaming_channel_types = set()
        env.openai.model.gate = gate = asyncio.Event()
        answers = {}
        for i in range(8):
            answers[i] = f"answer {i}: " + LONG_ANSWER
            env.openai.model.add_rule(
                f"question {i}", Reply(text=answers[i], chunk_size=6, deltas_per_second=60)
            )
        posts = [await env.slack.say("U1", "C1", f"{MENTION} question {i}") for i in range(8)]
        await env.openai.model.wait_for_gate_waiters(8)
        gate.set()
        await env.settle(8, within=20)
        replies = [env.thread_replies("C1", p.ts) for p in posts]
        assert [[r.text for r in rs] for rs in replies] == [[answers[i]] for i in range(8)]
        assert env.slack.status_429["chat.postMessage"] == 0
        assert len(env.slack.calls("chat.postMessage")) == 8
        assert pacing.posts.deferred > 0
