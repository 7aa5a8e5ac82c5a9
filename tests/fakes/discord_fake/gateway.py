"""The fake gateway: HELLO, heartbeats, IDENTIFY → READY → GUILD_CREATE, RESUME, dispatches,
and an injectable close code (e.g. 4014 for disallowed privileged intents)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from tests.fakes.discord_fake.server import FakeDiscord

log = logging.getLogger(__name__)

GUILD_MEMBERS_INTENT = 1 << 1
MESSAGE_CONTENT_INTENT = 1 << 15
PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | MESSAGE_CONTENT_INTENT


@dataclass(eq=False)
class Session:
    ws: web.WebSocketResponse
    session_id: str
    intents: int = 0
    seq: int = 0
    identified: bool = False
    received: list[dict[str, Any]] = field(default_factory=list)

    async def send(self, payload: dict[str, Any]) -> None:
        if not self.ws.closed:
            await self.ws.send_str(json.dumps(payload))

    async def dispatch(self, event: str, data: Any) -> None:
        self.seq += 1
        await self.send({"op": 0, "t": event, "s": self.seq, "d": data})


class Gateway:
    """Serves ``/gw`` for one FakeDiscord."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.sessions: list[Session] = []
        self.close_on_identify: int | None = None
        """Close code sent instead of READY (4014: privileged intents not granted)."""
        self.granted_privileged = True
        self.heartbeat_interval_ms = 41250

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        session = Session(ws=ws, session_id=self.fake.ids.next())
        self.sessions.append(session)
        self.fake.log_request("GET", "/gw", dict(request.query), None, 101)
        await session.send({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
        try:
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    continue
                payload = json.loads(frame.data)
                session.received.append(payload)
                await self._on_payload(session, payload)
        finally:
            self.sessions.remove(session)
            self.fake.notify()
        return ws

    async def _on_payload(self, session: Session, payload: dict[str, Any]) -> None:
        op = payload.get("op")
        if op == 1:
            await session.send({"op": 11})
        elif op == 2:
            await self._identify(session, payload["d"])
        elif op == 6:
            await session.dispatch("RESUMED", None)
        elif op == 8:
            await self._request_members(session, payload["d"])
        self.fake.notify()

    async def _identify(self, session: Session, data: dict[str, Any]) -> None:
        world = self.fake.world
        if data.get("token") != self.fake.token:
            await session.ws.close(code=4004, message=b"Authentication failed.")
            return
        session.intents = int(data.get("intents", 0))
        wants_privileged = bool(session.intents & PRIVILEGED_INTENTS)
        code = self.close_on_identify
        if code is None and wants_privileged and not self.granted_privileged:
            code = 4014
        if code is not None:
            await session.ws.close(code=code, message=b"Disallowed intent(s).")
            return
        session.identified = True
        ready: dict[str, Any] = {
            "v": 10,
            "user": world.bot,
            "guilds": [{"id": gid, "unavailable": True} for gid in world.guilds],
            "session_id": session.session_id,
            "resume_gateway_url": str(self.fake.gateway_url),
            "application": {"id": world.app_id, "flags": 0},
            "private_channels": [],
            "relationships": [],
        }
        if "shard" in data:
            ready["shard"] = data["shard"]
        await session.dispatch("READY", ready)
        for gid in world.guilds:
            all_members = bool(session.intents & GUILD_MEMBERS_INTENT)
            await session.dispatch("GUILD_CREATE", world.guild_create_payload(gid, all_members))

    async def _request_members(self, session: Session, data: dict[str, Any]) -> None:
        """Op 8: a prefix search by name, or explicit user ids, answered in one chunk."""
        guild = self.fake.world.guilds.get(str(data["guild_id"]))
        members = list(guild["members"].values()) if guild else []
        if data.get("user_ids"):
            wanted = {str(u) for u in data["user_ids"]}
            members = [m for m in members if m["user"]["id"] in wanted]
        else:
            query = (data.get("query") or "").lower()
            members = [m for m in members if m["user"]["username"].lower().startswith(query)]
        limit = int(data.get("limit") or 0) or len(members)
        chunk = {
            "guild_id": str(data["guild_id"]),
            "members": members[:limit],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        await session.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    async def dispatch(self, event: str, data: Any) -> None:
        for session in list(self.sessions):
            if session.identified:
                await session.dispatch(event, self._visible(session, event, data))

    def _visible(self, session: Session, event: str, data: Any) -> Any:
        """Without the message_content intent, Discord blanks the content of guild messages
        that neither mention the bot nor come from it."""
        if event not in ("MESSAGE_CREATE", "MESSAGE_UPDATE") or session.intents & (
            MESSAGE_CONTENT_INTENT
        ):
            return data
        bot_id = self.fake.world.bot["id"]
        if "guild_id" not in data or data["author"]["id"] == bot_id:
            return data
        if any(u["id"] == bot_id for u in data.get("mentions", [])):
            return data
        return {**data, "content": "", "embeds": [], "attachments": [], "components": []}

    async def close_all(self, code: int = 1000) -> None:
        for session in list(self.sessions):
            await session.ws.close(code=code)
