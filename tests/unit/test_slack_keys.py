"""Slack event → conversation key mapping, reply targets and the stored reply target (pure)."""

from __future__ import annotations

import json

import pytest

from bots.slack.keys import (
    ReplyTarget,
    SavedTarget,
    dm_key,
    mention_key,
    pane_key,
    reply_target,
    team_of,
    thread_key,
)
from core.keys import ConversationKey


def test_top_level_mention_starts_a_thread_under_itself() -> None:
    key = mention_key("T1", {"channel": "C1", "ts": "10.1"})
    assert key == ConversationKey("slack", "T1", "C1", "10.1")
    assert reply_target(key).thread_ts == "10.1" and reply_target(key).can_stream


def test_mention_inside_a_thread_uses_that_thread() -> None:
    key = mention_key("T1", {"channel": "C1", "ts": "12.0", "thread_ts": "10.1"})
    assert key.thread == "10.1"


def test_follow_up_only_from_inside_a_thread() -> None:
    assert thread_key("T1", {"channel": "C1", "ts": "11.0"}) is None
    key = thread_key("T1", {"channel": "C1", "ts": "11.0", "thread_ts": "10.1"})
    assert key == mention_key("T1", {"channel": "C1", "ts": "10.1"})


def test_dm_is_one_conversation_and_a_threaded_dm_its_own() -> None:
    top = dm_key("T1", {"channel": "D1", "ts": "1.0"})
    again = dm_key("T1", {"channel": "D1", "ts": "2.0"})
    threaded = dm_key("T1", {"channel": "D1", "ts": "3.0", "thread_ts": "1.0"})
    assert top == again and top.thread is None
    assert threaded != top and threaded.thread == "1.0"
    assert not reply_target(top).can_stream and reply_target(threaded).can_stream
    assert pane_key("T1", "D1", "1.0") == threaded


def test_team_of_prefers_context_team() -> None:
    assert team_of({"team_id": "T1", "event": {"team": "T2"}}) == "T1"
    assert team_of({"context_team_id": "T9", "team_id": "T1"}) == "T9"
    assert team_of({"event": {"team": "T2"}}) == "T2"
    assert team_of({"team": {"id": "T3"}}) == "T3"
    assert team_of({}) == ""


def test_saved_target_survives_json() -> None:
    pane = SavedTarget("T1", "D1", "1.0", "2.0", "U1", pane=True)
    top = SavedTarget("T1", "D1", None, "3.0", "U1")
    for target in (pane, top):
        assert SavedTarget.from_json(json.loads(json.dumps(target.as_json()))) == target
    assert pane.reply == ReplyTarget("D1", "1.0") and not top.reply.can_stream


@pytest.mark.parametrize(
    "data",
    [
        None,
        "D1",
        {},
        {"team": "T1", "channel": "", "thread_ts": None, "message_ts": "1.0", "user": "U1"},
        {"team": "T1", "channel": "C1", "thread_ts": 1.0, "message_ts": "1.0", "user": "U1"},
        {"team": "T1", "channel": "C1", "thread_ts": "1.0", "user": "U1"},
    ],
)
def test_unusable_saved_target_is_none(data: object) -> None:
    assert SavedTarget.from_json(data) is None
