"""A real crash (SIGKILL of `python -m bots slack` in Socket Mode mid-reply): after the restart
the adapter answers the messages the crash left unanswered, each in its own thread, exactly
once, as streamed replies; a pane message gets the pane's status again and its Slack tools act
on the user's message."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bots.common.adapter import start_adapter
from tests.fakes.openai_fake import FakeOpenAI, Reply, ToolCallSpec
from tests.fakes.slack_fake import BOT_USER_ID, FakeSlack, Message
from tests.harness.observer import Recorder
from tests.harness.processes import spawn_slack
from tests.harness.slack import MENTION, fast_pacing, settings_for


def user_turns(openai: FakeOpenAI, text: str) -> list[list[str]]:
    """The user messages of every model call made for the conversation ending in ``text``."""
    calls = [[m["content"] for m in call if m["role"] == "user"] for call in openai.model.calls]
    return [users for users in calls if users and users[-1] == text]


@pytest.mark.process
async def test_messages_interrupted_by_a_crash_are_answered_after_restart(
    tmp_path: Path,
) -> None:
    async with FakeOpenAI() as openai, FakeSlack() as slack:
        slack.ws.add_user("U1", "ada")
        slack.ws.add_channel("C1", "general", ["U1"])
        react = Reply(
            tool_calls=[ToolCallSpec("add_reaction", json.dumps({"emoji": "tada"}))],
            then=Reply(text=lambda outputs: f"tool said: {outputs[0]}"),
        )
        openai.model.add_rule("react please", react)
        gate = openai.model.gate = asyncio.Event()
        proc = await spawn_slack(tmp_path, openai, slack, ["slack"], SLACK_SUGGESTED_PROMPTS="Hi")
        try:
            await slack.socket.wait_connected(within=30)
            mention = await slack.say("U1", "C1", f"{MENTION} are you there?")
            pane_channel, pane_ts = await slack.open_assistant_thread("U1")
            pane = slack.ws.assistant_threads[(pane_channel, pane_ts)]
            await slack.wait_for(lambda: pane.prompts, within=10)  # the pane is known
            asked = await slack.dm("U1", "react please", thread_ts=pane_ts)
            await openai.model.wait_for_gate_waiters(2, timeout=30)
            assert pane.statuses == ["is thinking…"]
        finally:
            proc.kill()
            await proc.communicate()
        gate.set()
        await slack.wait_for(lambda: not slack.socket.connections)
        assert not slack.ws.bot_messages()  # the crash left both unanswered

        config = settings_for(openai, slack, tmp_path / "p.db", "socket")
        engine = await config.engine()
        observed = Recorder()
        service = config.adapter(host="127.0.0.1", pacing=fast_pacing(), observe=observed)
        try:
            assert await start_adapter(service, engine) == 2

            def answered() -> tuple[list[Message], list[Message]]:
                return (
                    slack.ws.bot_messages("C1", mention.ts),
                    slack.ws.bot_messages(pane_channel, pane_ts),
                )

            await slack.wait_for(lambda: all(answered()), within=10)
            async with asyncio.timeout(10):
                await engine.wait_idle()
            assert observed.resumed == 2
            in_channel, in_pane = answered()
            assert [(m.text, m.stream_state) for m in in_channel] == [
                ("echo: are you there?", "stopped")
            ]
            [pane_reply] = in_pane
            assert "reacted with :tada:" in pane_reply.text
            assert pane_reply.stream_state == "stopped"
            reacted = slack.ws.message(pane_channel, asked.ts)
            assert reacted is not None and reacted.reactions == {"tada": [BOT_USER_ID]}
            assert pane.statuses == ["is thinking…", "is thinking…"]
            # the model saw each message once: answered, not stored twice
            assert user_turns(openai, "are you there?")[-1] == ["are you there?"]
            assert user_turns(openai, "react please")[-1] == ["react please"]
        finally:
            await service.stop()
            await engine.close()
