"""Nothing secret or private reaches the logs at INFO while the Discord adapter works: not the
bot token, not interaction tokens, not what users wrote or what the assistant answered."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tests.fakes.openai_fake import Reply, ToolCallSpec
from tests.harness.discord import running_bot

SECRET_PROMPT = "my locker code is 4711-hunter2"
SECRET_ANSWER = "noted: the vault opens with zebra-crossing-42"


async def test_no_tokens_or_message_bodies_at_info(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with running_bot(tmp_path) as env:
        d = env.discord
        env.openai.model.add_rule("locker", Reply(text=SECRET_ANSWER))
        env.openai.model.add_rule(
            "react",
            Reply(
                tool_calls=[ToolCallSpec("add_reaction", json.dumps({"emoji": ":nope:"}))],
                then=Reply(text="done"),
            ),
        )
        inter = await d.slash("ask", {"prompt": SECRET_PROMPT}, d.alice["id"], d.general["id"])
        await env.answer_of(inter, SECRET_ANSWER)
        msg = await d.user_says(d.general["id"], d.bob["id"], f"<@{d.bot['id']}> react please")
        await env.bot_text_in(msg["id"], "done")
        dm = await d.dm(d.alice["id"], SECRET_PROMPT)
        await env.bot_text_in(dm["channel_id"], SECRET_ANSWER)
        await env.engine.wait_idle()
    logged = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''}"
        for r in caplog.records
        if r.levelno >= logging.INFO and r.name != "aiohttp.access"  # the fake's own server log
    )
    assert "turn discord" in logged, "the adapter did log its work"
    for secret in (d.token, inter.token, "hunter2", "zebra-crossing", "react please"):
        assert secret not in logged
