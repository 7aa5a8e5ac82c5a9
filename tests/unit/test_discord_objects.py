"""Adapter helpers against real discord.py objects built from gateway payloads (no network).

These build objects with discord.py internals (``Guild(data=…, state=…)``,
``Message(state=…, channel=…, data=…)``), so the pinned version is asserted first.
"""

from __future__ import annotations

from typing import Any

import discord

from bots.discord.filters import mentions_user, should_ignore, strip_mention
from bots.discord.keys import channel_key, place_key
from tests.fakes.discord_fake.snowflakes import SnowflakeMaker
from tests.fakes.discord_fake.world import World


def test_discord_py_is_the_pinned_version() -> None:
    assert discord.__version__ == "2.7.1"


class Objects:
    """A discord.py state with one guild (general channel, a thread) and a DM, from payloads."""

    def __init__(self) -> None:
        self.world = World(SnowflakeMaker())
        w = self.world
        g = w.add_guild()
        self.alice = w.add_user("alice")
        w.add_member(g["id"], self.alice["id"])
        self.other_bot = w.add_user("otherbot", bot=True)
        w.add_member(g["id"], self.other_bot["id"])
        self.general = w.add_text_channel(g["id"], "general")
        self.thread = w.add_thread(self.general["id"], "t", w.bot["id"])
        self.dm = w.dm_channel(self.alice["id"])
        self.client = discord.Client(intents=discord.Intents.default())
        self.state = self.client._connection
        self.state.user = discord.ClientUser(state=self.state, data=w.bot)  # type: ignore[arg-type]
        self.guild = discord.Guild(data=w.guild_create_payload(g["id"], True), state=self.state)  # type: ignore[arg-type]
        self.bot_id = int(w.bot["id"])

    def channel(self, payload: dict[str, Any]) -> Any:
        if payload["type"] == 1:
            return discord.DMChannel(me=self.state.user, state=self.state, data=payload)  # type: ignore[arg-type]
        found = self.guild.get_channel_or_thread(int(payload["id"]))
        assert found is not None
        return found

    def message(
        self, channel: dict[str, Any], author: dict[str, Any], text: str, **kw: Any
    ) -> discord.Message:
        data = self.world.new_message(channel["id"], author["id"], text, **kw)
        return discord.Message(state=self.state, channel=self.channel(channel), data=data)  # type: ignore[arg-type]


async def test_channel_keys_from_objects() -> None:
    o = Objects()
    gid = int(o.guild.id)
    assert channel_key(o.channel(o.general)) == place_key(gid, int(o.general["id"]))
    assert channel_key(o.channel(o.thread)) == place_key(
        gid, int(o.thread["id"]), int(o.general["id"])
    )
    assert channel_key(o.channel(o.dm)) == place_key(None, int(o.dm["id"]))
    assert channel_key(object()) is None


async def test_ignore_rules() -> None:
    o = Objects()
    user = o.message(o.general, o.alice, "hello")
    assert not should_ignore(user, o.bot_id)
    assert should_ignore(o.message(o.general, o.world.bot, "mine"), o.bot_id)
    assert should_ignore(o.message(o.general, o.other_bot, "beep"), o.bot_id)
    joined = o.message(o.general, o.alice, "", msg_type=7)
    assert joined.type is discord.MessageType.new_member and should_ignore(joined, o.bot_id)
    reply = o.message(o.general, o.alice, "re", reply_to=user.id and str(user.id))
    assert reply.type is discord.MessageType.reply and not should_ignore(reply, o.bot_id)
    assert reply.reference is not None and reply.reference.message_id == user.id
    dm = o.message(o.dm, o.alice, "psst")
    assert dm.guild is None and not should_ignore(dm, o.bot_id)


async def test_mentions() -> None:
    o = Objects()
    msg = o.message(o.general, o.alice, f"<@{o.bot_id}> what is up?")
    assert mentions_user(msg, o.bot_id) and o.bot_id in msg.raw_mentions
    assert strip_mention(msg.content, o.bot_id) == "what is up?"
    assert strip_mention(f"hi <@!{o.bot_id}>there", o.bot_id) == "hi there"
    assert not mentions_user(o.message(o.general, o.alice, "plain"), o.bot_id)
