"""Slack conversations end to end, in HTTP mode (signed requests) and Socket Mode: mentions
streamed into threads (answered once although Slack delivers them twice), follow-ups, missed
thread history within its budget, DMs and reset (message, retried delivery across a restart,
/reset slash command, a message right after a reset), the assistant pane (prompts, status, title, the viewed channel),
duplicate deliveries, events that must be ignored, bad input and model errors."""

from __future__ import annotations

import asyncio

import pytest

from bots.common.replies import take_failed, too_many_new
from bots.slack.intake import RESET_ELSEWHERE, RESET_REPLY
from core.inputs import EMPTY_REPLY
from tests.fakes.openai_fake import Fault as OpenAIFault
from tests.harness.fixtures import MakeSlackEnv
from tests.harness.slack import MENTION, MODES, SlackEnv
from tests.waiting import wait_until


@pytest.fixture(params=MODES)
async def env(request: pytest.FixtureRequest, make_slack_env: MakeSlackEnv) -> SlackEnv:
    return await make_slack_env(request.param)


def user_texts(env: SlackEnv) -> list[str]:
    """The user messages the model saw in its last call."""
    return [m["content"] for m in env.openai.model.calls[-1] if m["role"] == "user"]


async def test_mention_is_streamed_into_a_thread_once(env: SlackEnv) -> None:
    post = await env.slack.say("U1", "C1", f"{MENTION} hello there")
    await env.settle(1)
    [reply] = env.thread_replies("C1", post.ts)
    assert reply.text == "echo: hello there"
    assert reply.stream_state == "stopped"
    assert env.slack.calls("chat.startStream")[0].args["recipient_user_id"] == "U1"
    assert env.handlers.accepted == 1  # message + app_mention: answered once
    assert env.top_level_replies("C1") == []


async def test_follow_up_in_the_thread_needs_no_mention(env: SlackEnv) -> None:
    root = await env.slack.say("U1", "C1", f"{MENTION} first")
    await env.settle(1)
    await env.slack.say("U2", "C1", "second, no mention", thread_ts=root.ts)
    await env.settle(2)
    replies = env.thread_replies("C1", root.ts)
    assert [r.text for r in replies] == ["echo: first", "echo: second, no mention"]
    assert user_texts(env) == ["first", "second, no mention"]


async def test_unrelated_channel_messages_are_ignored(env: SlackEnv) -> None:
    other = await env.slack.say("U1", "C1", "just chatting")
    await env.slack.say("U2", "C1", "a reply in a thread the bot never joined", thread_ts=other.ts)
    await env.slack.join("U2", "C2")
    await env.slack.edit("C1", other.ts, "just chatting (edited)")
    await env.processed()
    assert env.handlers.accepted == 0 and env.slack.ws.bot_messages("C1") == []


async def test_mention_in_a_thread_the_bot_is_in_is_answered_once(env: SlackEnv) -> None:
    root = await env.slack.say("U1", "C1", f"{MENTION} first")
    await env.settle(1)
    # Slack delivers this both as a thread follow-up `message` and as `app_mention`
    await env.slack.say("U2", "C1", f"{MENTION} second", thread_ts=root.ts)
    await env.settle(2)
    await env.processed()
    await env.engine.wait_idle()
    assert env.handlers.accepted == 2
    assert [r.text for r in env.thread_replies("C1", root.ts)] == ["echo: first", "echo: second"]
    assert len(env.openai.model.calls) == 2


async def test_edits_deletes_and_other_bots_in_a_bot_thread_are_ignored(env: SlackEnv) -> None:
    root = await env.slack.say("U1", "C1", f"{MENTION} first")
    await env.settle(1)
    follow = await env.slack.say("U2", "C1", "a follow-up", thread_ts=root.ts)
    await env.settle(2)
    await env.slack.edit("C1", follow.ts, "a follow-up, edited")
    await env.slack.delete("C1", follow.ts)
    await env.slack.say("U9", "C1", "beep, another bot", thread_ts=root.ts, bot_id="B0OTHER01")
    await env.processed()
    await env.engine.wait_idle()
    assert env.handlers.accepted == 2
    assert len(env.thread_replies("C1", root.ts)) == 2


