"""REST routes of the fake Discord (``/api/v10``): login, command sync, messages, edits,
threads, typing, reactions, members, DMs, interaction callbacks and interaction webhooks.

Every mutation is echoed on the gateway as Discord does (MESSAGE_CREATE, MESSAGE_UPDATE,
THREAD_CREATE, MESSAGE_REACTION_ADD)."""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from aiohttp import web

from tests.fakes.discord_fake import permissions as perms
from tests.fakes.discord_fake.interactions import FakeInteraction
from tests.fakes.discord_fake.world import DM, PRIVATE_THREAD, PUBLIC_THREAD, TEXT

if TYPE_CHECKING:
    from tests.fakes.discord_fake.server import FakeDiscord

MAX_CONTENT = 2000
EPHEMERAL, LOADING = 64, 128


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """Discord's exact content type: discord.py only parses ``application/json`` verbatim."""
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(body=json.dumps(data).encode(), status=status, headers=hdrs)


def error(status: int, code: int, message: str) -> web.Response:
    return json_response({"message": message, "code": code}, status)


def _is_unicode_emoji(text: str) -> bool:
    """Roughly Discord's check: no letters, spaces or bare digits (keycaps like 1️⃣ aside)."""
    rest = re.sub("[0-9#*]\ufe0f?\u20e3", "", text)
    return bool(text) and not any(c.isascii() and (c.isalnum() or c.isspace()) for c in rest)


