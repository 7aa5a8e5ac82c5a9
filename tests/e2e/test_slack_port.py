"""The Slack reply port against the fake Slack, called the way the core renderer calls it
(post, growing edits, finish, tool status): native streaming, fallback to updates mid-reply
without duplicated text, 429s, and the workspace-wide update budget."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bots.slack.client import build_web_client
from bots.slack.keys import ReplyTarget
from bots.slack.limits import Rate
from bots.slack.pacing import SlackPacing
from bots.slack.port import SlackReplyPort
from tests.fakes.slack_fake import BOT_TOKEN, TEAM_ID, FakeSlack, Fault

WORDS = [f"word{i} " for i in range(40)]


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(echo_bot_messages=False) as fake:
        fake.delivery = None
        fake.ws.add_user("U1", "ada")
        fake.ws.add_channel("C1", "general", ["U1"])
        yield fake


async def _thread(slack: FakeSlack) -> str:
    return (await slack.say("U1", "C1", "question")).ts


def _port(slack: FakeSlack, thread_ts: str | None, **pacing: float) -> SlackReplyPort:
    """A port with short intervals and workspace budgets too roomy to matter (the budgets
    have tests of their own)."""
    client = build_web_client(BOT_TOKEN, slack.base_url)
    roomy = Rate(6000, 50)
    return SlackReplyPort(
        client,
        ReplyTarget("C1", thread_ts),
        SlackPacing(
            message_edit_interval=pacing.get("edit", 0.05),
            stream_flush_interval=pacing.get("flush", 0.05),
            updates=roomy,
            stream_appends=roomy,
            channel_posts=roomy,
        ),
        recipient_team_id=TEAM_ID,
        recipient_user_id="U1",
    )


async def _drive(slack: FakeSlack, port: SlackReplyPort, words: list[str]) -> str:
    """Post the first word, then edit with growing text, waiting until each edit is written
    (or until the port's pacing lets it through), then finish."""
    text = words[0]
    handle = await port.post(text)
    for word in words[1:]:
        text += word
        await port.edit(handle, text)
        before = len(slack.requests)
        await slack.wait_for(lambda b=before: len(slack.requests) > b)  # type: ignore[misc]
    await port.finish(handle, text, True)
    return text


async def test_streams_appends_then_stops(slack: FakeSlack) -> None:
    thread = await _thread(slack)
    port = _port(slack, thread)
    text = await _drive(slack, port, WORDS[:6])
    [msg] = slack.ws.bot_messages("C1", thread)
    assert msg.text == text and msg.stream_state == "stopped"
    methods = [r.method for r in slack.requests if r.method.startswith("chat.")]
    assert methods[0] == "chat.startStream" and methods[-1] == "chat.stopStream"
    assert "chat.update" not in methods and "chat.appendStream" in methods


async def test_text_pending_is_flushed_by_the_timer(slack: FakeSlack) -> None:
    thread = await _thread(slack)
    port = _port(slack, thread, flush=0.05)
    handle = await port.post("Hello")
    await port.edit(handle, "Hello world")  # no further deltas arrive
    await slack.wait_for(lambda: slack.ws.bot_messages("C1", thread)[0].text == "Hello world")
    await port.finish(handle, "Hello world", False)


async def test_stream_expiry_mid_reply_falls_back_without_duplicates(slack: FakeSlack) -> None:
    thread = await _thread(slack)
    slack.inject("chat.appendStream", Fault.error("message_not_in_streaming_state"), after=2)
    port = _port(slack, thread)
    text = await _drive(slack, port, WORDS[:12])
    [msg] = slack.ws.bot_messages("C1", thread)
    assert msg.text == text
    assert slack.calls("chat.update"), "the rest arrives by chat.update on the same message"
    assert not port.streaming
    # a later message of the same reply is posted, not streamed
    second = await port.post("more")
    await port.finish(second, "more", False)
    assert slack.calls("chat.postMessage")[-1].args["thread_ts"] == thread


async def test_stream_unavailable_at_start_posts_and_updates(slack: FakeSlack) -> None:
    thread = await _thread(slack)
    slack.inject("chat.startStream", Fault.error("channel_type_not_supported"))
    port = _port(slack, thread)
    text = await _drive(slack, port, WORDS[:4])
    [msg] = slack.ws.bot_messages("C1", thread)
    assert msg.text == text and msg.stream_state is None
    assert await port.show_status(None, "Running `x`…") is False  # inline from now on


async def test_update_and_stop_failing_continue_in_a_new_message(slack: FakeSlack) -> None:
    thread = await _thread(slack)
    slack.inject("chat.stopStream", Fault.error("internal_error"))
    slack.inject("chat.update", Fault.error("cant_update_message"))
    port = _port(slack, thread)
    handle = await port.post("first part. ")
    await port.finish(handle, "first part. second part.", True)
    msgs = slack.ws.bot_messages("C1", thread)
    assert [m.text for m in msgs] == ["first part. ", "second part."]


async def test_tool_status_is_a_task_update(slack: FakeSlack) -> None:
    thread = await _thread(slack)
    port = _port(slack, thread)
    assert await port.show_status(None, "Running `lookup_user`…") is True
    handle = await port.post("Found them.")
    assert await port.show_status(handle, None) is True
    await port.finish(handle, "Found them.", False)
    [msg] = slack.ws.bot_messages("C1", thread)
    assert msg.text == "Found them." and msg.stream_state == "stopped"
    [task] = msg.tasks.values()
    assert task["title"] == "Running `lookup_user`…" and task["status"] == "complete"
    assert [t["status"] for t in msg.task_history] == ["in_progress", "complete"]


async def test_stopped_by_user_ends_the_reply_quietly(slack: FakeSlack) -> None:
    thread = await _thread(slack)
    slack.inject("chat.appendStream", Fault.error("stopped_by_user"))
    port = _port(slack, thread)
    handle = await port.post("one ")
    await port.edit(handle, "one two ")
    await slack.wait_for(lambda: slack.calls("chat.appendStream"))
    await port.edit(handle, "one two three")
    await port.finish(handle, "one two three", True)
    assert port.stopped
    [msg] = slack.ws.bot_messages("C1", thread)
    assert msg.text == "one "
    assert [r.method for r in slack.requests if r.method.startswith("chat.")] == [
        "chat.startStream",
        "chat.appendStream",
    ]
    assert await port.post("later") is not None and len(slack.ws.bot_messages("C1")) == 1


async def test_updates_of_one_message_are_spaced_by_the_edit_interval(slack: FakeSlack) -> None:
    port = _port(slack, None, edit=0.15)
    started = asyncio.get_running_loop().time()
    text = await _drive(slack, port, WORDS[:8])
    elapsed = asyncio.get_running_loop().time() - started
    [msg] = slack.ws.bot_messages("C1")
    assert msg.text == text
    updates = len(slack.calls("chat.update"))
    # writes to one message start at least an interval apart: never more than this many
    assert 2 <= updates <= elapsed / 0.15 + 1


async def test_stream_start_without_budget_posts_instead(slack: FakeSlack) -> None:
    thread = await _thread(slack)
    client = build_web_client(BOT_TOKEN, slack.base_url)
    pacing = SlackPacing(stream_starts=Rate(1, 1), message_edit_interval=0.05)
    ports = [
        SlackReplyPort(
            client,
            ReplyTarget("C1", thread),
            pacing,
            recipient_team_id=TEAM_ID,
            recipient_user_id="U1",
        )
        for _ in range(2)
    ]
    handles = [await p.post(f"reply {i}") for i, p in enumerate(ports)]
    for p, h in zip(ports, handles, strict=True):
        await p.finish(h, h.sent + " done", True)
    first, second = slack.ws.bot_messages("C1", thread)
    assert first.stream_state == "stopped" and second.stream_state is None
    assert [first.text, second.text] == ["reply 0 done", "reply 1 done"]
    assert pacing.stream_starts.deferred == 1
    assert [r.method for r in slack.requests if r.method.startswith("chat.")] == [
        "chat.startStream",
        "chat.postMessage",
        "chat.stopStream",
        "chat.update",
    ]


async def test_top_level_dm_posts_then_updates_and_survives_429(slack: FakeSlack) -> None:
    slack.inject("chat.update", Fault.rate_limited(retry_after=0))
    port = _port(slack, None)
    assert port.streaming is False
    text = await _drive(slack, port, WORDS[:3])
    [msg] = slack.ws.bot_messages("C1")
    assert msg.text == text and msg.thread_ts is None
    assert slack.status_429["chat.update"] == 1


async def test_workspace_budget_keeps_updates_below_the_limit(slack: FakeSlack) -> None:
    """Six replies updating at once, against a fake workspace limit of 600/min with a
    burst of 3: the port's own budget (below it) means Slack never answers 429."""
    slack.set_rate_limit("chat.update", per_minute=600, burst=3)
    client = build_web_client(BOT_TOKEN, slack.base_url)
    pacing = SlackPacing(
        updates=Rate(500, 3), channel_posts=Rate(6000, 50), message_edit_interval=0.05
    )
    ports = [
        SlackReplyPort(client, ReplyTarget("C1", None), pacing, recipient_user_id="U1")
        for _ in range(6)
    ]
    handles = [await p.post("a") for p in ports]
    for i in range(1, 4):
        for p, h in zip(ports, handles, strict=True):
            await p.edit(h, "a" + "b" * i)
    for p, h in zip(ports, handles, strict=True):
        await p.finish(h, "abbb!", True)
    assert all(m.text == "abbb!" for m in slack.ws.bot_messages("C1"))
    assert slack.limited_429["chat.update"] == 0
    assert pacing.updates.deferred > 0


async def test_post_over_the_channel_budget_waits_its_turn_with_the_latest_text(
    slack: FakeSlack,
) -> None:
    """Three replies posting at once into a channel whose post budget allows one now and
    then one every half second: the renderer is not held up, the queued replies go out in
    turn with their latest text (never the stale first text), and Slack never answers 429."""
    slack.set_channel_rate_limit("chat.postMessage", per_minute=150, burst=1)
    client = build_web_client(BOT_TOKEN, slack.base_url)
    pacing = SlackPacing(channel_posts=Rate(120, 1), message_edit_interval=0.05)
    ports = [
        SlackReplyPort(client, ReplyTarget("C1", None), pacing, recipient_user_id="U1")
        for _ in range(3)
    ]
    handles = [await p.post(f"reply {i}") for i, p in enumerate(ports)]
    assert [h.mode for h in handles] == ["update", "post", "post"]
    assert len(slack.calls("chat.postMessage")) == 1
    pairs = list(zip(ports, handles, strict=True))
    for i, (p, h) in enumerate(pairs):
        await p.edit(h, f"reply {i} grows")
    await asyncio.gather(*(p.finish(h, f"reply {i} done", True) for i, (p, h) in enumerate(pairs)))
    assert [m.text for m in slack.ws.bot_messages("C1")] == [f"reply {i} done" for i in range(3)]
    posted = [c.args["markdown_text"] for c in slack.calls("chat.postMessage")]
    assert posted[0] == "reply 0"
    assert [t.rsplit(" ", 1)[0] for t in posted[1:]] == ["reply 1", "reply 2"]  # in turn
    assert all(t.endswith(("grows", "done")) for t in posted[1:])
    assert slack.status_429["chat.postMessage"] == 0
    assert pacing.posts.deferred == 2
