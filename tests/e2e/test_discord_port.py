"""The Discord reply ports against the fake Discord through the real discord.py, called the way
the core renderer calls them (post, growing edits, finish): typing until the first text, reply
references, links, shared channel pacing, and the interaction port's hand-over to channel
messages when the token nears expiry or is rejected mid-stream (no text lost or repeated)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import pytest

from bots.discord.http_pacing import RequestPacing
from bots.discord.interaction_port import InteractionPort
from bots.discord.links import AnswerLinks
from bots.discord.pacing import Pacers
from bots.discord.port import ChannelPort
from core.engine import Engine
from core.keys import ConversationKey
from tests.fakes.discord_fake import FakeDiscord, FakeInteraction
from tests.fakes.discord_fake.redirect import redirect_discord
from tests.fakes.openai_fake import FakeOpenAI
from tests.harness.discord import FAST_LIMITS, fast_pacers, settings_for
from tests.harness.observer import Recorder

FENCE = re.compile(r"^```", re.MULTILINE)
KEY = ConversationKey("discord", "g", "c", "t")


class Probe(discord.Client):
    """A plain client with the adapter's request pacing that hands over the interactions it
    receives, answering none itself."""

    def __init__(self, pacers: Pacers) -> None:
        super().__init__(
            intents=discord.Intents.default(),
            guild_ready_timeout=0.01,
            http_trace=RequestPacing(pacers).trace_config(),
        )
        self.interactions: dict[int, discord.Interaction] = {}

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        self.interactions[interaction.id] = interaction


@dataclass
class Env:
    fake: FakeDiscord
    client: Probe
    engine: Engine
    links: AnswerLinks
    pacers: Pacers
    observed: Recorder

    def channel(self, channel_id: str) -> Any:
        return self.client.get_channel(int(channel_id))

    def channel_port(self, channel_id: str, **kw: Any) -> ChannelPort:
        return ChannelPort(
            self.channel(channel_id),
            int(channel_id),
            links=self.links,
            key=KEY,
            pacers=self.pacers,
            **kw,
        )

    async def interaction(self, **kw: Any) -> tuple[FakeInteraction, discord.Interaction]:
        d = self.fake
        inter = await d.slash("ask", {"prompt": "q"}, d.alice["id"], d.general["id"], **kw)
        got = await d.wait_for(lambda: self.client.interactions.get(int(inter.id)))
        await got.response.defer(thinking=True)
        return inter, got

    def interaction_port(self, interaction: discord.Interaction, margin: float) -> InteractionPort:
        return InteractionPort(
            interaction, links=self.links, key=KEY, pacers=self.pacers, expiry_margin=margin
        )

    def channel_texts(self) -> list[str]:
        """Texts of the bot's plain channel messages (not interaction responses) in #general."""
        return [
            m["content"]
            for m in self.fake.bot_messages(self.fake.general["id"])
            if not m.get("webhook_id")
        ]


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with FakeOpenAI() as openai, FakeDiscord(limits=FAST_LIMITS) as fake:
        engine = await settings_for(openai, fake, tmp_path / "t.db").engine()
        pacers = fast_pacers()
        client = Probe(pacers)
        with redirect_discord(fake):
            task = asyncio.create_task(client.start(fake.token))
            try:
                await fake.wait_for(client.is_ready)
                observed = Recorder()
                links = AnswerLinks(engine.state, observe=observed)
                yield Env(fake, client, engine, links, pacers, observed)
            finally:
                await client.close()
                await asyncio.gather(task, return_exceptions=True)
                await engine.close()


# --- ChannelPort --------------------------------------------------------------------------------
async def test_typing_until_the_first_text_then_post_edit_finish(env: Env) -> None:
    d = env.fake
    port = env.channel_port(d.general["id"])
    await port.show_thinking()
    await d.wait_for(lambda: d.world.typing)
    handle = await port.post("Hello")
    assert port._typing is not None
    await asyncio.wait_for(port._typing, 1)  # typing stops with the first post
    [msg] = d.bot_messages(d.general["id"])
    assert msg["content"] == "Hello"
    await port.edit(handle, "Hello there")  # sent in the background
    await d.wait_for(lambda: env.channel_texts() == ["Hello there"])
    patches = len(d.requests_to("PATCH", "/messages/"))
    await port.finish(handle, "Hello there", False)  # unchanged: no call
    assert len(d.requests_to("PATCH", "/messages/")) == patches
    await port.finish(handle, "Hello there, done.", True)
    assert env.channel_texts() == ["Hello there, done."]
    assert await env.engine.state.conversation_for_message("discord", msg["id"]) == KEY


