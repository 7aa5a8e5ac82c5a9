"""The fake Discord itself, exercised by a real discord.py client over HTTP and WebSocket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import discord
import pytest
from discord import app_commands

from tests.fakes.discord_fake import FakeDiscord, Fault, Limit
from tests.fakes.discord_fake.redirect import redirect_discord
from tests.fakes.discord_fake.server import GLOBAL


class Recorder(discord.Client):
    def __init__(self, intents: discord.Intents) -> None:
        super().__init__(intents=intents, guild_ready_timeout=0.01)
        self.tree = app_commands.CommandTree(self)
        self.seen: list[discord.Message] = []
        self.edits: list[discord.RawMessageUpdateEvent] = []
        self.threads: list[discord.Thread] = []
        self.ready = asyncio.Event()

        @self.tree.command(name="ask", description="Ask")
        async def ask(interaction: discord.Interaction, prompt: str) -> None:
            await interaction.response.defer(thinking=True)
            await interaction.edit_original_response(content=f"partial {prompt}")
            await interaction.edit_original_response(content=f"final {prompt}")
            await interaction.followup.send("more", wait=True)

    async def setup_hook(self) -> None:
        await self.tree.sync()

    async def on_ready(self) -> None:
        self.ready.set()

    async def on_message(self, message: discord.Message) -> None:
        self.seen.append(message)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        self.edits.append(payload)

    async def on_thread_create(self, thread: discord.Thread) -> None:
        self.threads.append(thread)


def _intents() -> discord.Intents:
    intents = discord.Intents.default()
    intents.message_content = True
    return intents


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as f:
        with redirect_discord(f):
            yield f


@pytest.fixture
async def client(fake: FakeDiscord) -> AsyncIterator[Recorder]:
    c = Recorder(_intents())
    task = asyncio.create_task(c.start(fake.token))
    try:
        async with asyncio.timeout(5):
            await c.ready.wait()
        yield c
    finally:
        await c.close()
        await asyncio.gather(task, return_exceptions=True)


async def test_ready_guild_and_command_sync(fake: FakeDiscord, client: Recorder) -> None:
    guild = client.get_guild(int(fake.guild["id"]))
    assert guild is not None
    assert {c.name for c in guild.text_channels} == {"general", "random", "announcements"}
    assert guild.me is not None and guild.get_member(int(fake.alice["id"])) is None
    alice = await guild.fetch_member(int(fake.alice["id"]))
    assert [r.name for r in alice.roles] == ["@everyone", "Member"]
    assert [m.name for m in await guild.query_members("bo")] == ["bob"]
    assert [c["name"] for c in fake.world.commands["global"]] == ["ask"]
    assert fake.requests_to("GET", "/users/@me")
    gw = fake.gateway.sessions[0]
    assert {1, 2, 8} <= {p["op"] for p in gw.received}  # heartbeat, identify, member query


async def test_messages_edits_threads_reactions_typing(fake: FakeDiscord, client: Recorder) -> None:
    general = client.get_channel(int(fake.general["id"]))
    assert isinstance(general, discord.TextChannel)
    sent = await general.send("hello")
    await fake.wait_for(lambda: any(m.id == sent.id for m in client.seen))
    edited = await sent.edit(content="hello again")
    assert edited.content == "hello again"
    await fake.wait_for(lambda: client.edits)
    assert fake.world.messages[str(sent.id)]["content"] == "hello again"
    thread = await sent.create_thread(name="x" * 100)
    assert thread.type is discord.ChannelType.public_thread and thread.id == sent.id
    await fake.wait_for(lambda: client.threads)
    await sent.add_reaction("👍")
    assert fake.world.reactions == [(fake.general["id"], str(sent.id), "👍", fake.bot["id"])]
    await general.typing()
    assert fake.world.typing
    user_msg = await fake.user_says(fake.general["id"], fake.alice["id"], "hi there")
    await fake.wait_for(lambda: any(str(m.id) == user_msg["id"] for m in client.seen))
    got = next(m for m in client.seen if str(m.id) == user_msg["id"])
    assert got.content == "hi there" and got.author.id == int(fake.alice["id"])


async def test_channel_create_thread_type_and_long_content_rejected(
    fake: FakeDiscord, client: Recorder
) -> None:
    general = client.get_channel(int(fake.general["id"]))
    assert isinstance(general, discord.TextChannel)
    private = await general.create_thread(name="p")
    assert private.type is discord.ChannelType.private_thread
    public = await general.create_thread(name="q", type=discord.ChannelType.public_thread)
    assert public.type is discord.ChannelType.public_thread
    with pytest.raises(discord.HTTPException) as err:
        await general.send("x" * 2001)
    assert err.value.code == 50035
    announcements = client.get_channel(int(fake.announcements["id"]))
    assert isinstance(announcements, discord.TextChannel)
    alice = await announcements.guild.fetch_member(int(fake.alice["id"]))
    bob = await announcements.guild.fetch_member(int(fake.bob["id"]))
    assert not announcements.permissions_for(alice).send_messages
    assert announcements.permissions_for(bob).send_messages


async def test_interaction_defer_original_and_followup(fake: FakeDiscord, client: Recorder) -> None:
    inter = await fake.slash("ask", {"prompt": "q"}, fake.alice["id"], fake.general["id"])
    await fake.wait_for(lambda: len(inter.followup_ids) == 1)
    assert inter.callback_type == 5
    original = fake.original(inter)
    assert original is not None and original["content"] == "final q"
    assert original["flags"] & 128 == 0
    assert fake.world.messages[inter.followup_ids[0]]["content"] == "more"


async def test_429_with_via_is_retried_and_logged(fake: FakeDiscord, client: Recorder) -> None:
    general = client.get_channel(int(fake.general["id"]))
    assert isinstance(general, discord.TextChannel)
    sent = await general.send("a")
    fake.inject(Fault.rate_limit(0.01), method="PATCH", path="/messages/", times=2)
    await sent.edit(content="b")
    assert fake.world.messages[str(sent.id)]["content"] == "b"
    assert len([h for h in fake.rate_limited if h.injected]) == 2
    assert [r.status for r in fake.requests_to("PATCH", "/messages/")] == [429, 429, 200]
    fake.inject(Fault.rate_limit(0.01, via=False), method="PATCH", path="/messages/")
    with pytest.raises(discord.HTTPException):
        await sent.edit(content="c")


async def test_bucket_limits_report_headers(fake: FakeDiscord) -> None:
    fake.buckets.limits["messages_post"] = Limit(2, 60.0)
    assert fake.buckets.take("messages_post", "1")[0]
    ok, headers, _ = fake.buckets.take("messages_post", "1")
    assert ok and headers["X-RateLimit-Remaining"] == "0"
    assert not fake.buckets.take("messages_post", "1")[0]
    assert fake.buckets.take("messages_post", "2")[0]


async def test_close_4014_raises_privileged_intents_required(fake: FakeDiscord) -> None:
    fake.gateway.granted_privileged = False
    c = Recorder(_intents())
    with pytest.raises(discord.PrivilegedIntentsRequired):
        async with asyncio.timeout(5):
            await c.start(fake.token)
    await c.close()


async def test_content_blank_without_message_content_intent(fake: FakeDiscord) -> None:
    c = Recorder(discord.Intents.default())
    task = asyncio.create_task(c.start(fake.token))
    try:
        async with asyncio.timeout(5):
            await c.ready.wait()
        await fake.user_says(fake.general["id"], fake.alice["id"], "no mention")
        await fake.user_says(fake.general["id"], fake.alice["id"], f"<@{fake.bot['id']}> hi")
        await fake.wait_for(lambda: len(c.seen) == 2)
        assert [m.content for m in c.seen] == ["", f"<@{fake.bot['id']}> hi"]
    finally:
        await c.close()
        await asyncio.gather(task, return_exceptions=True)


async def test_global_limit_is_refused_as_global_and_retried(
    fake: FakeDiscord, client: Recorder
) -> None:
    general = client.get_channel(int(fake.general["id"]))
    assert isinstance(general, discord.TextChannel)
    fake.buckets.limits[GLOBAL] = Limit(2, 0.2)
    for _ in range(3):
        await general.typing()
    hits = [h for h in fake.rate_limited if h.bucket == GLOBAL]
    assert len(hits) == 1 and hits[0].path.endswith("/typing")
    assert [r.status for r in fake.requests_to("POST", "/typing")] == [204, 204, 429, 204]


async def test_held_response_after_the_gateway_echo(fake: FakeDiscord, client: Recorder) -> None:
    general = client.get_channel(int(fake.general["id"]))
    assert isinstance(general, discord.TextChannel)
    hold = fake.hold(method="POST", path="/messages")
    sending = asyncio.create_task(general.send("held"))
    await fake.wait_for(hold.held.is_set)
    await fake.wait_for(lambda: any(m.content == "held" for m in client.seen))
    assert not sending.done()
    hold.release()
    sent = await sending
    assert sent.content == "held"


async def test_limits_can_go_unreported(fake: FakeDiscord, client: Recorder) -> None:
    general = client.get_channel(int(fake.general["id"]))
    assert isinstance(general, discord.TextChannel)
    fake.buckets.limits["messages_post"] = Limit(5, 60.0)
    fake.report_limits = False
    await general.send("a")
    fake.report_limits = True
    await general.send("b")
    hidden, shown = fake.requests_to("POST", "/messages")
    assert "X-RateLimit-Limit" not in hidden.response_headers
    assert shown.response_headers["X-RateLimit-Limit"] == "5"
