"""The fake Discord's state: users, one or more guilds with roles, channels, threads and
members, DM channels and messages, all kept as the JSON payloads Discord sends."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from tests.fakes.discord_fake import permissions as perms
from tests.fakes.discord_fake.snowflakes import SnowflakeMaker

TEXT, DM, PUBLIC_THREAD, PRIVATE_THREAD = 0, 1, 11, 12
_MENTION_RE = re.compile(r"<@!?(\d+)>")


def iso_now() -> str:
    return datetime.now(UTC).isoformat()


class World:
    """Everything the fake Discord knows. Mutated by REST handlers and by test scripting."""

    def __init__(self, ids: SnowflakeMaker, bot_name: str = "Threadbridge") -> None:
        self.ids = ids
        self.app_id = ids.next()
        self.bot = self._user(self.app_id, bot_name, bot=True)
        self.users: dict[str, dict[str, Any]] = {self.bot["id"]: self.bot}
        self.guilds: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        """message id -> message payload (insertion order is creation order)."""
        self.reactions: list[tuple[str, str, str, str]] = []
        """(channel id, message id, emoji, user id)."""
        self.typing: list[tuple[str, str]] = []
        self.commands: dict[str, list[dict[str, Any]]] = {}
        """"global" or a guild id -> the synced command payloads."""

    # --- construction ----------------------------------------------------------------------
    @staticmethod
    def _user(uid: str, name: str, bot: bool = False) -> dict[str, Any]:
        return {
            "id": uid,
            "username": name,
            "global_name": name,
            "discriminator": "0",
            "avatar": None,
            "bot": bot,
            "flags": 0,
            "public_flags": 0,
        }

    def add_guild(self, name: str = "Test Guild") -> dict[str, Any]:
        gid = self.ids.next()
        owner = self.add_user("owner")
        guild: dict[str, Any] = {
            "id": gid,
            "name": name,
            "owner_id": owner["id"],
            "roles": [self._role(gid, "@everyone", perms.MEMBER_DEFAULT, 0)],
            "members": {},
            "joined_at": iso_now(),
        }
        self.guilds[gid] = guild
        self.add_member(gid, owner["id"])
        self.add_member(gid, self.bot["id"], roles=[self.add_role(gid, "Bot", perms.ALL)["id"]])
        return guild

    def _role(self, rid: str, name: str, permissions: int, position: int) -> dict[str, Any]:
        return {
            "id": rid,
            "name": name,
            "color": 0,
            "hoist": False,
            "position": position,
            "permissions": str(permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }

    def add_role(self, gid: str, name: str, permissions: int = 0) -> dict[str, Any]:
        guild = self.guilds[gid]
        role = self._role(self.ids.next(), name, permissions, len(guild["roles"]))
        guild["roles"].append(role)
        return role

    def add_user(self, name: str, bot: bool = False) -> dict[str, Any]:
        user = self._user(self.ids.next(), name, bot=bot)
        self.users[user["id"]] = user
        return user

    def add_member(self, gid: str, uid: str, roles: list[str] | None = None) -> dict[str, Any]:
        member = {
            "user": self.users[uid],
            "nick": None,
            "roles": list(roles or []),
            "joined_at": iso_now(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
        }
        self.guilds[gid]["members"][uid] = member
        return member

    def add_text_channel(
        self, gid: str, name: str, overwrites: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        cid = self.ids.next()
        channel = {
            "id": cid,
            "type": TEXT,
            "guild_id": gid,
            "name": name,
            "position": len(self.channels),
            "permission_overwrites": overwrites or [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        self.channels[cid] = channel
        return channel

    def add_thread(
        self,
        parent_id: str,
        name: str,
        owner_id: str,
        *,
        tid: str | None = None,
        type_: int = PUBLIC_THREAD,
    ) -> dict[str, Any]:
        parent = self.channels[parent_id]
        thread = {
            "id": tid or self.ids.next(),
            "type": type_,
            "guild_id": parent["guild_id"],
            "parent_id": parent_id,
            "name": name[:100],
            "owner_id": owner_id,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": iso_now(),
                "locked": False,
            },
        }
        self.channels[thread["id"]] = thread
        return thread

    def dm_channel(self, uid: str) -> dict[str, Any]:
        for ch in self.channels.values():
            if ch["type"] == DM and ch["recipients"][0]["id"] == uid:
                return ch
        cid = self.ids.next()
        channel = {"id": cid, "type": DM, "recipients": [self.users[uid]], "last_message_id": None}
        self.channels[cid] = channel
        return channel

    # --- queries ----------------------------------------------------------------------------
    def guild_of(self, cid: str) -> dict[str, Any] | None:
        gid = self.channels[cid].get("guild_id")
        return self.guilds.get(gid) if gid else None

    def permissions_in(self, uid: str, cid: str) -> int:
        channel = self.channels[cid]
        guild = self.guild_of(cid)
        if guild is None:
            return perms.VIEW_CHANNEL | perms.SEND_MESSAGES | perms.ADD_REACTIONS
        if channel["type"] in (PUBLIC_THREAD, PRIVATE_THREAD):
            channel = self.channels[channel["parent_id"]]
        return perms.compute(guild, guild["members"][uid], channel)

    def channel_messages(self, cid: str) -> list[dict[str, Any]]:
        return [m for m in self.messages.values() if m["channel_id"] == cid]

    # --- messages ---------------------------------------------------------------------------
    def member_payload(self, gid: str, uid: str, with_user: bool = False) -> dict[str, Any]:
        member = dict(self.guilds[gid]["members"][uid])
        if not with_user:
            member.pop("user")
        return member

    def new_message(
        self,
        cid: str,
        author_id: str,
        content: str,
        *,
        reply_to: str | None = None,
        flags: int = 0,
        webhook_id: str | None = None,
        interaction: dict[str, Any] | None = None,
        msg_type: int | None = None,
        attachments: list[str] | None = None,
    ) -> dict[str, Any]:
        """A message as Discord stores it; ``attachments`` are file names."""
        channel = self.channels[cid]
        gid = channel.get("guild_id")
        mentions = [
            self.users[m] for m in dict.fromkeys(_MENTION_RE.findall(content)) if m in self.users
        ]
        msg: dict[str, Any] = {
            "id": self.ids.next(),
            "channel_id": cid,
            "author": self.users[author_id],
            "content": content,
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": mentions,
            "mention_roles": [],
            "attachments": [self._attachment(name) for name in attachments or []],
            "embeds": [],
            "components": [],
            "pinned": False,
            "type": msg_type if msg_type is not None else (19 if reply_to else 0),
            "flags": flags,
        }
        if gid:
            msg["guild_id"] = gid
            if author_id in self.guilds[gid]["members"]:
                msg["member"] = self.member_payload(gid, author_id)
        if webhook_id:
            msg["webhook_id"] = webhook_id
        if interaction:
            msg["interaction_metadata"] = interaction
        if reply_to:
            ref = self.messages[reply_to]
            msg["message_reference"] = {
                "type": 0,
                "message_id": reply_to,
                "channel_id": ref["channel_id"],  # where the referenced message is
            }
            if ref.get("guild_id"):
                msg["message_reference"]["guild_id"] = ref["guild_id"]
            msg["referenced_message"] = {k: v for k, v in ref.items() if k != "referenced_message"}
        self.messages[msg["id"]] = msg
        channel["last_message_id"] = msg["id"]
        if "message_count" in channel:
            channel["message_count"] += 1
        return msg

    def _attachment(self, filename: str) -> dict[str, Any]:
        aid = self.ids.next()
        return {
            "id": aid,
            "filename": filename,
            "size": 1024,
            "url": f"https://cdn.example.invalid/attachments/{aid}/{filename}",
            "proxy_url": f"https://media.example.invalid/attachments/{aid}/{filename}",
        }

    def edit_message(
        self, mid: str, content: str | None, flags: int | None = None
    ) -> dict[str, Any]:
        msg = self.messages[mid]
        if content is not None:
            msg["content"] = content
            msg["mentions"] = [
                self.users[m]
                for m in dict.fromkeys(_MENTION_RE.findall(content))
                if m in self.users
            ]
        if flags is not None:
            msg["flags"] = flags
        msg["edited_timestamp"] = iso_now()
        return msg

    def guild_create_payload(self, gid: str, all_members: bool = False) -> dict[str, Any]:
        """Without the GUILD_MEMBERS intent Discord only includes the bot's own member."""
        guild = self.guilds[gid]
        members = list(guild["members"].values())
        if not all_members:
            members = [m for m in members if m["user"]["id"] == self.bot["id"]]
        channels = [c for c in self.channels.values() if c.get("guild_id") == gid]
        return {
            "id": gid,
            "name": guild["name"],
            "icon": None,
            "owner_id": guild["owner_id"],
            "roles": guild["roles"],
            "emojis": [],
            "stickers": [],
            "features": [],
            "member_count": len(guild["members"]),
            "large": False,
            "unavailable": False,
            "joined_at": guild["joined_at"],
            "members": members,
            "channels": [c for c in channels if c["type"] == TEXT],
            "threads": [c for c in channels if c["type"] in (PUBLIC_THREAD, PRIVATE_THREAD)],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "system_channel_flags": 0,
            "premium_tier": 0,
            "nsfw_level": 0,
            "preferred_locale": "en-US",
        }