async def test_only_the_first_message_is_a_reply_and_every_message_is_linked(env: Env) -> None:
    d = env.fake
    user_msg = await d.user_says(d.general["id"], d.alice["id"], "question")
    trigger = await env.channel(d.general["id"]).fetch_message(int(user_msg["id"]))
    port = env.channel_port(d.general["id"], reply_to=trigger)
    await port.post("part one")
    await port.post("part two")
    first, second = d.bot_messages(d.general["id"])
    assert first["message_reference"]["message_id"] == user_msg["id"]
    assert "message_reference" not in second
    assert not first["mentions"], "the reply does not ping the author"
    for m in (first, second):
        assert await env.engine.state.conversation_for_message("discord", m["id"]) == KEY


async def test_many_replies_in_one_channel_share_its_edit_budget(env: Env) -> None:
    d = env.fake
    d.report_limits = False  # so discord.py can't pace from headers: our pacing must
    ports = [env.channel_port(d.general["id"]) for _ in range(6)]
    handles = [await p.post(f"reply {i}") for i, p in enumerate(ports)]

    async def stream(i: int) -> None:
        for n in range(1, 5):
            await ports[i].edit(handles[i], f"reply {i}" + " more" * n)
        await ports[i].finish(handles[i], f"reply {i}" + " more" * 4, False)

    await asyncio.gather(*(stream(i) for i in range(6)))
    assert not d.rate_limited
    assert len(d.requests_to("PATCH", "/messages/")) >= 6, "more edits than one window holds"
    texts = sorted(m["content"] for m in d.bot_messages(d.general["id"]))
    assert texts == sorted(f"reply {i}" + " more" * 4 for i in range(6))


async def test_an_edit_waiting_for_room_sends_the_newest_text(env: Env) -> None:
    d = env.fake
    env.pacers.edits.tighten(1, 0.5)  # one edit per 0.55 s in this channel
    port = env.channel_port(d.general["id"])
    handle = await port.post("v0")
    await port.edit(handle, "v1")
    await d.wait_for(lambda: d.requests_to("PATCH", "/messages/"))
    for text in ("v2", "v3", "v4"):  # while the channel's edit budget is spent
        await port.edit(handle, text)
    await port.finish(handle, "v5 final", True)
    bodies = [r.body["content"] for r in d.requests_to("PATCH", "/messages/")]
    assert bodies == ["v1", "v5 final"]
    assert env.channel_texts() == ["v5 final"]


# --- InteractionPort ----------------------------------------------------------------------------
async def test_the_answer_streams_into_the_original_response_then_follow_ups(env: Env) -> None:
    d = env.fake
    inter, interaction = await env.interaction()
    port = env.interaction_port(interaction, margin=30)
    await port.show_thinking()  # the deferred response is the indicator: nothing sent
    first = await port.post("first part")
    assert d.original(inter)["content"] == "first part"  # type: ignore[index]
    await port.edit(first, "first part, edited")
    second = await port.post("second part")
    assert [d.world.messages[i]["content"] for i in inter.followup_ids] == ["second part"]
    await port.finish(first, "first part, edited", False)
    await port.finish(second, "second part, final", True)
    assert d.original(inter)["content"] == "first part, edited"  # type: ignore[index]
    assert d.world.messages[inter.followup_ids[0]]["content"] == "second part, final"
    assert env.channel_texts() == []
    for mid in (inter.original_id, inter.followup_ids[0]):
        assert await env.engine.state.conversation_for_message("discord", str(mid)) == KEY


