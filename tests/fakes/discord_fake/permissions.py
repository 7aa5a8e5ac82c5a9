"""Discord permission bits and the overwrite algorithm (base roles, then channel overwrites)."""

from __future__ import annotations

from typing import Any

ADD_REACTIONS = 1 << 6
ADMINISTRATOR = 1 << 3
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
READ_MESSAGE_HISTORY = 1 << 16
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL = (1 << 50) - 1

MEMBER_DEFAULT = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | READ_MESSAGE_HISTORY
    | ADD_REACTIONS
    | CREATE_PUBLIC_THREADS
    | SEND_MESSAGES_IN_THREADS
)


def compute(guild: dict[str, Any], member: dict[str, Any], channel: dict[str, Any] | None) -> int:
    """The member's effective permissions in ``channel`` (or guild-wide when None)."""
    if member["user"]["id"] == guild["owner_id"]:
        return ALL
    roles = {r["id"]: r for r in guild["roles"]}
    perms = int(roles[guild["id"]]["permissions"])
    for rid in member["roles"]:
        if rid in roles:
            perms |= int(roles[rid]["permissions"])
    if perms & ADMINISTRATOR:
        return ALL
    if channel is None:
        return perms
    overwrites = channel.get("permission_overwrites", [])
    for ow in overwrites:
        if ow["id"] == guild["id"]:
            perms = (perms & ~int(ow["deny"])) | int(ow["allow"])
    allow = deny = 0
    for ow in overwrites:
        if ow["type"] == 0 and ow["id"] in member["roles"]:
            allow |= int(ow["allow"])
            deny |= int(ow["deny"])
    perms = (perms & ~deny) | allow
    for ow in overwrites:
        if ow["type"] == 1 and ow["id"] == member["user"]["id"]:
            perms = (perms & ~int(ow["deny"])) | int(ow["allow"])
    return perms