async def test_mention_mid_thread_starts_there_with_missed_history(env: SlackEnv) -> None:
    root = await env.slack.say("U1", "C1", "we deploy on fridays")
    await env.slack.say("U2", "C1", "is that wise?", thread_ts=root.ts)
    await env.slack.say("U1", "C1", f"{MENTION} what do you think?", thread_ts=root.ts)
    await env.settle(1)
    [reply] = env.thread_replies("C1", root.ts)
    assert reply.text.startswith("echo: Earlier in this thread:")
    [asked] = user_texts(env)
    assert "<@U1>: we deploy on fridays" in asked and "<@U2>: is that wise?" in asked
    assert asked.endswith("what do you think?")
    assert len(env.slack.calls("conversations.replies")) == 1


async def test_missed_history_is_read_within_its_budget(env: SlackEnv) -> None:
    """conversations.replies is allowed about once a minute: a second mid-thread mention
    soon after starts without the history, and without waiting."""
    roots = [await env.slack.say("U1", "C1", f"thread {i} root") for i in range(2)]
    for i, root in enumerate(roots):
        await env.slack.say("U1", "C1", f"{MENTION} question {i}", thread_ts=root.ts)
        await env.settle(i + 1)
    assert len(env.slack.calls("conversations.replies")) == 1
    assert user_texts(env) == ["question 1"]
    assert env.thread_replies("C1", roots[1].ts)[0].text == "echo: question 1"


async def test_dm_replies_under_the_message_and_reset(env: SlackEnv) -> None:
    await env.slack.dm("U1", "remember banana")
    await env.settle(1)
    dm = env.slack.ws.dm_with("U1").id
    assert [m.text for m in env.top_level_replies(dm)] == ["echo: remember banana"]
    await env.slack.dm("U1", "and apple")
    await env.settle(2)
    assert user_texts(env) == ["remember banana", "and apple"]
    await env.slack.dm("U1", "reset")
    await env.slack.wait_for(lambda: RESET_REPLY in [m.text for m in env.top_level_replies(dm)])
    await env.slack.dm("U1", "fresh start")
    await env.settle(3)
    assert user_texts(env) == ["fresh start"]
    assert env.top_level_replies(dm)[-1].text == "echo: fresh start"


async def test_dm_reset_retried_acts_once_even_after_a_restart(env: SlackEnv) -> None:
    await env.slack.dm("U1", "remember banana")
    await env.settle(1)
    dm = env.slack.ws.dm_with("U1").id
    reset = await env.slack.dm("U1", "reset")
    await wait_until(lambda: env.handlers.resets == 1)
    await env.slack.redeliver(reset.event_ids[0], retry_num=1)
    await wait_until(lambda: env.handlers.duplicates == 1)
    await env.slack.dm("U1", "after the reset")
    await env.settle(2)
    await env.restart()  # the dedupe record must outlive the process
    await env.slack.redeliver(reset.event_ids[0], retry_num=2)
    await wait_until(lambda: env.handlers.duplicates == 1)
    await env.slack.dm("U1", "still the same thread?")
    await env.settle(1)
    assert env.handlers.resets == 0
    assert user_texts(env) == ["after the reset", "still the same thread?"]
    assert [m.text for m in env.top_level_replies(dm)].count(RESET_REPLY) == 1


