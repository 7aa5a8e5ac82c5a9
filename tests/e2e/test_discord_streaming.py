"""Streaming on Discord end to end: clean splitting of a 6,000-character reply with a code
block, injected 429s on edits, many conversations sharing a channel's buckets and the bot's
global limit without 429s, a model error, and an interaction token that expires while the
answer is still streaming."""

from __future__ import annotations

import re
import time
from pathlib import Path

from bots.discord.pacing import Budget, Pacer
from tests.fakes.discord_fake import Fault, Limit
from tests.fakes.discord_fake.server import GLOBAL
from tests.fakes.openai_fake import Fault as ModelFault
from tests.fakes.openai_fake import Reply
from tests.harness.discord import FAST_LIMITS, DiscordEnv, fast_pacers, running_bot

FENCE = re.compile(r"^```", re.MULTILINE)


def _long_reply() -> str:
    intro = "\n".join(f"Intro line {i} explains the plan in some detail." for i in range(30))
    code = "\n".join(f"    total += compute_value({i}, factor={i % 7})" for i in range(90))
    outro = "\n".join(f"Closing remark {i}: all good here." for i in range(30))
    return f"{intro}\n\n```python\ndef main():\n{code}\n```\n\n{outro}"


async def test_six_thousand_characters_with_code_split_cleanly(tmp_path: Path) -> None:
    text = _long_reply()
    assert 5800 <= len(text) <= 7000
    async with running_bot(tmp_path) as env:
        d = env.discord
        env.openai.model.add_rule("long please", Reply(text=text, chunk_size=40))
        msg = await d.user_says(d.general["id"], d.alice["id"], f"<@{d.bot['id']}> long please")
        await env.until(lambda: d.bot_messages(msg["id"]), within=5)
        await env.engine.wait_idle()
        parts = [m["content"] for m in d.bot_messages(msg["id"])]
        assert len(parts) >= 3
        for part in parts:
            assert len(part) <= 2000
            assert len(FENCE.findall(part)) % 2 == 0, "every message closes its fences"
        inside = [p for p in parts if "compute_value" in p]
        assert len(inside) >= 2
        assert all(p.lstrip().startswith("```python") or "```python" in p for p in inside)
        # nothing lost: every line of the reply shows up, in order
        shown = "\n".join(parts).splitlines()
        lines = [ln for ln in text.splitlines() if ln.strip()]
        it = iter(shown)
        assert all(any(ln == s for s in it) for ln in lines)
        assert not d.rate_limited