async def test_nearing_expiry_mid_message_hands_over_without_loss_or_repeats(env: Env) -> None:
    d = env.fake
    inter, interaction = await env.interaction()
    port = env.interaction_port(interaction, margin=30)
    text = "Intro line.\n```python\ndef f():\n    return 1\n"
    handle = await port.post(text)
    port.expiry_margin = 15 * 60  # from now on the token is inside the margin
    text += "\ndef g():\n    return 2\n"
    await port.edit(handle, text)
    original = d.original(inter)["content"]  # type: ignore[index]
    assert original.endswith("\n```") and len(FENCE.findall(original)) == 2
    [continued] = env.channel_texts()
    assert continued.startswith("```python\n")
    text += "```\nThat is all."
    await port.finish(handle, text, True)
    [continued] = env.channel_texts()
    assert len(FENCE.findall(continued)) == 2 and continued.endswith("That is all.")
    rebuilt = original.removesuffix("\n```") + "\n" + continued.removeprefix("```python\n")
    assert rebuilt == text
    assert d.original(inter)["content"] == original  # type: ignore[index]
    second = await port.post("A second message.")  # past the margin: a channel message
    assert env.channel_texts()[-1] == "A second message." and inter.followup_ids == []
    assert second.message is not None
    [cont_msg, _] = [m for m in d.bot_messages(d.general["id"]) if not m.get("webhook_id")]
    assert await env.engine.state.conversation_for_message("discord", cont_msg["id"]) == KEY


async def test_a_token_rejected_mid_stream_continues_exactly_where_it_stopped(env: Env) -> None:
    d = env.fake
    inter, interaction = await env.interaction()
    port = env.interaction_port(interaction, margin=30)
    words = [f"w{i}" for i in range(40)]
    shown = " ".join(words[:10]) + " w1"  # stopped mid-word
    handle = await port.post(shown)
    d.expire(inter)
    await port.edit(handle, " ".join(words[:25]))
    await port.edit(handle, " ".join(words[:32]))
    await port.finish(handle, " ".join(words), True)
    assert d.original(inter)["content"] == shown  # type: ignore[index]
    [continued] = env.channel_texts()
    assert shown + continued == " ".join(words)
    rejected = [r for r in d.requests_to("PATCH", inter.token) if r.status == 401]
    assert len(rejected) == 1, "the token is given up after the first rejection"


async def test_finishing_inside_the_margin_still_lands_in_the_original(env: Env) -> None:
    d = env.fake
    inter, interaction = await env.interaction()
    port = env.interaction_port(interaction, margin=30)
    handle = await port.post("Almost")
    port.expiry_margin = 15 * 60
    await port.finish(handle, "Almost done, all of it.", True)
    assert d.original(inter)["content"] == "Almost done, all of it."  # type: ignore[index]
    assert env.channel_texts() == []


async def test_a_token_past_the_margin_before_any_text_goes_to_the_channel(env: Env) -> None:
    d = env.fake
    inter, interaction = await env.interaction()
    port = env.interaction_port(interaction, margin=15 * 60)
    handle = await port.post("All of it here.")
    await port.finish(handle, "All of it here, finished.", True)
    assert d.original(inter)["content"] == "*(continued below)*"  # type: ignore[index]
    assert env.channel_texts() == ["All of it here, finished."]


async def test_a_reply_to_a_message_in_flight_waits_for_its_link(env: Env) -> None:
    d = env.fake
    general = int(d.general["id"])
    hold = d.hold(method="POST", path="/messages")
    port = env.channel_port(d.general["id"])
    posting = asyncio.create_task(port.post("the answer"))
    await d.wait_for(hold.held.is_set)
    [answer] = d.bot_messages(d.general["id"])
    lookup = asyncio.create_task(env.links.conversation_of(general, int(answer["id"])))
    await d.wait_for(lambda: int(answer["id"]) in env.observed.waiting)
    hold.release()
    assert await lookup == KEY
    await posting
    # nothing in flight: an unknown message is answered at once, without waiting
    assert await env.links.conversation_of(general, 1234) is None
    assert env.observed.waited == 1


async def test_a_link_that_never_comes_is_given_up_after_the_bound(env: Env) -> None:
    d = env.fake
    observed = Recorder()
    links = AnswerLinks(env.engine.state, wait_limit=0.2, observe=observed)
    async with links.posting(int(d.general["id"])):
        assert await links.conversation_of(int(d.general["id"]), 999) is None
    assert observed.waited == 1 and not observed.waiting
