"""Discord conversations end to end: /ask (+ a reply continuing it, even one sent before the
answer is linked), 20 concurrent /ask, /chat threads with follow-ups, mentions, DMs, slash
commands inside threads and DMs, /reset, other people's threads, ignored messages and bad
input."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bots.common.replies import too_many_new
from bots.discord.commands import RESET_DONE, RESET_NOTHING, RESET_REFUSED
from bots.discord.rights import ANSWER_REFUSED, THREAD_REFUSED
from core.inputs import EMPTY_REPLY, clean_text
from tests.fakes.discord_fake import FakeInteraction, Fault
from tests.fakes.discord_fake import permissions as perms
from tests.fakes.discord_fake.faults import Hold
from tests.harness.discord import DiscordEnv, running_bot

EPHEMERAL, LOADING = 64, 128


def _user_texts(messages: list[dict[str, object]]) -> list[object]:
    return [m["content"] for m in messages if m["role"] == "user"]


async def test_ask_defers_streams_and_a_reply_continues_it(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as env:
        d = env.discord
        inter = await d.slash("ask", {"prompt": "hello there"}, d.alice["id"], d.general["id"])
        await env.answer_of(inter, "echo: hello there")
        assert inter.callback_type == 5  # deferred with "thinking"
        original = d.original(inter)
        assert original is not None and not original["flags"] & (LOADING | EPHEMERAL)
        callback = d.requests_to("POST", "/callback")[0]
        first_edit = d.requests_to("PATCH", "/messages/@original")[0]
        assert callback.at <= first_edit.at
        await env.engine.wait_idle()  # the answer is linked to its conversation
        # A Discord reply to the answer continues that conversation, as a reply message.
        reply = await d.user_says(
            d.general["id"], d.alice["id"], "and more", reply_to=inter.original_id
        )
        await env.bot_text_in(d.general["id"], "echo: and more")
        answer = next(
            m for m in d.bot_messages(d.general["id"]) if m["content"] == "echo: and more"
        )
        assert answer["message_reference"]["message_id"] == reply["id"]
        assert _user_texts(env.openai.model.calls[-1]) == ["hello there", "and more"]
        # ...and a reply to that second answer still belongs to the same conversation.
        await env.engine.wait_idle()
        await d.user_says(d.general["id"], d.bob["id"], "third", reply_to=answer["id"])
        await env.bot_text_in(d.general["id"], "echo: third")
        assert _user_texts(env.openai.model.calls[-1]) == ["hello there", "and more", "third"]


async def test_twenty_concurrent_asks_in_one_channel(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as env:
        d = env.discord
        env.openai.model.deltas_per_second = 25  # ~1.3 s per answer: several edits each
        users = [d.add_member(f"user{i}") for i in range(20)]
        prompts = [f"question number {i} " + "padding " * 3 for i in range(20)]
        inters = await asyncio.gather(
            *(
                d.slash("ask", {"prompt": p}, u["id"], d.general["id"])
                for u, p in zip(users, prompts, strict=True)
            )
        )
        for inter, prompt in zip(inters, prompts, strict=True):
            await env.answer_of(inter, f"echo: {prompt.strip()}", within=10)
        assert len({i.original_id for i in inters}) == 20
        for inter in inters:
            patches = [r for r in d.requests_to("PATCH", inter.token) if r.status == 200]
            assert len(patches) >= 2, "each answer streamed (first text, then more)"
        assert not d.rate_limited
        # each answer is its own conversation
        assert all(_user_texts(c)[:-1] == [] for c in env.openai.model.calls)


async def test_chat_opens_a_public_thread_and_follow_ups_need_no_mention(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as env:
        d = env.discord
        inter = await d.slash(
            "chat", {"prompt": "Plan the  team offsite\nin May"}, d.alice["id"], d.general["id"]
        )
        threads = await env.until(lambda: d.threads_of(d.general["id"]))
        thread = threads[0]
        assert thread["type"] == 11 and thread["name"] == "Plan the team offsite in May"
        await env.bot_text_in(thread["id"], "echo: Plan the  team offsite\nin May")
        notice = d.original(inter)
        assert notice is not None and f"<#{thread['id']}>" in notice["content"]
        await d.user_says(thread["id"], d.alice["id"], "what about June?")
        await env.bot_text_in(thread["id"], "echo: what about June?")
        assert _user_texts(env.openai.model.calls[-1]) == [
            "Plan the  team offsite\nin May",
            "what about June?",
        ]


async def test_mention_in_a_channel_creates_a_thread(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as env:
        d = env.discord
        msg = await d.user_says(d.general["id"], d.bob["id"], f"<@{d.bot['id']}> summarise this")
        await env.bot_text_in(msg["id"], "echo: summarise this")  # thread id = message id
        thread = d.world.channels[msg["id"]]
        assert thread["type"] == 11 and thread["parent_id"] == d.general["id"]
        assert thread["name"] == "summarise this"
        # A mention inside the thread answers there too.
        await d.user_says(msg["id"], d.alice["id"], f"<@{d.bot['id']}> and you?")
        await env.bot_text_in(msg["id"], "echo: and you?")
        # No mention and no bot thread: ignored.
        await d.user_says(d.general["id"], d.bob["id"], "just chatting")
        await env.engine.wait_idle()
        assert len(env.openai.model.calls) == 2


async def test_typing_shows_while_waiting_for_the_first_delta(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as env:
        d = env.discord
        env.openai.model.gate = asyncio.Event()  # the model holds its first delta
        msg = await d.user_says(d.general["id"], d.alice["id"], f"<@{d.bot['id']}> slow one")
        await env.until(lambda: d.world.typing)
        assert d.world.typing[0][0] == msg["id"] and not d.bot_messages(msg["id"])
        env.openai.model.gate.set()
        await env.bot_text_in(msg["id"], "echo: slow one")
        await env.engine.wait_idle()
        assert len(d.world.typing) == 1


async def test_dm_is_answered_in_the_dm(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as env:
        d = env.discord
        msg = await d.dm(d.alice["id"], "hi in private")
        await env.bot_text_in(msg["channel_id"], "echo: hi in private")
        await d.dm(d.alice["id"], "again")
        await env.bot_text_in(msg["channel_id"], "echo: again")
        assert _user_texts(env.openai.model.calls[-1]) == ["hi in private", "again"]


async def test_reset_is_ephemeral_and_starts_fresh(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as env:
        d = env.discord
        msg = await d.user_says(d.general["id"], d.alice["id"], f"<@{d.bot['id']}> first")
        await env.bot_text_in(msg["id"], "echo: first")
        reset = await d.slash("reset", {}, d.alice["id"], msg["id"])
        await env.answer_of(reset, RESET_DONE)
        original = d.original(reset)
        assert original is not None and original["flags"] & EPHEMERAL
        await d.user_says(msg["id"], d.alice["id"], "second")
        await env.bot_text_in(msg["id"], "echo: second")
        assert _user_texts(env.openai.model.calls[-1]) == ["second"]
        # In a plain channel there is nothing to reset.
        plain = await d.slash("reset", {}, d.alice["id"], d.general["id"])
        await env.answer_of(plain, RESET_NOTHING)


async def test_only_the_starter_or_a_moderator_resets_a_thread(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as env:
        d = env.discord
        msg = await d.user_says(d.general["id"], d.alice["id"], f"<@{d.bot['id']}> mine")
        await env.bot_text_in(msg["id"], "echo: mine")
        refused = await d.slash("reset", {}, d.bob["id"], msg["id"])
        await env.answer_of(refused, RESET_REFUSED)
        await d.user_says(msg["id"], d.alice["id"], "still here")
        await env.bot_text_in(msg["id"], "echo: still here")
        assert _user_texts(env.openai.model.calls[-1]) == ["mine", "still here"]
        # a /chat thread belongs to whoever ran /chat
        chat = await d.slash("chat", {"prompt": "bob's topic"}, d.bob["id"], d.general["id"])
        await env.until(lambda: len(d.threads_of(d.general["id"])) == 2)
        bobs = d.threads_of(d.general["id"])[-1]["id"]
        await env.bot_text_in(bobs, "echo: bob's topic")
        assert chat.original_id is not None
        refused = await d.slash("reset", {}, d.alice["id"], bobs)
        await env.answer_of(refused, RESET_REFUSED)
        # a moderator (Manage Messages) may reset anyone's
        mods = d.world.add_role(d.guild["id"], "Mods", perms.MANAGE_MESSAGES)
        carol = d.add_member("carol", roles=[mods["id"]])
        cleared = await d.slash("reset", {}, carol["id"], msg["id"])
        await env.answer_of(cleared, RESET_DONE)
        await d.user_says(msg["id"], d.alice["id"], "fresh")
        await env.bot_text_in(msg["id"], "echo: fresh")
        assert _user_texts(env.openai.model.calls[-1]) == ["fresh"]


async def test_the_bot_does_nothing_for_a_member_they_could_not_do_themselves(
    tmp_path: Path,
) -> None:
    """Mentions, /chat and /ask post or open threads on the member's behalf: where they may
    not create threads or send messages, the bot refuses (privately for commands)."""
    async with running_bot(tmp_path) as env:
        d = env.discord
        gid = d.guild["id"]
        no_threads = {"id": gid, "type": 0, "allow": "0", "deny": str(perms.CREATE_PUBLIC_THREADS)}
        quiet = d.random
        quiet["permission_overwrites"] = [no_threads]
        await d.dispatch("CHANNEL_UPDATE", quiet)
        cached = env.bot.get_channel(int(quiet["id"]))
        await env.until(lambda: cached is not None and cached.overwrites)  # type: ignore[union-attr]
        ping = await d.user_says(quiet["id"], d.alice["id"], f"<@{d.bot['id']}> open a thread")
        await env.until(lambda: d.bot_messages(quiet["id"]))
        [note] = d.bot_messages(quiet["id"])
        assert note["content"] == THREAD_REFUSED
        assert (note.get("message_reference") or {}).get("message_id") == ping["id"]
        chat = await d.slash("chat", {"prompt": "a thread please"}, d.alice["id"], quiet["id"])
        await env.answer_of(chat, THREAD_REFUSED)
        announcements = d.announcements["id"]  # only moderators may send messages there
        ask = await d.slash("ask", {"prompt": "post this"}, d.alice["id"], announcements)
        await env.answer_of(ask, ANSWER_REFUSED)
        for refused in (chat, ask):
            original = d.original(refused)
            assert original is not None and original["flags"] & EPHEMERAL
        assert d.threads_of(quiet["id"]) == [] and env.openai.model.calls == []
        allowed = await d.slash("ask", {"prompt": "post this"}, d.bob["id"], announcements)
        await env.answer_of(allowed, "echo: post this")


async def test_new_conversations_per_user_are_bounded(tmp_path: Path) -> None:
    """Each mention opens a thread: one user can't make the bot open them without end."""
    async with running_bot(tmp_path, NEW_CONVERSATIONS_PER_USER_PER_HOUR="2") as env:
        d = env.discord
        general = d.general["id"]
        for i in range(2):
            msg = await d.user_says(general, d.alice["id"], f"<@{d.bot['id']}> topic {i}")
            await env.bot_text_in(msg["id"], f"echo: topic {i}")
        third = await d.user_says(general, d.alice["id"], f"<@{d.bot['id']}> topic 2")
        await env.until(
            lambda: any(
                (m.get("message_reference") or {}).get("message_id") == third["id"]
                for m in d.bot_messages(general)
            )
        )
        [note] = [m for m in d.bot_messages(general) if m.get("message_reference")]
        assert note["content"] == too_many_new(2)
        ask = await d.slash("ask", {"prompt": "and this?"}, d.alice["id"], general)
        await env.answer_of(ask, too_many_new(2))
        assert len(d.threads_of(general)) == 2
        other = await d.user_says(general, d.bob["id"], f"<@{d.bot['id']}> mine")
        await env.bot_text_in(other["id"], "echo: mine")  # the quota is per user


