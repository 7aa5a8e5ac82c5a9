"""Discord tools end to end: the model calls them through the fake OpenAI, the adapter runs
them against the fake Discord within the requesting member's permissions."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fakes.openai_fake import Reply, ToolCallSpec
from tests.harness.discord import DiscordEnv, running_bot


def _script(env: DiscordEnv, trigger: str, name: str, args: dict[str, str]) -> None:
    env.openai.model.add_rule(
        trigger,
        Reply(
            tool_calls=[ToolCallSpec(name, json.dumps(args))],
            then=Reply(text=lambda outputs: f"tool said: {outputs[0]}"),
        ),
    )


def _output(env: DiscordEnv) -> dict[str, object]:
    tool_msgs = [m for m in env.openai.model.calls[-1] if m["role"] == "tool"]
    return json.loads(tool_msgs[-1]["content"])


async def _ask_in_thread(env: DiscordEnv, user_id: str, text: str) -> str:
    d = env.discord
    msg = await d.user_says(d.general["id"], user_id, f"<@{d.bot['id']}> {text}")
    await env.until(
        lambda: any(m["content"].startswith("tool said:") for m in d.bot_messages(msg["id"]))
    )
    await env.engine.wait_idle()
    return str(msg["id"])


async def test_tools_are_offered_to_discord_conversations(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as env:
        d = env.discord
        await d.dm(d.alice["id"], "hello")
        await env.until(lambda: env.openai.model.calls)
        await env.engine.wait_idle()
        body = env.openai.requests_to("/chat/completions")[-1].json or {}
        names = {t["function"]["name"] for t in body["tools"]}
        assert {"lookup_member", "add_reaction", "send_message", "create_thread"} <= names


async def test_lookup_member(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as env:
        d = env.discord
        _script(env, "who is bob", "lookup_member", {"member": "bob"})
        await _ask_in_thread(env, d.alice["id"], "who is bob")
        out = _output(env)
        assert out["name"] == "bob" and out["roles"] == ["Member", "Moderator"]
        assert out["joined_at"]
        _script(env, "by mention", "lookup_member", {"member": f"<@{d.alice['id']}>"})
        await _ask_in_thread(env, d.bob["id"], "by mention")
        assert _output(env)["name"] == "alice"


async def test_add_reaction_on_the_triggering_message(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as env:
        d = env.discord
        _script(env, "react", "add_reaction", {"emoji": "👍"})
        mid = await _ask_in_thread(env, d.alice["id"], "react please")
        assert (d.general["id"], mid, "👍", d.bot["id"]) in d.world.reactions


async def test_send_message_where_allowed(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as env:
        d = env.discord
        _script(env, "post it", "send_message", {"channel": "#random", "text": "hello random"})
        await _ask_in_thread(env, d.alice["id"], "post it")
        assert _output(env)["sent"] is True
        assert [m["content"] for m in d.bot_messages(d.random["id"])] == ["hello random"]


async def test_send_message_refused_without_permission(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as env:
        d = env.discord
        args = {"channel": "announcements", "text": "everyone look"}
        _script(env, "announce", "send_message", args)
        await _ask_in_thread(env, d.alice["id"], "announce")  # alice may not post there
        assert _output(env) == {"error": "you are not allowed to send messages in #announcements"}
        assert d.bot_messages(d.announcements["id"]) == []
        await _ask_in_thread(env, d.bob["id"], "announce")  # bob (Moderator) may
        assert [m["content"] for m in d.bot_messages(d.announcements["id"])] == ["everyone look"]


async def test_create_thread_in_the_current_channel(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as env:
        d = env.discord
        _script(env, "make a thread", "create_thread", {"name": "Design review"})
        inter = await d.slash("ask", {"prompt": "make a thread"}, d.alice["id"], d.general["id"])
        await env.until(lambda: (m := d.original(inter)) and m["content"].startswith("tool said:"))
        created = [t for t in d.threads_of(d.general["id"]) if t["name"] == "Design review"]
        assert len(created) == 1 and created[0]["type"] == 11
        assert _output(env)["thread_id"] == created[0]["id"]
