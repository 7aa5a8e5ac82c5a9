"""Discord tools' argument checks and permission decisions, on real discord.py objects built
from payloads: every refusal here happens before any request would be sent (there is no
connection), and names the reason the model should relay."""

from __future__ import annotations

from typing import Any

import discord
import pytest

from bots.discord.tools import (
    TurnContext,
    add_reaction,
    check_emoji,
    create_thread,
    lookup_member,
    send_message,
)
from core.keys import ConversationKey
from core.tools import ToolContext, ToolError
from tests.fakes.discord_fake import permissions as perms
from tests.fakes.discord_fake.snowflakes import SnowflakeMaker
from tests.fakes.discord_fake.world import PRIVATE_THREAD, World


class Server:
    """A guild with #general, a hidden #secret, #announcements (no posting for @everyone,
    no threads for alice) and a private thread; alice is a member without special roles."""

    def __init__(self) -> None:
        w = self.world = World(SnowflakeMaker())
        g = w.add_guild()
        gid = g["id"]
        self.alice = w.add_user("alice")
        w.add_member(gid, self.alice["id"])
        self.general = w.add_text_channel(gid, "general")
        hide = {"id": gid, "type": 0, "allow": "0", "deny": str(perms.VIEW_CHANNEL)}
        self.secret = w.add_text_channel(gid, "secret", [hide])
        no_posts = {"id": gid, "type": 0, "allow": "0", "deny": str(perms.SEND_MESSAGES)}
        no_threads = {
            "id": self.alice["id"],
            "type": 1,
            "allow": "0",
            "deny": str(perms.CREATE_PUBLIC_THREADS | perms.ADD_REACTIONS),
        }
        self.announcements = w.add_text_channel(gid, "announcements", [no_posts, no_threads])
        self.private = w.add_thread(self.general["id"], "p", w.bot["id"], type_=PRIVATE_THREAD)
        self.locked = w.add_thread(self.general["id"], "locked", w.bot["id"])
        self.locked["thread_metadata"]["locked"] = True
        intents = discord.Intents.default()
        intents.members = True  # so the guild payload's members are cached
        self.client = discord.Client(intents=intents)
        state = self.client._connection
        state.user = discord.ClientUser(state=state, data=w.bot)  # type: ignore[arg-type]
        self.guild = discord.Guild(data=w.guild_create_payload(gid, True), state=state)  # type: ignore[arg-type]
        self.dm = discord.DMChannel(
            me=state.user,
            state=state,
            data=w.dm_channel(self.alice["id"]),  # type: ignore[arg-type]
        )
        member = self.guild.get_member(int(self.alice["id"]))
        assert member is not None
        self.member = member

    def ctx(self, channel: dict[str, Any] | None = None, *, dm: bool = False) -> ToolContext:
        if dm:
            where: Any = self.dm
            requester: Any = self.member._user
        else:
            where = self.guild.get_channel_or_thread(int((channel or self.general)["id"]))
            requester = self.member
        turn = TurnContext(self.client, where, requester)
        key = ConversationKey("discord", "g", "c")
        return ToolContext("discord", self.alice["id"], key, handle=turn)


@pytest.fixture
def server() -> Server:
    return Server()


@pytest.mark.parametrize(
    "emoji",
    [
        "👍",
        " 🎉 ",
        "🇺🇸",
        "1️⃣",
        "👨‍👩‍👧",
        "<:party:123456789012345678>",
        "<a:spin:123456789012345678>",
    ],
)
def test_emoji_accepted(emoji: str) -> None:
    assert check_emoji(emoji) == emoji.strip()


@pytest.mark.parametrize(
    ("emoji", "why"),
    [
        (":thumbsup:", "shortcode"),
        ("thumbs up", "single emoji"),
        ("", "single emoji"),
        ("👍 👍", "single emoji"),
        ("😀" * 20, "single emoji"),
        ("ok👍", "not an emoji"),
        ("7", "not an emoji"),
    ],
)
def test_emoji_refused(emoji: str, why: str) -> None:
    with pytest.raises(ToolError, match=why):
        check_emoji(emoji)


async def test_add_reaction_needs_the_members_permission(server: Server) -> None:
    with pytest.raises(ToolError, match="not allowed to add reactions"):
        await add_reaction("👍", server.ctx(server.announcements))
    with pytest.raises(ToolError, match="no message to react to"):
        await add_reaction("👍", server.ctx())  # no triggering message, no interaction


@pytest.mark.parametrize("ref", ["<@&123456789012345678>", "<#123456789012345678>", "", "x" * 101])
async def test_lookup_member_refuses_what_is_not_a_member_reference(
    server: Server, ref: str
) -> None:
    with pytest.raises(ToolError, match="mention, a user id or the start of their name"):
        await lookup_member(ref, server.ctx())


async def test_lookup_member_by_id_or_mention_from_the_cache(server: Server) -> None:
    uid = server.alice["id"]
    for ref in (uid, f"<@{uid}>", f"<@!{uid}>"):
        out = await lookup_member(ref, server.ctx())
        assert out["name"] == "alice" and out["roles"] == []


async def test_send_message_checks_text_visibility_and_the_members_right(server: Server) -> None:
    ctx = server.ctx()
    with pytest.raises(ToolError, match="empty"):
        await send_message("#general", "  ", ctx)
    with pytest.raises(ToolError, match="2000"):
        await send_message("#general", "x" * 2001, ctx)
    for hidden in ("#secret", f"<#{server.secret['id']}>", server.secret["id"]):
        with pytest.raises(ToolError, match="no text channel") as err:
            await send_message(hidden, "hi", ctx)
        assert "not allowed" not in str(err.value), "a hidden channel's existence doesn't leak"
    with pytest.raises(ToolError, match="no text channel"):
        await send_message(f"<@{server.alice['id']}>", "hi", ctx)  # a user is not a channel
    with pytest.raises(ToolError, match="not allowed to send messages in #announcements"):
        await send_message("announcements", "hi", ctx)
    with pytest.raises(ToolError, match="public threads"):
        await send_message(server.private["id"], "hi", ctx)
    with pytest.raises(ToolError, match="not allowed to send messages in #locked"):
        await send_message(server.locked["id"], "hi", ctx)  # only moderators post in these
    with pytest.raises(ToolError, match="not in direct messages"):
        await send_message("#general", "hi", server.ctx(dm=True))


async def test_create_thread_needs_a_name_and_the_members_permission(server: Server) -> None:
    with pytest.raises(ToolError, match="needs a name"):
        await create_thread("   ", server.ctx())
    with pytest.raises(ToolError, match="not allowed to create threads in #announcements"):
        await create_thread("Plans", server.ctx(server.announcements))
    with pytest.raises(ToolError, match="not in direct messages"):
        await create_thread("Plans", server.ctx(dm=True))
