"""Slack pacing as pure logic with an injected clock, and streamed-text suffixes."""

from __future__ import annotations

import pytest

from bots.common.pacing import Slots
from bots.slack.limits import (
    CHANNEL_POSTS,
    MESSAGE_EDIT_INTERVAL,
    STREAM_APPENDS,
    STREAM_FLUSH_INTERVAL,
    STREAM_STARTS,
    STREAM_STOPS,
    UPDATES,
    Rate,
    message_pacer,
)
from bots.slack.pacing import Budget, ChannelBudgets
from bots.slack.stream_text import stream_suffix


class Clock:
    """The injected clock: ``at(t)`` moves it and returns the slots, for one-line steps."""

    def __init__(self, rate: Rate) -> None:
        self.now = 0.0
        self.bucket = Slots(rate.limit, lambda: self.now)

    def at(self, t: float) -> Slots:
        self.now = t
        return self.bucket


def test_bucket_allows_a_burst_then_the_sustained_rate() -> None:
    c = Clock(Rate(per_minute=60, burst=3))
    assert [c.at(0.0).try_take() for _ in range(4)] == [True, True, True, False]
    assert c.at(0.0).wait() == pytest.approx(1.0)
    assert not c.at(0.5).try_take()
    assert c.at(1.0).try_take()


def test_sustained_rate_stays_below_the_limit() -> None:
    c = Clock(Rate(per_minute=40, burst=8))
    taken = 0
    t = 0.0
    while t < 600:  # ten minutes of someone asking every 10 ms
        taken += c.at(t).try_take()
        t += 0.01
    assert taken <= 8 + 40 * 10


def test_reserve_goes_into_debt_and_blocks_try_take() -> None:
    c = Clock(Rate(per_minute=60, burst=1))
    assert c.at(0.0).book() == 0.0
    assert c.at(0.0).book() == pytest.approx(1.0)
    assert c.at(0.0).book() == pytest.approx(2.0)
    # finals are queued: intermediate edits must wait until the debt is paid
    assert not c.at(2.5).try_take()
    assert c.at(3.0).try_take()


def test_try_take_can_keep_tokens_for_reservations() -> None:
    c = Clock(Rate(per_minute=60, burst=4))
    assert [c.at(0.0).try_take(keep=2) for _ in range(3)] == [True, True, False]
    assert c.at(0.0).wait(keep=2) == pytest.approx(1.0)
    assert c.at(0.0).book() == 0.0 and c.at(0.0).book() == 0.0  # the kept ones
    assert c.at(0.0).book() == pytest.approx(1.0)


def test_bucket_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        Rate(per_minute=0, burst=1)


def test_budgets_sit_below_the_documented_tiers() -> None:
    for budget, tier_per_minute in (
        (UPDATES, 50),
        (STREAM_STARTS, 20),
        (STREAM_APPENDS, 100),
        (STREAM_STOPS, 20),
    ):
        assert budget.per_minute < tier_per_minute
        assert budget.burst < tier_per_minute / 5  # the fake's conservative burst
    assert Rate(16, 3).faster(10) == Rate(160, 3)
    assert CHANNEL_POSTS.per_minute < 60 and CHANNEL_POSTS.burst <= 3  # Slack: ~1/s per channel


def test_intervals_match_the_issue() -> None:
    assert STREAM_FLUSH_INTERVAL <= 0.5  # pending streamed text flushes at least this often
    assert MESSAGE_EDIT_INTERVAL >= 1.0  # about one chat.update per second per message


async def test_budget_counts_what_it_defers() -> None:
    now = [0.0]
    budget = Budget(Rate(60, 2), lambda: now[0])
    assert budget.try_take() and budget.try_take() and not budget.try_take()
    assert budget.deferred == 1 and budget.wait_hint() == pytest.approx(1.0)
    now[0] = 1.0
    await budget.reserve()  # a token is free again: no wait
    assert budget.deferred == 1


def test_booked_posts_are_due_in_turn() -> None:
    now = [0.0]
    budget = Budget(Rate(60, 2), lambda: now[0])
    assert [budget.book() for _ in range(4)] == pytest.approx([0.0, 0.0, 1.0, 2.0])
    assert budget.deferred == 2
    now[0] = 0.5
    assert budget.book() == pytest.approx(3.0)  # behind the ones booked earlier
    assert not budget.idle()
    now[0] = 10.0
    assert budget.idle()


def test_channel_budgets_are_separate_and_idle_ones_are_forgotten() -> None:
    now = [0.0]
    posts = ChannelBudgets(Rate(60, 1), lambda: now[0])
    assert posts.book("C1") == 0.0 and posts.book("C1") == pytest.approx(1.0)
    assert posts.book("C2") == 0.0  # another channel is not held up
    assert posts.deferred == 1
    posts.KEEP = 2
    now[0] = 1.0
    posts.book("C3")  # C2 is full again (forgotten); C1 still owes a token (kept)
    assert len(posts) == 2 and posts.deferred == 1
    assert posts.book("C1") == pytest.approx(2.0)


def test_message_pacer() -> None:
    now = [5.0]
    pacer = message_pacer(1.0, lambda: now[0])
    assert pacer.wait() == 0.0
    pacer.take()
    now[0] = 5.25
    assert pacer.wait() == pytest.approx(0.75)
    now[0] = 7.0
    assert pacer.wait() == 0.0


def test_stream_suffix() -> None:
    assert stream_suffix("", "Hello") == "Hello"
    assert stream_suffix("Hello", "Hello world") == " world"
    assert stream_suffix("Hello", "Hello") == ""
    assert stream_suffix("Hello\n_Running `x`…_", "Hello there") is None
