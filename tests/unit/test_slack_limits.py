"""Slack pacing as pure logic with an injected clock, and streamed-text suffixes."""

from __future__ import annotations

import pytest

from bots.slack.limits import (
    CHANNEL_POSTS,
    MESSAGE_EDIT_INTERVAL,
    STREAM_APPENDS,
    STREAM_FLUSH_INTERVAL,
    STREAM_STARTS,
    STREAM_STOPS,
    UPDATES,
    MessagePacer,
    Rate,
    TokenBucket,
)
from bots.slack.pacing import Budget, ChannelBudgets
from bots.slack.stream_text import remainder, stream_suffix


def test_bucket_allows_a_burst_then_the_sustained_rate() -> None:
    bucket = TokenBucket(rate_per_minute=60, burst=3, now=0.0)
    assert [bucket.try_take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.wait_hint(0.0) == pytest.approx(1.0)
    assert not bucket.try_take(0.5)
    assert bucket.try_take(1.0)


def test_sustained_rate_stays_below_the_limit() -> None:
    bucket = TokenBucket(rate_per_minute=40, burst=8, now=0.0)
    taken = 0
    t = 0.0
    while t < 600:  # ten minutes of someone asking every 10 ms
        taken += bucket.try_take(t)
        t += 0.01
    assert taken <= 8 + 40 * 10


def test_reserve_goes_into_debt_and_blocks_try_take() -> None:
    bucket = TokenBucket(rate_per_minute=60, burst=1, now=0.0)
    assert bucket.reserve(0.0) == 0.0
    assert bucket.reserve(0.0) == pytest.approx(1.0)
    assert bucket.reserve(0.0) == pytest.approx(2.0)
    # finals are queued: intermediate edits must wait until the debt is paid
    assert not bucket.try_take(2.5)
    assert bucket.try_take(3.0)


def test_try_take_can_keep_tokens_for_reservations() -> None:
    bucket = TokenBucket(rate_per_minute=60, burst=4, now=0.0)
    assert [bucket.try_take(0.0, keep=2) for _ in range(3)] == [True, True, False]
    assert bucket.wait_hint(0.0, keep=2) == pytest.approx(1.0)
    assert bucket.reserve(0.0) == 0.0 and bucket.reserve(0.0) == 0.0  # the kept ones
    assert bucket.reserve(0.0) == pytest.approx(1.0)


def test_bucket_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate_per_minute=0, burst=1, now=0.0)


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
    pacer = MessagePacer(1.0)
    assert pacer.wait(5.0) == 0.0
    pacer.mark(5.0)
    assert pacer.wait(5.25) == pytest.approx(0.75)
    assert pacer.wait(7.0) == 0.0


def test_stream_suffix() -> None:
    assert stream_suffix("", "Hello") == "Hello"
    assert stream_suffix("Hello", "Hello world") == " world"
    assert stream_suffix("Hello", "Hello") == ""
    assert stream_suffix("Hello\n_Running `x`…_", "Hello there") is None
    assert remainder("abcdef", 4) == "ef"
