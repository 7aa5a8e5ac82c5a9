"""Slack tools end to end, in HTTP and Socket Mode: the model calls them and sees their
outputs; progress shows as streamed task updates; each acts within the requesting user's
reach (post_message refused for channels the user is not in, reactions only on the asking
message, files only into the conversation). Then the tools called directly through the
registry with the real web client against the fake Slack: argument validation and caps."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator

import pytest

from bots.slack.client import build_web_client
from bots.slack.limits import Rate
from bots.slack.pacing import SlackPacing
from bots.slack.tools import (
    FILE_BYTES_LIMIT,
    TOOLS,
    SlackHandle,
    SlackMessageRef,
    clean_filename,
)
from core.events import ToolCall
from core.keys import ConversationKey
from core.tools import ToolContext, ToolRegistry
from core.tools.registry import SIDE_EFFECTS_PER_TURN
from tests.fakes.openai_fake import Reply, ToolCallSpec
from tests.fakes.slack_fake import BOT_TOKEN, TEAM_ID, FakeSlack
from tests.harness.fixtures import MakeSlackEnv
from tests.harness.slack import MENTION, MODES, SlackEnv, populate


@pytest.fixture(params=MODES)
async def env(request: pytest.FixtureRequest, make_slack_env: MakeSlackEnv) -> SlackEnv:
    return await make_slack_env(request.param)


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


async def test_add_reaction_on_a_follow_up_reacts_to_that_message(env: SlackEnv) -> None:
    root = await env.slack.say("U1", "C1", f"{MENTION} hello")
    await env.settle(1)
    env.openai.model.add_rule("react", call_then_echo("add_reaction", {"emoji": "thumbsup"}))
    follow = await env.slack.say("U2", "C1", "react please", thread_ts=root.ts)
    await env.settle(2)
    assert env.slack.ws.message("C1", follow.ts).reactions == {"thumbsup": ["U0BOT0001"]}  # type: ignore[union-attr]
    assert env.slack.ws.message("C1", root.ts).reactions == {}  # type: ignore[union-attr]


async def test_post_message_finds_the_user_on_a_later_members_page(env: SlackEnv) -> None:
    env.openai.model.add_rule(
        "announce", call_then_echo("post_message", {"channel": "C4", "text": "Standup moved"})
    )
    _, text = await ask(env, "announce it")
    assert '"posted": true' in text
    assert [m.text for m in env.slack.ws.bot_messages("C4")] == ["Standup moved"]
    assert len(env.slack.calls("conversations.members")) >= 3


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


async def test_share_file_refusal_reaches_the_model(env: SlackEnv) -> None:
    env.openai.model.add_rule(
        "file", call_then_echo("share_file", {"filename": "empty.md", "content": "  "})
    )
    _, text = await ask(env, "file nothing")
    assert "the file is empty" in text
    assert env.slack.ws.files == {}


# --- the tools called directly, with the real web client against the fake Slack ----------


@pytest.fixture
async def direct() -> AsyncIterator[tuple[FakeSlack, ToolRegistry, ToolContext]]:
    async with FakeSlack(echo_bot_messages=False) as slack:
        slack.delivery = None
        populate(slack)
        root = await slack.say("U1", "C1", "question")
        registry = ToolRegistry()
        registry.add_platform("slack", TOOLS)
        client = build_web_client(BOT_TOKEN, slack.base_url)
        ctx = ToolContext(
            platform="slack",
            user_id="U1",
            key=ConversationKey("slack", TEAM_ID, "C1", root.ts),
            handle=SlackHandle(client, "C1", root.ts, TEAM_ID),
            message_ref=SlackMessageRef("C1", root.ts),
        )
        yield slack, registry, ctx


async def invoke(registry: ToolRegistry, ctx: ToolContext, name: str, **args: object) -> str:
    return await registry.invoke(ToolCall("call-1", name, json.dumps(args)), ctx)


@pytest.mark.parametrize("emoji", ["not an emoji!", "x" * 101, "<@U2>", "", "::"])
async def test_add_reaction_rejects_bad_names_before_calling_slack(
    direct: tuple[FakeSlack, ToolRegistry, ToolContext], emoji: str
) -> None:
    slack, registry, ctx = direct
    out = await invoke(registry, ctx, "add_reaction", emoji=emoji)
    assert "emoji name" in json.loads(out)["error"]
    assert not slack.calls("reactions.add")


async def test_add_reaction_accepts_skin_tones_and_plus_one(
    direct: tuple[FakeSlack, ToolRegistry, ToolContext],
) -> None:
    slack, registry, ctx = direct
    for emoji in (":+1:", "wave::skin-tone-3"):
        out = await invoke(registry, ctx, "add_reaction", emoji=emoji)
        assert out.startswith("reacted with")
    assert [c.args["name"] for c in slack.calls("reactions.add")] == ["+1", "wave::skin-tone-3"]


@pytest.mark.parametrize(
    ("channel", "text", "problem"),
    [
        ("#general", "hi", "channel as a link"),
        ("C2", "", "empty"),
        ("C2", "x" * 12_001, "longer than"),
        ("C2", "<!channel> lunch", "@channel"),
        ("C2", "hey <!here|here>", "@channel"),
        ("C2", "<!subteam^S123> ping", "group mentions"),
        ("C3", "psst", "not a member"),
        ("C9", "hello?", "channel_not_found"),
    ],
)
async def test_post_message_refusals(
    direct: tuple[FakeSlack, ToolRegistry, ToolContext], channel: str, text: str, problem: str
) -> None:
    slack, registry, ctx = direct
    out = await invoke(registry, ctx, "post_message", channel=channel, text=text)
    assert problem in json.loads(out)["error"]
    assert not slack.calls("chat.postMessage")


async def test_post_message_keeps_to_the_channel_post_budget(
    direct: tuple[FakeSlack, ToolRegistry, ToolContext],
) -> None:
    slack, registry, ctx = direct
    pacing = SlackPacing(channel_posts=Rate(1, 1))
    ctx.handle = dataclasses.replace(ctx.handle, pacing=pacing)
    out = await invoke(registry, ctx, "post_message", channel="C2", text="first")
    assert json.loads(out)["posted"] is True
    out = await invoke(registry, ctx, "post_message", channel="C2", text="a minute too soon")
    assert "busy" in json.loads(out)["error"]
    assert [c.args["markdown_text"] for c in slack.calls("chat.postMessage")] == ["first"]


async def test_post_message_checks_the_requesting_user_not_the_bot(
    direct: tuple[FakeSlack, ToolRegistry, ToolContext],
) -> None:
    slack, registry, ctx = direct
    ctx.user_id = "U2"  # U2 is not in C2, although the bot is
    out = await invoke(registry, ctx, "post_message", channel="C2", text="hi")
    assert "not a member of <#C2>" in json.loads(out)["error"]
    ctx.user_id = ""
    out = await invoke(registry, ctx, "post_message", channel="C2", text="hi")
    assert "can't tell who asked" in json.loads(out)["error"]
    assert not slack.calls("chat.postMessage")


async def test_share_file_caps_and_cleans(
    direct: tuple[FakeSlack, ToolRegistry, ToolContext],
) -> None:
    slack, registry, ctx = direct
    big = "é" * (FILE_BYTES_LIMIT // 2 + 1)  # few characters, too many bytes
    out = await invoke(registry, ctx, "share_file", filename="big.txt", content=big)
    assert "limit is" in json.loads(out)["error"]
    out = await invoke(registry, ctx, "share_file", filename=" /.. ", content="x")
    assert "give the file a name" in json.loads(out)["error"]
    assert not slack.calls("files.getUploadURLExternal")
    out = await invoke(
        registry, ctx, "share_file", filename="../../etc/pass\u0000wd.txt", content="odd \ud800 bit"
    )
    assert json.loads(out)["filename"] == "passwd.txt"
    [f] = slack.ws.files.values()
    assert f.filename == "passwd.txt" and f.content == b"odd ? bit"
    assert f.shared_in == [("C1", ctx.key.thread)]


async def test_lookup_user_errors_and_no_email(
    direct: tuple[FakeSlack, ToolRegistry, ToolContext],
) -> None:
    _, registry, ctx = direct
    out = json.loads(await invoke(registry, ctx, "lookup_user", user="<@U1|ada>"))
    assert out["real_name"] == "Ada Lovelace" and "email" not in out
    out = json.loads(await invoke(registry, ctx, "lookup_user", user="U404"))
    assert "user_not_found" in out["error"]
    out = json.loads(await invoke(registry, ctx, "lookup_user", user="ada"))
    assert "mention like" in out["error"]


async def test_slack_tools_exist_only_for_slack(
    direct: tuple[FakeSlack, ToolRegistry, ToolContext],
) -> None:
    _, registry, ctx = direct
    assert registry.schemas_for("discord") == []
    ctx.platform = "discord"
    out = await invoke(registry, ctx, "lookup_user", user="U1")
    assert "unknown tool" in json.loads(out)["error"]


def test_clean_filename() -> None:
    assert clean_filename("report.md") == "report.md"
    assert clean_filename("C:\\Users\\x\\notes.txt") == "notes.txt"
    assert clean_filename("..hidden") == "hidden"
    assert clean_filename("\n\t") is None
    long = clean_filename("a" * 300 + ".csv")
    assert long is not None and len(long) == 100 and long.endswith(".csv")


async def test_one_message_makes_at_most_a_few_posts(
    direct: tuple[FakeSlack, ToolRegistry, ToolContext],
) -> None:
    """One user message (or one injected prompt) can't make the bot flood the workspace."""
    slack, registry, ctx = direct
    outs = [
        json.loads(await invoke(registry, ctx, "post_message", channel="C2", text=f"n{i}"))
        for i in range(SIDE_EFFECTS_PER_TURN + 1)
    ]
    assert all(o.get("posted") for o in outs[:-1])
    assert "at most" in outs[-1]["error"]
    out = json.loads(await invoke(registry, ctx, "share_file", filename="a.md", content="x"))
    assert "at most" in out["error"] and slack.ws.files == {}
    assert len(slack.calls("chat.postMessage")) == SIDE_EFFECTS_PER_TURN