async def test_reset_slash_command_in_a_dm(env: SlackEnv) -> None:
    await env.slack.dm("U1", "remember banana")
    await env.settle(1)
    dm = env.slack.ws.dm_with("U1").id
    answer = await env.slack.slash_command("U1", dm, "/reset")
    assert answer.status == 200 and answer.json()["text"] == RESET_REPLY
    await wait_until(lambda: env.handlers.resets == 1)
    await env.slack.dm("U1", "fresh start")
    await env.settle(2)
    assert user_texts(env) == ["fresh start"]
    assert env.top_level_replies(dm)[-1].text == "echo: fresh start"
    payload, _ = env.slack.commands[-1]
    assert payload["command"] == "/reset" and payload["channel_id"] == dm


async def test_a_replayed_reset_command_resets_nothing(env: SlackEnv) -> None:
    dm = (await env.slack.dm("U1", "remember banana")).channel
    await env.settle(1)
    await env.slack.slash_command("U1", dm, "/reset")
    await wait_until(lambda: env.handlers.resets == 1)
    await env.slack.dm("U1", "remember apple")
    await env.settle(2)
    replayed = await env.slack.replay_command()  # the same signed request, again
    assert replayed.status == 200
    await wait_until(lambda: env.handlers.duplicates == 1)
    await env.slack.dm("U1", "what do you remember?")
    await env.settle(3)
    assert env.handlers.resets == 1
    assert user_texts(env) == ["remember apple", "what do you remember?"]


@pytest.mark.parametrize("how", ["message", "command"])
async def test_message_right_after_a_reset_lands_in_the_fresh_thread(
    env: SlackEnv, how: str
) -> None:
    """The reset is delivered while a reply is still being written, and the next message
    right after it, without waiting for the confirmation: the reply in flight finishes on
    the old thread, the next message starts the fresh one."""
    dm = env.slack.ws.dm_with("U1").id
    env.openai.model.gate = gate = asyncio.Event()
    await env.slack.dm("U1", "remember banana")
    await env.openai.model.wait_for_gate_waiters(1)  # its reply is in flight
    if how == "message":
        await env.slack.dm("U1", "reset")
    else:
        answer = await env.slack.slash_command("U1", dm, "/reset")
        assert answer.json()["text"] == RESET_REPLY
    await env.slack.dm("U1", "fresh start")
    gate.set()
    await env.settle(2)
    await env.processed()
    await env.engine.wait_idle()
    assert env.handlers.resets == 1
    first, second = env.openai.model.calls
    assert [m["content"] for m in first if m["role"] == "user"] == ["remember banana"]
    assert [m["content"] for m in second if m["role"] == "user"] == ["fresh start"]
    texts = [m.text for m in env.top_level_replies(dm)]
    assert sorted(texts) == sorted(
        ["echo: remember banana", "echo: fresh start"] + ([RESET_REPLY] if how == "message" else [])
    )


async def test_reset_slash_command_in_a_channel_explains_itself(env: SlackEnv) -> None:
    root = await env.slack.say("U1", "C1", f"{MENTION} remember banana")
    await env.settle(1)
    answer = await env.slack.slash_command("U1", "C1", "/reset")
    assert answer.json()["text"] == RESET_ELSEWHERE
    await env.slack.say("U1", "C1", "still there?", thread_ts=root.ts)
    await env.settle(2)
    assert user_texts(env) == ["remember banana", "still there?"]
    assert env.handlers.resets == 0


async def test_threaded_dm_reply_is_its_own_conversation(env: SlackEnv) -> None:
    top = await env.slack.dm("U1", "top level")
    await env.settle(1)
    dm = top.channel
    await env.slack.dm("U1", "in a thread", thread_ts=top.ts)
    await env.settle(2)
    assert [m.text for m in env.thread_replies(dm, top.ts)] == ["echo: in a thread"]
    assert user_texts(env) == ["in a thread"]
    assert env.slack.ws.assistant_threads == {}


