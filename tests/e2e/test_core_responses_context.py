"""The `responses` backend and the model's context, in both history modes (Conversations, and
responses chained with ``previous_response_id``): every request says ``truncation: "auto"``,
so a conversation grown past the context is still answered; what can't fit even so (the
newest message, a round's tool outputs) ends with words saying so, never "unavailable", and
leaves no call without an output. The real SDK over HTTP against the fake with
``context_limit_tokens`` set, the real engine and SQLite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.backends.base import CONTEXT_FULL, TOO_LONG
from core.backends.responses import TOO_LONG_OUTPUT
from tests.fakes.openai_fake import FakeOpenAI, Fault, Reply, ToolCallSpec
from tests.harness.core import Harness
from tests.harness.fixtures import MakeCoreHarness

LIMIT = 3000
"""The fake's context, in its tokens (4 characters each)."""
HUGE = "lorem ipsum dolor " * 900  # ~16,000 characters: over the limit on its own


def turn_bodies(fake: FakeOpenAI) -> list[dict[str, Any]]:
    """The streamed /responses requests (start-up probes are not streamed)."""
    bodies = [dict(r.json or {}) for r in fake.requests_to("/responses", "POST")]
    return [b for b in bodies if b.get("stream")]


def dangling(fake: FakeOpenAI) -> list[str]:
    """Function calls without an output in the fake's conversations (chained mode keeps calls
    owed in our storage and answers them in the next request instead)."""
    found = []
    for items in fake.conversations_state.items.values():
        answered = {i["call_id"] for i in items if i["type"] == "function_call_output"}
        found += [
            i["call_id"]
            for i in items
            if i["type"] == "function_call" and i["call_id"] not in answered
        ]
    return found


@pytest.fixture(params=["conversations", "chained"])
async def h(
    request: pytest.FixtureRequest,
    openai_fake: FakeOpenAI,
    tmp_path: Path,
    make_core_harness: MakeCoreHarness,
) -> Harness:
    openai_fake.quirks.no_conversations_api = request.param == "chained"
    return await make_core_harness(
        "responses",
        db=tmp_path / "r.db",
        TOOLS_MODULES="tests.harness.sample_tools",
        TOOL_MAX_OUTPUT_CHARS=100_000,
    )


async def test_every_request_says_truncation_auto_and_a_long_conversation_goes_on(
    h: Harness,
) -> None:
    h.fake.model.add_rule(
        "time",
        Reply(tool_calls=[ToolCallSpec("current_time", "{}")], then=Reply(text="late")),
    )
    assert (await h.ask("what time is it?")).reply == "late"  # a tool round: two requests
    h.fake.context_limit_tokens = LIMIT
    for i in range(8):  # ~8 × 3,000 characters: far past the limit together
        reply = (await h.ask(f"message {i}: " + "lorem ipsum " * 250)).reply
        assert reply.startswith(f"echo: message {i}:"), reply
    bodies = turn_bodies(h.fake)
    assert len(bodies) == 10
    assert all(b["truncation"] == "auto" for b in bodies)
    assert any("previous_response_id" in b for b in bodies) == h.fake.quirks.no_conversations_api


async def test_a_message_too_long_on_its_own_is_refused_in_words(h: Harness) -> None:
    assert (await h.ask("hello")).reply == "echo: hello"
    h.fake.context_limit_tokens = LIMIT
    port = await h.ask(HUGE)
    assert TOO_LONG in port.reply and "unavailable" not in port.reply
    assert (await h.ask("and a short one")).reply == "echo: and a short one"
    users = [m["content"] for m in h.fake.model.calls[-1] if m["role"] == "user"]
    assert users == ["hello", "and a short one"]


async def test_tool_outputs_too_long_for_the_context_end_the_reply_in_words(h: Harness) -> None:
    h.fake.context_limit_tokens = LIMIT
    h.fake.model.add_rule(
        "read",
        Reply(tool_calls=[ToolCallSpec("ream", '{"pages": 20}')], then=Reply(text="read it")),
        times=1,
    )
    port = await h.ask("read the report")
    assert CONTEXT_FULL in port.reply and "unavailable" not in port.reply
    assert dangling(h.fake) == []
    assert (await h.ask("next")).reply == "echo: next"
    # the model is told about that call (chained: the owed output goes with the next request)
    outputs = [m["content"] for m in h.fake.model.calls[-1] if m["role"] == "tool"]
    assert outputs == [TOO_LONG_OUTPUT]


async def test_a_context_error_event_is_told_as_too_long(h: Harness) -> None:
    h.fake.inject(
        Fault.error_event(code="context_length_exceeded", after_events=2, message="too long"),
        path="/responses",
        method="POST",
    )
    port = await h.ask("hello")
    assert TOO_LONG in port.reply and "unavailable" not in port.reply
    assert (await h.ask("again")).reply == "echo: again"


async def test_a_server_rejecting_truncation_gets_requests_without_it(h: Harness) -> None:
    rejected = "Unrecognized request argument supplied: truncation"
    h.fake.inject(Fault.status(400, message=rejected), path="/responses", method="POST")
    assert (await h.ask("hello")).reply == "echo: hello"
    assert (await h.ask("again")).reply == "echo: again"
    bodies = turn_bodies(h.fake)
    assert [b.get("truncation") for b in bodies] == ["auto", None, None]