async def test_edits_are_coalesced_to_about_one_per_second(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as env:
        d = env.discord
        answer = " ".join(f"word{i}" for i in range(40))
        env.openai.model.add_rule("stream", Reply(text=answer, chunk_size=6, deltas_per_second=30))
        msg = await d.user_says(d.general["id"], d.alice["id"], f"<@{d.bot['id']}> stream")
        await env.bot_text_in(msg["id"], answer, within=10)
        await env.engine.wait_idle()
        [post] = d.requests_to("POST", f"/channels/{msg['id']}/messages")
        patches = d.requests_to("PATCH", f"/channels/{msg['id']}/messages/")
        deltas = len(answer) // 6
        assert 1 <= len(patches) <= deltas // 4, "streamed in a few coalesced edits"
        assert len(patches) <= (patches[-1].at - post.at) / 0.9 + 2, "about one per second"
        assert patches[-1].body["content"] == answer


async def test_injected_429s_on_edits_lose_no_text(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as env:
        d = env.discord
        answer = "word " * 60
        env.openai.model.add_rule(
            "slowly", Reply(text=answer.strip(), chunk_size=20, deltas_per_second=14)
        )
        d.inject(Fault.rate_limit(0.05), method="PATCH", path="/messages/", times=3)
        msg = await d.user_says(d.general["id"], d.alice["id"], f"<@{d.bot['id']}> slowly")
        await env.bot_text_in(msg["id"], answer.strip(), within=10)
        assert len(d.bot_messages(msg["id"])) == 1
        hits = d.rate_limited
        assert len(hits) == 3 and all(h.injected for h in hits)
        patches = d.requests_to("PATCH", f"/channels/{msg['id']}/messages/")
        assert [p.status for p in patches[:3]] == [429, 429, 429]
        assert patches[-1].status == 200 and patches[-1].body["content"] == answer.strip()


async def test_many_conversations_in_one_channel_share_its_buckets(tmp_path: Path) -> None:
    """Answers to replies are channel messages: eight streaming at once in #general share its
    post and edit buckets, and our pacing keeps every one of them out of 429s, even when
    Discord doesn't report the limit in headers (so discord.py can't wait for it)."""
    async with running_bot(tmp_path) as env:
        d = env.discord
        d.report_limits = False
        general = d.general["id"]
        users = [d.add_member(f"user{i}") for i in range(8)]
        inters = [
            await d.slash("ask", {"prompt": f"start {i}"}, u["id"], general)
            for i, u in enumerate(users)
        ]
        for i, inter in enumerate(inters):
            await env.answer_of(inter, f"echo: start {i}")
        await env.engine.wait_idle()
        env.openai.model.deltas_per_second = 20  # ~0.6 s per answer: a post, then edits
        prompts = [f"follow-up number {i} with a few more words" for i in range(8)]
        for u, inter, prompt in zip(users, inters, prompts, strict=True):
            await d.user_says(general, u["id"], prompt, reply_to=inter.original_id)
        for prompt in prompts:
            await env.bot_text_in(general, f"echo: {prompt}", within=10)
        await env.engine.wait_idle()
        assert not d.rate_limited
        answers = [m for m in d.bot_messages(general) if not m.get("webhook_id")]
        assert len(answers) == 8 and all(m["edited_timestamp"] for m in answers)


async def test_the_whole_bot_stays_under_the_global_limit(tmp_path: Path) -> None:
    """Mentions in several channels at once (threads, typing, posts, edits) against a tight
    global limit: the bot-wide pacer spreads the requests, none is refused."""
    limits = {**FAST_LIMITS, GLOBAL: Limit(6, 0.5)}
    pacers = fast_pacers()
    pacers.requests = Pacer(Budget(6, 0.5, margin=0.1))
    async with running_bot(tmp_path, limits=limits, pacers=pacers) as env:
        d = env.discord
        asked = [
            await d.user_says(c["id"], d.alice["id"], f"<@{d.bot['id']}> question {i}")
            for i in range(3)
            for c in (d.general, d.random)
        ]
        for i, msg in enumerate(asked):
            await env.bot_text_in(msg["id"], f"echo: question {i // 2}", within=10)
        await env.engine.wait_idle()
        assert not d.rate_limited
        global_counted = [r for r in d.requests if not r.path.startswith(("/gw", "/interactions"))]
        assert len(global_counted) > 6 * 2, "enough requests to need more than two windows"


async def test_a_stricter_limit_reported_by_discord_tightens_the_budget(tmp_path: Path) -> None:
    limits = {**FAST_LIMITS, "messages_patch": Limit(3, 0.8)}
    async with running_bot(tmp_path, limits=limits) as env:
        d = env.discord
        assert env.bot.pacers.edits.budget.count == 5
        answer = " ".join(["word"] * 20)
        env.openai.model.add_rule("slowly", Reply(text=answer, chunk_size=10, deltas_per_second=8))
        msg = await d.user_says(d.general["id"], d.alice["id"], f"<@{d.bot['id']}> slowly")
        await env.bot_text_in(msg["id"], answer, within=10)
        budget = env.bot.pacers.edits.budget
        assert budget.count == 3 and 0.7 <= budget.per <= 0.8
        assert env.bot.pacers.posts.budget.count == 5


async def test_model_error_shows_a_reference_and_the_conversation_recovers(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as env:
        d = env.discord
        env.openai.inject(ModelFault.status(500), path="/chat/completions", times=1)
        inter = await d.slash("ask", {"prompt": "boom"}, d.alice["id"], d.general["id"])
        await env.until(lambda: (m := d.original(inter)) and "(ref " in m["content"])
        shown = env.text_of(inter.original_id)
        assert "ref " in shown and "Traceback" not in shown and len(shown) < 300
        # the conversation stays usable: a reply to the error message continues it
        await env.engine.wait_idle()
        await d.user_says(d.general["id"], d.alice["id"], "retry", reply_to=inter.original_id)
        await env.bot_text_in(d.general["id"], "echo: retry")


async def test_token_near_expiry_continues_as_channel_messages(tmp_path: Path) -> None:
    margin = 30.0
    async with running_bot(tmp_path, expiry_margin=margin) as env:
        d = env.discord
        answer = " ".join(f"w{i}" for i in range(120))
        env.openai.model.add_rule("expiring", Reply(text=answer, chunk_size=40))
        # The token still works for 10 s, but that is inside the adapter's margin.
        created = time.time() - 15 * 60 + 10
        inter = await d.slash(
            "ask", {"prompt": "expiring"}, d.alice["id"], d.general["id"], created_at=created
        )
        await env.until(lambda: answer in _channel_texts(env))
        await env.engine.wait_idle()
        assert _channel_texts(env) == [answer]
        assert env.text_of(inter.original_id) == "*(continued below)*"
        assert inter.followup_ids == []


async def test_token_rejected_mid_stream_continues_without_loss(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as env:
        d = env.discord
        answer = " ".join(f"w{i}" for i in range(120))
        env.openai.model.add_rule(
            "expiring", Reply(text=answer, chunk_size=40, deltas_per_second=10)
        )
        inter = await d.slash("ask", {"prompt": "expiring"}, d.alice["id"], d.general["id"])
        await env.until(lambda: (m := d.original(inter)) and m["content"].startswith("w0"))
        d.expire(inter)  # Discord rejects the token from now on
        await env.until(lambda: any(t.endswith("w119") for t in _channel_texts(env)))
        await env.engine.wait_idle()
        original = env.text_of(inter.original_id)
        [continued] = _channel_texts(env)
        assert answer.startswith(original) and original != answer
        assert (original + continued).replace(" ", "") == answer.replace(" ", "")
        assert continued.split()[-1] == "w119" and len(continued) < len(answer)


def _channel_texts(env: DiscordEnv) -> list[str]:
    """The bot's plain channel messages in #general (not interaction responses)."""
    d = env.discord
    return [m["content"] for m in d.bot_messages(d.general["id"]) if not m.get("webhook_id")]


async def test_a_failed_first_edit_of_the_original_response_is_retried_there(
    tmp_path: Path,
) -> None:
    """Under load the first edit of ``@original`` can fail its retries: the answer still goes
    into ``@original`` (not a follow-up), which never stays "thinking…"."""
    async with running_bot(tmp_path) as env:
        d = env.discord
        # one failure discord.py doesn't retry, as when its retries of a 5xx run out
        d.inject(Fault.status(400, code=50035), method="PATCH", path="/messages/@original")
        inter = await d.slash("ask", {"prompt": "hello"}, d.alice["id"], d.general["id"])
        await env.answer_of(inter, "echo: hello")
        await env.engine.wait_idle()
        assert inter.followup_ids == []