async def test_assistant_pane_prompts_status_title_and_stream(env: SlackEnv) -> None:
    channel, thread_ts = await env.slack.open_assistant_thread("U1", context_channel="C1")
    pane = env.slack.ws.assistant_threads[(channel, thread_ts)]
    await env.slack.wait_for(lambda: pane.prompts)
    assert [p["title"] for p in pane.prompts[0]] == ["Summarise this thread", "Draft a reply"]
    await env.slack.dm("U1", "Plan my week\nwith details", thread_ts=thread_ts)
    await env.settle(1)
    assert pane.statuses == ["is thinking…"]
    assert pane.titles == ["Plan my week"]
    [reply] = env.thread_replies(channel, thread_ts)
    assert reply.text.endswith("Plan my week\nwith details") and reply.stream_state == "stopped"
    await env.slack.dm("U1", "and next week", thread_ts=thread_ts)
    await env.settle(2)
    assert pane.statuses == ["is thinking…", "is thinking…"]
    assert pane.titles == ["Plan my week"]
    assert not env.slack.calls("conversations.replies")  # our own thread-context store


async def test_assistant_pane_tells_the_model_which_channel_is_viewed(env: SlackEnv) -> None:
    channel, thread_ts = await env.slack.open_assistant_thread("U1", context_channel="C1")
    await env.handled(1)
    await env.slack.dm("U1", "summarise this", thread_ts=thread_ts)
    await env.settle(1)
    assert user_texts(env) == ["(The user is viewing <#C1>.)\n\nsummarise this"]
    await env.slack.dm("U1", "and shorter", thread_ts=thread_ts)
    await env.settle(2)
    assert user_texts(env)[-1] == "and shorter"  # told once, not on every message
    seen = env.handlers.handled
    await env.slack.change_assistant_context(channel, thread_ts, "C2")
    await env.handled(seen + 1)
    await env.slack.dm("U1", "what about here?", thread_ts=thread_ts)
    await env.settle(3)
    assert user_texts(env)[-1] == "(The user is viewing <#C2>.)\n\nwhat about here?"
    pane = env.slack.ws.assistant_threads[(channel, thread_ts)]
    assert pane.titles == ["summarise this"]
    assert not env.slack.calls("conversations.replies")


async def test_assistant_pane_without_a_context_adds_no_note(env: SlackEnv) -> None:
    channel, thread_ts = await env.slack.open_assistant_thread("U1")
    await env.handled(1)
    await env.slack.dm("U1", "hello", thread_ts=thread_ts)
    await env.settle(1)
    assert user_texts(env) == ["hello"]
    assert [r.text for r in env.thread_replies(channel, thread_ts)] == ["echo: hello"]


async def test_duplicate_delivery_with_retry_num_gets_one_reply(env: SlackEnv) -> None:
    gate = env.openai.model.gate = asyncio.Event()
    post = await env.slack.say("U1", "C1", f"{MENTION} only once")
    await env.openai.wait_for_requests("/chat/completions", 1)  # the original is running
    mention_event = post.event_ids[-1]
    await env.slack.redeliver(mention_event, retry_num=1)
    gate.set()
    await env.settle(1)
    await env.slack.redeliver(mention_event, retry_num=2)  # …and once it is done
    await wait_until(lambda: env.handlers.duplicates == 2)
    await env.engine.wait_idle()
    assert [r.text for r in env.thread_replies("C1", post.ts)] == ["echo: only once"]
    assert len(env.openai.model.calls) == 1


async def test_model_error_is_a_short_message_and_the_next_works(env: SlackEnv) -> None:
    env.openai.inject(OpenAIFault.status(500), path="/chat/completions", times=1)
    first = await env.slack.say("U1", "C1", f"{MENTION} will fail")
    await env.settle(1)
    [err] = env.thread_replies("C1", first.ts)
    assert "(ref " in err.text and len(err.text) < 200
    await env.slack.say("U1", "C1", "try again", thread_ts=first.ts)
    await env.settle(2)
    texts = [r.text for r in env.thread_replies("C1", first.ts)]
    assert texts[-1] == "echo: try again"


