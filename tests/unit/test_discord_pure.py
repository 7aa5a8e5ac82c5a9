"""Pure pieces of the Discord adapter: keys, thread names, the pacers and how requests are
classified for pacing."""

from __future__ import annotations

import pytest

from bots.common.pacing import Slots
from bots.common.pacing_wait import acquire
from bots.discord.http_pacing import (
    api_path,
    holds_for,
    reported_limit,
    route_pacer,
)
from bots.discord.keys import ask_key, interaction_key, is_thread_key, place_key
from bots.discord.naming import FALLBACK_NAME, thread_name
from bots.discord.pacing import WINDOW_LIMIT, Budget, Pacer, Pacers
from bots.discord.rights import may_reset
from core.keys import ConversationKey


def test_place_keys() -> None:
    assert place_key(1, 2) == ConversationKey("discord", "1", "2")
    assert place_key(1, 3, parent_id=2) == ConversationKey("discord", "1", "2", "3")
    assert place_key(None, 9) == ConversationKey("discord", "@dm", "9")
    assert ask_key(1, 2, 77).thread == "ask-77"
    assert is_thread_key(place_key(1, 3, 2)) and not is_thread_key(ask_key(1, 2, 3))
    assert not is_thread_key(place_key(1, 2))


def test_interaction_key_depends_on_place() -> None:
    assert interaction_key(1, 2, None, 5) == ask_key(1, 2, 5)
    assert interaction_key(1, 3, 2, 5) == place_key(1, 3, 2)
    assert interaction_key(None, 9, None, 5) == place_key(None, 9)
    # keys round-trip through their storage form
    key = interaction_key(1, 2, None, 5)
    assert ConversationKey.parse(key.as_str()) == key


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("  What is   the\nweather? ", "What is the weather?"),
        ("<@123> <#45> hi <@&9>", "hi"),
        ("", FALLBACK_NAME),
        ("<@1>", FALLBACK_NAME),
        ("**bold** question", "bold question"),
        ("> # Heading `code`", "Heading code"),
    ],
)
def test_thread_name(prompt: str, expected: str) -> None:
    assert thread_name(prompt) == expected


def test_thread_name_is_cut_at_a_word_within_100() -> None:
    name = thread_name("word " * 60)
    assert len(name) <= 100 and name.endswith("…") and "wor…" not in name
    unbroken = thread_name("x" * 300)
    assert len(unbroken) == 100 and unbroken.endswith("…")
    assert len(thread_name("y" * 100)) == 100


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_send_window_allows_a_burst_then_waits_for_the_oldest_send() -> None:
    clock = Clock()
    pacer = Pacer(Budget(5, 5.0, margin=0.0), clock)
    for _ in range(5):
        assert pacer["c"].wait() == 0.0
        pacer["c"].take()
    assert pacer["c"].wait() == 5.0
    assert pacer["other"].wait() == 0.0
    clock.now += 2.0
    assert pacer["c"].wait() == 3.0
    clock.now += 3.0
    assert pacer["c"].wait() == 0.0 and pacer["c"].held() == 0


def test_send_window_never_exceeds_count_in_any_window() -> None:
    clock = Clock()
    budget = Budget(5, 5.0, margin=0.1)
    window = Slots(budget.limit, clock)
    sends: list[float] = []
    while len(sends) < 60:
        clock.now += 0.3
        if window.wait() == 0:
            window.take()
            sends.append(clock.now)
    for i, t in enumerate(sends):
        in_window = [s for s in sends[i:] if s < t + budget.per + budget.margin]
        assert len(in_window) <= budget.count


def test_send_window_forgets_idle_keys() -> None:
    clock = Clock()
    pacer = Pacer(Budget(1, 1.0, margin=0.0), clock)
    pacer["a"].take()
    assert pacer["a"].held() == 1
    clock.now += 61
    pacer.forget_idle()
    assert not len(pacer) and pacer["a"].held() == 0


async def test_acquire_takes_a_slot_in_every_pacer_at_once() -> None:
    channel, global_ = Pacer(Budget(2, 60.0)), Pacer(Budget(3, 60.0))
    assert await acquire((channel, 1), (global_, "g")) == 0.0
    assert await acquire((channel, 2), (global_, "g")) == 0.0
    assert channel[1].held() == channel[2].held() == 1 and global_["g"].held() == 2
    assert channel.has_room(1) and not channel.has_room(1, share=0.5)
    await acquire((channel, 1), (global_, "g"))
    assert not global_.has_room("g") and global_["g"].wait() > 59


def test_pacer_budgets_only_tighten() -> None:
    pacer = Pacer(Budget(5, 5.0))
    assert not pacer.tighten(5, 4.2)  # a window already partly spent reports less: no change
    assert not pacer.tighten(10, 1.0)  # looser: ignored
    assert pacer.tighten(3, 5.0) and pacer.budget == Budget(3, 5.0)
    assert pacer.tighten(3, 8.0) and pacer.budget == Budget(3, 8.0)
    assert pacer.tighten(0, 1e6) and pacer.budget == Budget(1, WINDOW_LIMIT)


def test_request_routes() -> None:
    base = "https://discord.com/api/v10"
    assert api_path(base + "/channels/1/messages?x=1", base) == "/channels/1/messages"
    assert api_path("wss://gateway.discord.gg/?v=10", base) is None
    assert api_path("https://discord.com/api/v100/users/@me", base) is None
    pacers = Pacers.discord_defaults()
    assert route_pacer(pacers, "POST", "/channels/1/messages") == (
        "message posts per channel",
        pacers.posts,
    )
    assert route_pacer(pacers, "PATCH", "/channels/1/messages/2")[1] is pacers.edits  # type: ignore[index]
    assert route_pacer(pacers, "PATCH", "/webhooks/1/t/messages/@original")[1] is pacers.webhooks  # type: ignore[index]
    assert route_pacer(pacers, "POST", "/channels/1/typing") is None
    assert holds_for(pacers, "POST", "/interactions/1/t/callback") == []
    assert holds_for(pacers, "PATCH", "/webhooks/1/tok/messages/@original") == [
        (pacers.webhooks, "tok")
    ]
    assert holds_for(pacers, "POST", "/channels/7/typing") == [(pacers.requests, "global")]
    assert holds_for(pacers, "POST", "/channels/7/messages") == [
        (pacers.requests, "global"),
        (pacers.posts, 7),
    ]
    assert holds_for(pacers, "PATCH", "/channels/7/messages/8") == [
        (pacers.requests, "global"),
        (pacers.edits, 7),
    ]
    assert reported_limit({"X-RateLimit-Limit": "5", "X-RateLimit-Reset-After": "4.5"}) == (5, 4.5)
    assert reported_limit({"X-RateLimit-Limit": "5"}) is None
    assert reported_limit({"X-RateLimit-Limit": "x", "X-RateLimit-Reset-After": "1"}) is None


def test_who_may_reset_a_conversation() -> None:
    base = {"in_dm": False, "moderator": False, "user_id": 1}
    assert may_reset(**{**base, "in_dm": True}, starter_id=2, thread_owner_id=2)
    assert may_reset(**{**base, "moderator": True}, starter_id=2, thread_owner_id=2)
    assert may_reset(**base, starter_id=1, thread_owner_id=99)  # the bot's thread, for them
    assert not may_reset(**base, starter_id=2, thread_owner_id=1)
    assert may_reset(**base, starter_id=None, thread_owner_id=1)  # their own thread
    assert not may_reset(**base, starter_id=None, thread_owner_id=99)