async def test_bots_and_system_messages_are_ignored(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as env:
        d = env.discord
        robot = d.add_member("robot", bot=True)
        msg = await d.user_says(d.general["id"], d.alice["id"], f"<@{d.bot['id']}> start")
        await env.bot_text_in(msg["id"], "echo: start")
        await d.user_says(msg["id"], robot["id"], "beep boop")
        await d.system_message(msg["id"], d.alice["id"])
        await d.user_says(msg["id"], d.alice["id"], "a real follow-up")
        await env.bot_text_in(msg["id"], "echo: a real follow-up")
        assert _user_texts(env.openai.model.calls[-1]) == ["start", "a real follow-up"]


async def test_a_failing_command_answers_ephemerally_with_a_reference(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as env:
        d = env.discord
        d.inject(Fault.status(403, 50013, "Missing Permissions"), method="POST", path="/threads")
        inter = await d.slash("chat", {"prompt": "start"}, d.alice["id"], d.general["id"])
        await env.until(lambda: inter.followup_ids)
        note = d.world.messages[inter.followup_ids[0]]
        assert note["flags"] & EPHEMERAL and "(ref " in note["content"]
        original = d.original(inter)
        assert original is not None and original.get("deleted")
        # the bot keeps working
        ok = await d.slash("ask", {"prompt": "still there?"}, d.alice["id"], d.general["id"])
        await env.answer_of(ok, "echo: still there?")


async def _answer_posting(env: DiscordEnv) -> tuple[FakeInteraction, Hold, dict[str, Any]]:
    """Alice asks "hello" with /ask, then replies "and more" to the answer; the bot's answer
    to that is created (and echoed on the gateway) but its POST is held, so it is not linked
    yet."""
    d = env.discord
    inter = await d.slash("ask", {"prompt": "hello"}, d.alice["id"], d.general["id"])
    await env.answer_of(inter, "echo: hello")
    await env.engine.wait_idle()
    general = d.general["id"]
    hold = d.hold(method="POST", path=f"/channels/{general}/messages")
    first = await d.user_says(general, d.alice["id"], "and more", reply_to=inter.original_id)
    await env.until(hold.held.is_set)
    answer = next(
        m
        for m in d.bot_messages(general)
        if (m.get("message_reference") or {}).get("message_id") == first["id"]
    )
    return inter, hold, answer


async def test_a_reply_sent_the_moment_the_answer_appears_continues_it(tmp_path: Path) -> None:
    """The answer's MESSAGE_CREATE reaches the gateway before our POST returns (and before the
    answer is linked): a reply sent right then still continues the conversation."""
    async with running_bot(tmp_path) as env:
        d = env.discord
        general = d.general["id"]
        _, hold, answer = await _answer_posting(env)
        await d.user_says(general, d.bob["id"], "third", reply_to=answer["id"])
        await env.until(lambda: int(answer["id"]) in env.observed.waiting)
        hold.release()
        await env.bot_text_in(general, "echo: third")
        assert _user_texts(env.openai.model.calls[-1]) == ["hello", "and more", "third"]
        assert env.observed.waited == 1


async def test_messages_of_a_channel_reach_the_engine_in_arrival_order(tmp_path: Path) -> None:
    """A reply whose lookup is slow (the answer it replies to is still being posted) and a
    fast message right after it, in one conversation: answered in the order they arrived."""
    async with running_bot(tmp_path) as env:
        d = env.discord
        general = d.general["id"]
        inter, hold, answer = await _answer_posting(env)
        await d.user_says(general, d.bob["id"], "slow", reply_to=answer["id"])
        await env.until(lambda: int(answer["id"]) in env.observed.waiting)
        assert env.observed.accepted == 1  # "and more"
        await d.user_says(general, d.alice["id"], "fast", reply_to=inter.original_id)
        # "fast" is either handed to the engine already (out of order) or waits behind "slow"
        await env.until(
            lambda: env.observed.accepted == 2 or env.bot.intake.order.in_line(int(general)) == 2
        )
        hold.release()
        await env.bot_text_in(general, "echo: fast")
        await env.engine.wait_idle()
        assert _user_texts(env.openai.model.calls[-1]) == ["hello", "and more", "slow", "fast"]


async def test_a_reply_referencing_another_channels_answer_is_not_a_continuation(
    tmp_path: Path,
) -> None:
    """A reply reference to a bot answer in a DM must not pull that DM's conversation (and
    its history) into a public channel."""
    async with running_bot(tmp_path) as env:
        d = env.discord
        dm = await d.dm(d.alice["id"], "my secret is banana")
        await env.bot_text_in(dm["channel_id"], "echo: my secret is banana")
        await env.engine.wait_idle()
        [answer] = d.bot_messages(dm["channel_id"])
        general = d.general["id"]
        await d.user_says(general, d.bob["id"], "what is her secret?", reply_to=answer["id"])
        ping = await d.user_says(general, d.bob["id"], f"<@{d.bot['id']}> ping")
        await env.bot_text_in(ping["id"], "echo: ping")  # later messages are handled…
        await env.engine.wait_idle()
        assert len(env.openai.model.calls) == 2  # …but the cross-channel reply was not
        assert all("banana" not in str(m) for m in env.openai.model.calls[-1])
        assert not any("secret" in m["content"] for m in d.bot_messages(general))


async def test_a_reply_to_someone_elses_message_is_not_a_continuation(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as env:
        d = env.discord
        general = d.general["id"]
        other = await d.user_says(general, d.bob["id"], "a plain message")
        await d.user_says(general, d.alice["id"], "agreed", reply_to=other["id"])
        ping = await d.user_says(general, d.alice["id"], f"<@{d.bot['id']}> ping")
        await env.bot_text_in(ping["id"], "echo: ping")
        await env.engine.wait_idle()
        assert len(env.openai.model.calls) == 1 and env.observed.waited == 0


async def test_slash_commands_in_a_bot_thread_or_a_dm_continue_that_conversation(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as env:
        d = env.discord
        general, alice = d.general["id"], d.alice["id"]
        msg = await d.user_says(general, alice, f"<@{d.bot['id']}> start here")
        await env.bot_text_in(msg["id"], "echo: start here")
        await env.engine.wait_idle()
        ask = await d.slash("ask", {"prompt": "asked in the thread"}, alice, msg["id"])
        await env.answer_of(ask, "echo: asked in the thread")
        assert _user_texts(env.openai.model.calls[-1]) == ["start here", "asked in the thread"]
        await env.engine.wait_idle()
        chat = await d.slash("chat", {"prompt": "chat in the thread"}, alice, msg["id"])
        await env.answer_of(chat, "echo: chat in the thread")  # answered right there
        assert _user_texts(env.openai.model.calls[-1]) == [
            "start here",
            "asked in the thread",
            "chat in the thread",
        ]
        assert len(d.threads_of(general)) == 1, "no new thread from inside a thread"
        dm = await d.dm(alice, "private hello")
        dm_channel = dm["channel_id"]
        await env.bot_text_in(dm_channel, "echo: private hello")
        await env.engine.wait_idle()
        in_dm = await d.slash("ask", {"prompt": "slash in the dm"}, alice, dm_channel)
        await env.answer_of(in_dm, "echo: slash in the dm")
        assert _user_texts(env.openai.model.calls[-1]) == ["private hello", "slash in the dm"]
        await env.engine.wait_idle()
        reset = await d.slash("reset", {}, alice, dm_channel)
        await env.answer_of(reset, RESET_DONE)
        await d.dm(alice, "fresh start")
        await env.bot_text_in(dm_channel, "echo: fresh start")
        assert _user_texts(env.openai.model.calls[-1]) == ["fresh start"]


async def test_in_someone_elses_thread_only_mentions_and_replies_are_answered(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as env:
        d = env.discord
        thread = await d.user_thread(d.general["id"], d.bob["id"], "bob's thread")
        tid = thread["id"]
        await d.user_says(tid, d.bob["id"], "just us talking")
        await d.user_says(tid, d.bob["id"], f"<@{d.bot['id']}> help here")
        await env.bot_text_in(tid, "echo: help here")
        await env.engine.wait_idle()
        await d.user_says(tid, d.alice["id"], "thanks bob")  # not for the bot
        [answer] = d.bot_messages(tid)
        await d.user_says(tid, d.bob["id"], "and more?", reply_to=answer["id"])
        await env.bot_text_in(tid, "echo: and more?")
        await env.engine.wait_idle()
        assert len(env.openai.model.calls) == 2
        assert _user_texts(env.openai.model.calls[-1]) == ["help here", "and more?"]


async def test_bad_input_gets_a_short_reply_never_silence(tmp_path: Path) -> None:
    async with running_bot(tmp_path, MAX_INPUT_CHARS=100) as env:
        d = env.discord
        alice = d.alice["id"]
        only_mention = await d.user_says(d.general["id"], alice, f"<@{d.bot['id']}>")
        await env.bot_text_in(only_mention["id"], EMPTY_REPLY)
        assert d.world.channels[only_mention["id"]]["name"] == "Conversation"
        dm = await d.dm(alice, "", attachments=["photo.png"])
        await env.bot_text_in(dm["channel_id"], EMPTY_REPLY)
        await d.dm(alice, "\x00\x07\u0085")
        await env.until(
            lambda: [m["content"] for m in d.bot_messages(dm["channel_id"])].count(EMPTY_REPLY) == 2
        )
        await d.dm(alice, "long " * 30)
        await env.until(
            lambda: any("too long" in m["content"] for m in d.bot_messages(dm["channel_id"]))
        )
        blank = await d.slash("ask", {"prompt": "   "}, alice, d.general["id"])
        await env.answer_of(blank, EMPTY_REPLY)
        odd = "\u202e𝔘𝔫𝔦𝔠𝔬𝔡𝔢 🏳️‍🌈 e\u0301 ok"
        msg = await d.user_says(d.general["id"], alice, f"<@{d.bot['id']}> {odd}")
        await env.bot_text_in(msg["id"], f"echo: {clean_text(odd)}")
        name = d.world.channels[msg["id"]]["name"]
        assert 0 < len(name) <= 100 and "🏳️‍🌈" in name
        await env.engine.wait_idle()
        assert len(env.openai.model.calls) == 1, "bad input never reaches the model"


async def test_a_mention_that_cannot_get_a_thread_gets_a_short_error(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as env:
        d = env.discord
        d.inject(Fault.status(403, 50013, "Missing Permissions"), method="POST", path="/threads")
        msg = await d.user_says(d.general["id"], d.alice["id"], f"<@{d.bot['id']}> hello?")
        [note] = await env.until(lambda: d.bot_messages(d.general["id"]))
        assert note["content"].startswith("Sorry") and "(ref " in note["content"]
        assert note["message_reference"]["message_id"] == msg["id"]
        again = await d.user_says(d.general["id"], d.alice["id"], f"<@{d.bot['id']}> retry")
        await env.bot_text_in(again["id"], "echo: retry")  # the bot keeps working