async def test_the_bots_own_echoes_are_ignored(env: SlackEnv) -> None:
    root = await env.slack.say("U1", "C1", f"{MENTION} hello")
    await env.settle(1)
    # the reply (a bot message in the bot's own thread) comes back as a `message` event;
    # answering it as a follow-up would make the bot talk to itself forever
    await env.slack.wait_for(
        lambda: any(p["event"].get("bot_id") for p, _, _ in env.slack.sent_events)
    )
    await env.processed()
    await env.engine.wait_idle()
    assert env.handlers.accepted == 1
    assert len(env.thread_replies("C1", root.ts)) == 1


async def test_bad_input_gets_a_short_reply(env: SlackEnv) -> None:
    only_mention = await env.slack.say("U1", "C1", MENTION)
    await env.settle(1)
    [reply] = env.thread_replies("C1", only_mention.ts)
    assert reply.text == EMPTY_REPLY
    huge = await env.slack.say("U1", "C1", f"{MENTION} " + "blah " * 5_000)
    await env.settle(2)
    [reply] = env.thread_replies("C1", huge.ts)
    assert "too long" in reply.text and len(reply.text) < 300
    odd = await env.slack.say("U1", "C1", f"{MENTION} cafe\u0301 \x00\u200b🤖 \ud800!")
    await env.settle(3)
    [reply] = env.thread_replies("C1", odd.ts)
    assert reply.text.startswith("echo: café") and "\x00" not in reply.text
    assert len(env.openai.model.calls) == 1  # only the odd but valid one reached the model


async def test_a_message_that_cannot_be_stored_is_answered_with_a_short_error(
    env: SlackEnv,
) -> None:
    """Bolt acks before the message is stored, so Slack won't redeliver it: when storing
    fails (disk full, I/O error) the user is told at once, and the next message works."""
    db = env.engine.storage.db  # type: ignore[attr-defined]
    await db.execute("PRAGMA query_only = 1")  # every write now fails, as on a full disk
    lost = await env.slack.say("U1", "C1", f"{MENTION} are you there?")
    await env.slack.wait_for(lambda: env.thread_replies("C1", lost.ts))
    [note] = env.thread_replies("C1", lost.ts)
    assert note.text.startswith(take_failed("")[: -len("(ref )")]) and "(ref " in note.text
    await db.execute("PRAGMA query_only = 0")
    again = await env.slack.say("U1", "C1", f"{MENTION} are you there?")
    await env.settle(1)
    assert [m.text for m in env.thread_replies("C1", again.ts)] == ["echo: are you there?"]


async def test_top_level_mentions_per_user_are_bounded(make_slack_env: MakeSlackEnv) -> None:
    env = await make_slack_env("socket", NEW_CONVERSATIONS_PER_USER_PER_HOUR="1")
    first = await env.slack.say("U1", "C1", f"{MENTION} first topic")
    await env.settle(1)
    second = await env.slack.say("U1", "C1", f"{MENTION} second topic")
    await env.slack.wait_for(lambda: env.thread_replies("C1", second.ts))
    assert [m.text for m in env.thread_replies("C1", second.ts)] == [too_many_new(1)]
    await env.slack.say("U1", "C1", f"{MENTION} more", thread_ts=first.ts)
    await env.settle(2)  # continuing a conversation is not a new one
    assert [m.text for m in env.thread_replies("C1", first.ts)][-1] == "echo: more"


async def test_a_burst_of_events_makes_no_extra_auth_test_calls(
    make_slack_env: MakeSlackEnv,
) -> None:
    """Bolt's authorization reuses the ``auth.test`` answer start-up got, instead of calling
    it for every event that arrives before its first own answer."""
    env = await make_slack_env("socket")
    before = len(env.slack.calls("auth.test"))
    await asyncio.gather(*(env.slack.say("U1", "C1", f"{MENTION} burst {i}") for i in range(10)))
    await env.settle(10)
    assert len(env.slack.calls("auth.test")) == before
