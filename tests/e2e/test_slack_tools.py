"""Slack tools end to end, in HTTP and Socket Mode: the model calls them and sees their
outputs; progress shows as streamed task updates; post_message is refused for channels the
requesting user is not a member of."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.test_slack_harness import MENTION, MODES, SlackEnv, slack_env
from tests.fakes.openai_fake import Reply, ToolCallSpec


@pytest.fixture(params=MODES)
async def env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SlackEnv]:
    async with slack_env(tmp_path, request.param) as e:
        yield e


def call_then_echo(name: str, args: dict[str, str]) -> Reply:
    return Reply(
        tool_calls=[ToolCallSpec(name, json.dumps(args))],
        then=Reply(text=lambda outputs: f"tool said: {outputs[0]}"),
    )


async def ask(env: SlackEnv, text: str, n: int = 1) -> tuple[str, str]:
    post = await env.slack.say("U1", "C1", f"{MENTION} {text}")
    await env.settle(n)
    [reply] = env.thread_replies("C1", post.ts)
    return post.ts, reply.text


async def test_lookup_user_with_task_updates(env: SlackEnv) -> None:
    env.openai.model.add_rule("who", call_then_echo("lookup_user", {"user": "<@U1>"}))
    thread, text = await ask(env, "who is <@U1>?")
    assert "Ada Lovelace" in text and "Analyst" in text
    [reply] = env.thread_replies("C1", thread)
    [task] = reply.tasks.values()
    assert task["title"] == "Running `lookup_user`…" and task["status"] == "complete"
    first = env.openai.requests_to("/chat/completions")[0].json or {}
    tools = [t["function"]["name"] for t in first["tools"]]
    assert {"lookup_user", "add_reaction", "post_message", "share_file"} <= set(tools)


async def test_add_reaction_on_the_triggering_message(env: SlackEnv) -> None:
    env.openai.model.add_rule("react", call_then_echo("add_reaction", {"emoji": ":tada:"}))
    thread, text = await ask(env, "react please")
    assert "reacted with :tada:" in text
    assert env.slack.ws.message("C1", thread).reactions == {"tada": ["U0BOT0001"]}  # type: ignore[union-attr]


async def test_post_message_to_a_channel_the_user_is_in(env: SlackEnv) -> None:
    env.openai.model.add_rule(
        "announce",
        call_then_echo("post_message", {"channel": "<#C2|random>", "text": "Lunch at noon"}),
    )
    _, text = await ask(env, "announce lunch")
    assert '"posted": true' in text
    assert [m.text for m in env.slack.ws.bot_messages("C2")] == ["Lunch at noon"]


async def test_post_message_refused_for_a_non_member(env: SlackEnv) -> None:
    env.openai.model.add_rule(
        "leak", call_then_echo("post_message", {"channel": "C3", "text": "psst"})
    )
    _, text = await ask(env, "leak it")
    assert "not a member of <#C3>" in text
    assert env.slack.ws.bot_messages("C3") == []


async def test_share_file_into_the_thread(env: SlackEnv) -> None:
    env.openai.model.add_rule(
        "file", call_then_echo("share_file", {"filename": "notes.md", "content": "# Notes\nhi"})
    )
    thread, text = await ask(env, "file it")
    assert '"shared": true' in text
    [f] = env.slack.ws.files.values()
    assert f.content == b"# Notes\nhi" and f.shared_in == [("C1", thread)]