class Rest:
    """Route handlers bound to one FakeDiscord."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.world = fake.world

    def routes(self) -> list[tuple[str, str, Any, str | None, str | None]]:
        """(method, path, handler, rate-limit bucket, major parameter name)."""
        return [
            ("GET", "/users/@me", self.me, None, None),
            ("GET", "/oauth2/applications/@me", self.app_info, None, None),
            ("PUT", "/applications/{app}/commands", self.sync_commands, None, None),
            ("PUT", "/applications/{app}/guilds/{gid}/commands", self.sync_commands, None, None),
            ("GET", "/applications/{app}/commands", self.get_commands, None, None),
            ("GET", "/applications/{app}/guilds/{gid}/commands", self.get_commands, None, None),
            ("GET", "/channels/{cid}", self.get_channel, None, None),
            ("POST", "/channels/{cid}/messages", self.create_message, "messages_post", "cid"),
            ("GET", "/channels/{cid}/messages/{mid}", self.get_message, None, None),
            ("PATCH", "/channels/{cid}/messages/{mid}", self.edit_message, "messages_patch", "cid"),
            (
                "POST",
                "/channels/{cid}/messages/{mid}/threads",
                self.thread_from_message,
                None,
                None,
            ),
            ("POST", "/channels/{cid}/threads", self.thread_in_channel, None, None),
            ("POST", "/channels/{cid}/typing", self.typing, None, None),
            (
                "PUT",
                "/channels/{cid}/messages/{mid}/reactions/{emoji}/@me",
                self.add_reaction,
                "reactions",
                "cid",
            ),
            ("GET", "/guilds/{gid}/members/search", self.search_members, None, None),
            ("GET", "/guilds/{gid}/members/{uid}", self.get_member, None, None),
            ("POST", "/users/@me/channels", self.open_dm, None, None),
            ("POST", "/interactions/{iid}/{token}/callback", self.callback, None, None),
            ("GET", "/webhooks/{app}/{token}/messages/{mid}", self.webhook_get, "webhook", "token"),
            (
                "PATCH",
                "/webhooks/{app}/{token}/messages/{mid}",
                self.webhook_edit,
                "webhook",
                "token",
            ),
            (
                "DELETE",
                "/webhooks/{app}/{token}/messages/{mid}",
                self.webhook_delete,
                "webhook",
                "token",
            ),
            ("POST", "/webhooks/{app}/{token}", self.webhook_execute, "webhook", "token"),
        ]

    # --- login and commands -------------------------------------------------------------------
    async def me(self, request: web.Request) -> web.Response:
        return json_response(self.world.bot)

    async def app_info(self, request: web.Request) -> web.Response:
        owner = self.world.users[next(iter(self.world.guilds.values()))["owner_id"]]
        return json_response(
            {
                "id": self.world.app_id,
                "name": self.world.bot["username"],
                "icon": None,
                "description": "",
                "rpc_origins": [],
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": owner,
                "summary": "",
                "verify_key": "0" * 64,
                "team": None,
                "flags": 0,
                "bot": self.world.bot,
            }
        )

    async def sync_commands(self, request: web.Request) -> web.Response:
        scope = request.match_info.get("gid", "global")
        if scope != "global" and scope not in self.world.guilds:
            return error(403, 50001, "Missing Access")
        body = await request.json()
        synced = []
        for cmd in body:
            synced.append(
                {
                    **cmd,
                    "id": self.fake.ids.next(),
                    "application_id": self.world.app_id,
                    "version": self.fake.ids.next(),
                    "type": cmd.get("type", 1),
                    **({"guild_id": scope} if scope != "global" else {}),
                }
            )
        self.world.commands[scope] = synced
        return json_response(synced)

    async def get_commands(self, request: web.Request) -> web.Response:
        return json_response(self.world.commands.get(request.match_info.get("gid", "global"), []))

    # --- channels and messages ----------------------------------------------------------------
    def _channel(self, request: web.Request) -> dict[str, Any] | None:
        return self.world.channels.get(request.match_info["cid"])

    async def get_channel(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        if channel is None:
            return error(404, 10003, "Unknown Channel")
        return json_response(channel)

    def _content_error(self, content: Any) -> web.Response | None:
        if content is not None and len(content) > MAX_CONTENT:
            return error(400, 50035, "Invalid Form Body: content must be 2000 or fewer in length.")
        return None

    async def create_message(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        if channel is None:
            return error(404, 10003, "Unknown Channel")
        body = await request.json()
        content = body.get("content")
        if bad := self._content_error(content):
            return bad
        if not content:
            return error(400, 50006, "Cannot send an empty message")
        need = perms.SEND_MESSAGES
        if channel["type"] in (PUBLIC_THREAD, PRIVATE_THREAD):
            need = perms.SEND_MESSAGES_IN_THREADS
        if not self.world.permissions_in(self.world.bot["id"], channel["id"]) & need:
            return error(403, 50013, "Missing Permissions")
        ref = (body.get("message_reference") or {}).get("message_id")
        if ref is not None and str(ref) not in self.world.messages:
            return error(400, 50035, "Invalid Form Body: Unknown message")
        msg = self.world.new_message(
            channel["id"], self.world.bot["id"], content, reply_to=str(ref) if ref else None
        )
        await self.fake.dispatch("MESSAGE_CREATE", msg)
        return json_response(msg)

    async def get_message(self, request: web.Request) -> web.Response:
        msg = self.world.messages.get(request.match_info["mid"])
        if msg is None or msg["channel_id"] != request.match_info["cid"]:
            return error(404, 10008, "Unknown Message")
        return json_response(msg)

    async def edit_message(self, request: web.Request) -> web.Response:
        msg = self.world.messages.get(request.match_info["mid"])
        if msg is None or msg["channel_id"] != request.match_info["cid"]:
            return error(404, 10008, "Unknown Message")
        if msg["author"]["id"] != self.world.bot["id"]:
            return error(403, 50005, "Cannot edit a message authored by another user")
        body = await request.json()
        if bad := self._content_error(body.get("content")):
            return bad
        msg = self.world.edit_message(msg["id"], body.get("content"))
        await self.fake.dispatch("MESSAGE_UPDATE", msg)
        return json_response(msg)

    async def _dispatch_thread(self, thread: dict[str, Any]) -> None:
        await self.fake.dispatch("THREAD_CREATE", {**thread, "newly_created": True})

    async def thread_from_message(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        msg = self.world.messages.get(request.match_info["mid"])
        if channel is None or msg is None:
            return error(404, 10008, "Unknown Message")
        if channel["type"] != TEXT:
            return error(400, 50024, "Cannot execute action on this channel type")
        if msg["id"] in self.world.channels:
            return error(400, 160004, "A thread has already been created for this message")
        body = await request.json()
        name = body.get("name") or ""
        if not 1 <= len(name) <= 100:
            return error(400, 50035, "Invalid Form Body: name must be 1-100 characters")
        thread = self.world.add_thread(channel["id"], name, self.world.bot["id"], tid=msg["id"])
        msg["thread"] = thread
        await self._dispatch_thread(thread)
        return json_response(thread, 201)

    async def thread_in_channel(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        if channel is None:
            return error(404, 10003, "Unknown Channel")
        if channel["type"] != TEXT:
            return error(400, 50024, "Cannot execute action on this channel type")
        body = await request.json()
        name = body.get("name") or ""
        if not 1 <= len(name) <= 100:
            return error(400, 50035, "Invalid Form Body: name must be 1-100 characters")
        thread_type = int(body.get("type", PRIVATE_THREAD))
        thread = self.world.add_thread(channel["id"], name, self.world.bot["id"], type_=thread_type)
        await self._dispatch_thread(thread)
        return json_response(thread, 201)

    async def typing(self, request: web.Request) -> web.Response:
        if self._channel(request) is None:
            return error(404, 10003, "Unknown Channel")
        self.world.typing.append((request.match_info["cid"], self.world.bot["id"]))
        return web.Response(status=204)

    async def add_reaction(self, request: web.Request) -> web.Response:
        cid, mid = request.match_info["cid"], request.match_info["mid"]
        if mid not in self.world.messages:
            return error(404, 10008, "Unknown Message")
        emoji = unquote(request.match_info["emoji"])
        if not _is_unicode_emoji(emoji):  # custom ones (name:id) would need guild emojis
            return error(400, 10014, "Unknown Emoji")
        self.world.reactions.append((cid, mid, emoji, self.world.bot["id"]))
        event = {
            "user_id": self.world.bot["id"],
            "channel_id": cid,
            "message_id": mid,
            "emoji": {"id": None, "name": emoji},
            "burst": False,
            "type": 0,
        }
        gid = self.world.channels[cid].get("guild_id")
        if gid:
            event["guild_id"] = gid
        await self.fake.dispatch("MESSAGE_REACTION_ADD", event)
        return web.Response(status=204)

    # --- members and DMs ----------------------------------------------------------------------
    async def get_member(self, request: web.Request) -> web.Response:
        guild = self.world.guilds.get(request.match_info["gid"])
        if guild is None or request.match_info["uid"] not in guild["members"]:
            return error(404, 10007, "Unknown Member")
        return json_response(guild["members"][request.match_info["uid"]])

    async def search_members(self, request: web.Request) -> web.Response:
        guild = self.world.guilds.get(request.match_info["gid"])
        if guild is None:
            return error(404, 10004, "Unknown Guild")
        query = request.query.get("query", "").lower()
        limit = int(request.query.get("limit", "1"))
        found = [
            m
            for m in guild["members"].values()
            if m["user"]["username"].lower().startswith(query)
            or (m.get("nick") or "").lower().startswith(query)
        ]
        return json_response(found[:limit])

    async def open_dm(self, request: web.Request) -> web.Response:
        body = await request.json()
        uid = str(body["recipient_id"])
        if uid not in self.world.users:
            return error(404, 10013, "Unknown User")
        return json_response(self.world.dm_channel(uid))

    # --- interactions -------------------------------------------------------------------------
    def _interaction(self, request: web.Request) -> FakeInteraction | None:
        return self.fake.interactions.get(request.match_info["token"])

    async def callback(self, request: web.Request) -> web.Response:
        inter = self._interaction(request)
        if inter is None or inter.id != request.match_info["iid"]:
            return error(404, 10062, "Unknown interaction")
        if time.monotonic() - inter.dispatched_at > self.fake.callback_deadline:
            return error(404, 10062, "Unknown interaction")
        if inter.callback_type is not None:
            return error(400, 40060, "Interaction has already been acknowledged.")
        body = await request.json()
        kind = int(body["type"])
        data = body.get("data") or {}
        flags = int(data.get("flags") or 0)
        inter.callback_type = kind
        inter.ephemeral = bool(flags & EPHEMERAL)
        if kind in (4, 5):
            content = data.get("content") or ""
            if bad := self._content_error(content):
                return bad
            msg_flags = flags & EPHEMERAL | (LOADING if kind == 5 else 0)
            msg = self.world.new_message(
                inter.channel_id,
                self.world.bot["id"],
                content,
                flags=msg_flags,
                webhook_id=self.world.app_id,
                interaction=inter.metadata(),
                msg_type=20,
            )
            inter.original_id = msg["id"]
            if not inter.ephemeral:
                await self.fake.dispatch("MESSAGE_CREATE", msg)
        self.fake.notify()
        payload: dict[str, Any] = {
            "interaction": {
                "id": inter.id,
                "type": 2,
                "response_message_id": inter.original_id,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": inter.ephemeral,
            }
        }
        if inter.original_id:
            payload["resource"] = {"type": kind, "message": self.world.messages[inter.original_id]}
        return json_response(payload)

    def _webhook_message(
        self, request: web.Request
    ) -> tuple[FakeInteraction | None, dict[str, Any] | None, web.Response | None]:
        inter = self._interaction(request)
        if inter is None or request.match_info["app"] != self.world.app_id:
            return None, None, error(404, 10015, "Unknown Webhook")
        if inter.expired():
            return None, None, error(401, 50027, "Invalid Webhook Token")
        asked = request.match_info["mid"]
        mid = inter.original_id if asked == "@original" else asked
        if mid is None or (mid != inter.original_id and mid not in inter.followup_ids):
            return inter, None, error(404, 10008, "Unknown Message")
        return inter, self.world.messages[mid], None

    async def webhook_get(self, request: web.Request) -> web.Response:
        _, msg, err = self._webhook_message(request)
        return err or json_response(msg)

    async def webhook_edit(self, request: web.Request) -> web.Response:
        inter, msg, err = self._webhook_message(request)
        if err or msg is None or inter is None:
            return err or error(404, 10008, "Unknown Message")
        body = await request.json()
        if bad := self._content_error(body.get("content")):
            return bad
        msg = self.world.edit_message(msg["id"], body.get("content"), msg["flags"] & ~LOADING)
        if not msg["flags"] & EPHEMERAL:
            await self.fake.dispatch("MESSAGE_UPDATE", msg)
        self.fake.notify()
        return json_response(msg)

    async def webhook_delete(self, request: web.Request) -> web.Response:
        _, msg, err = self._webhook_message(request)
        if err or msg is None:
            return err or error(404, 10008, "Unknown Message")
        msg["deleted"] = True
        return web.Response(status=204)

    async def webhook_execute(self, request: web.Request) -> web.Response:
        inter = self._interaction(request)
        if inter is None or request.match_info["app"] != self.world.app_id:
            return error(404, 10015, "Unknown Webhook")
        if inter.expired():
            return error(401, 50027, "Invalid Webhook Token")
        if inter.callback_type is None:
            return error(404, 10015, "Unknown Webhook")
        body = await request.json()
        content = body.get("content") or ""
        if bad := self._content_error(content):
            return bad
        if not content:
            return error(400, 50006, "Cannot send an empty message")
        flags = int(body.get("flags") or 0) & EPHEMERAL
        msg = self.world.new_message(
            inter.channel_id,
            self.world.bot["id"],
            content,
            flags=flags,
            webhook_id=self.world.app_id,
            interaction=inter.metadata(),
            msg_type=0,
        )
        inter.followup_ids.append(msg["id"])
        if not flags:
            await self.fake.dispatch("MESSAGE_CREATE", msg)
        if request.query.get("wait") in ("1", "true", "True"):
            return json_response(msg)
        return web.Response(status=204)


__all__ = ["DM", "Rest", "error", "json_response"]
