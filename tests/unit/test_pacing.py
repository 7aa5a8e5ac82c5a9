"""The shared pacing primitive (:mod:`bots.common.pacing`): properties for any sends and
bookings at any times (hypothesis), the same decisions as the token bucket and the sliding
window it replaced, and the per-key table."""

from __future__ import annotations

import time
from dataclasses import dataclass
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bots.common.pacing import Limit, PerKey, Slots
from bots.common.pacing_wait import reserve
from bots.discord.pacing import WINDOW_LIMIT, Budget, Pacer

EPS = 1e-9


class Clock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class Op:
    after: float
    """Seconds the clock moves on before the operation."""
    kind: str
    """``take`` (``try_take(keep)``) or ``book``."""
    keep: int = 0


limits = st.builds(
    Limit,
    count=st.integers(1, 6),
    per=st.sampled_from([0.05, 0.5, 1.0, 2.5, 5.1, 12.0]),
    drip=st.booleans(),
)
ops = st.lists(
    st.builds(
        Op,
        after=st.one_of(st.just(0.0), st.floats(0.0, 3.0, allow_nan=False)),
        kind=st.sampled_from(["take", "take", "book"]),
        keep=st.integers(0, 6),
    ),
    max_size=60,
)


def run(limit: Limit, steps: list[Op]) -> tuple[list[float], list[float], Clock, Slots]:
    """Every send (taken now, or booked for later) and the booked times in booking order."""
    clock = Clock(1000.0)
    slots = Slots(limit, clock)
    sends: list[float] = []
    booked: list[float] = []
    for op in steps:
        clock.now += op.after
        if op.kind == "book":
            at = slots.book()
            assert at >= clock.now
            booked.append(at)
            sends.append(at)
        elif slots.try_take(keep=op.keep):
            sends.append(clock.now)
            assert slots.held() <= limit.count - op.keep  # ``keep`` slots are still free
    return sorted(sends), booked, clock, slots


def conforms(limit: Limit, sends: list[float]) -> bool:
    """The sends keep to the limit: no window of ``per`` holds more than ``count`` of them,
    or (drip) a token bucket of burst ``count`` refilled at ``count / per`` never runs dry."""
    if not limit.drip:
        return all(
            sends[i + limit.count] - sends[i] >= limit.per - EPS
            for i in range(len(sends) - limit.count)
        )
    tokens, stamp, rate = float(limit.count), sends[0] if sends else 0.0, 1 / limit.spacing
    for t in sends:
        tokens = min(float(limit.count), tokens + (t - stamp) * rate)
        stamp = t
        if tokens < 1 - EPS:
            return False
        tokens -= 1
    return True


@settings(max_examples=300, deadline=None)
@given(limits, ops)
def test_no_sequence_of_sends_and_bookings_ever_exceeds_the_limit(
    limit: Limit, steps: list[Op]
) -> None:
    sends, _, _, _ = run(limit, steps)
    assert conforms(limit, sends)


@settings(max_examples=300, deadline=None)
@given(limits, ops)
def test_bookings_come_out_in_fifo_order(limit: Limit, steps: list[Op]) -> None:
    _, booked, _, _ = run(limit, steps)
    assert booked == sorted(booked)


@settings(max_examples=300, deadline=None)
@given(limits, ops, st.integers(0, 6))
def test_try_take_never_eats_the_kept_slots(limit: Limit, steps: list[Op], keep: int) -> None:
    """Right after ``try_take(keep=k)`` succeeds, ``k`` bookings still go out at once."""
    _, _, clock, slots = run(limit, steps)
    if slots.try_take(keep=keep):
        assert [slots.book() for _ in range(keep)] == [clock.now] * keep


@settings(max_examples=100, deadline=None)
@given(limits, ops)
def test_the_injected_clock_is_the_only_time_source(limit: Limit, steps: list[Op]) -> None:
    def no_clock(*_: object) -> float:
        raise AssertionError("pacing read a clock of its own")

    with (
        mock.patch.object(time, "monotonic", no_clock),
        mock.patch.object(time, "time", no_clock),
        mock.patch.object(time, "perf_counter", no_clock),
    ):
        first = run(limit, steps)
    again = run(limit, steps)
    assert first[:2] == again[:2]  # the same clock readings, the same answers


class ReferenceBucket:
    """The token bucket Slack used before (burst, rate, debt for reservations)."""

    def __init__(self, burst: int, rate: float, now: float) -> None:
        self.burst, self.rate, self.tokens, self.stamp = burst, rate, float(burst), now

    def refill(self, now: float) -> None:
        self.tokens = min(float(self.burst), self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def try_take(self, now: float, keep: int) -> bool:
        self.refill(now)
        if self.tokens >= 1.0 + keep:
            self.tokens -= 1.0
            return True
        return False

    def reserve(self, now: float) -> float:
        self.refill(now)
        self.tokens -= 1.0
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def wait_hint(self, now: float, keep: int) -> float:
        self.refill(now)
        need = 1.0 + keep
        return 0.0 if self.tokens >= need else (need - self.tokens) / self.rate


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 8), st.sampled_from([1.0, 16.0, 40.0, 80.0]), ops)
def test_a_drip_limit_decides_as_the_token_bucket_did(
    burst: int, per_minute: float, steps: list[Op]
) -> None:
    clock = Clock(1000.0)
    slots = Slots(Limit(burst, burst * 60 / per_minute, drip=True), clock)
    bucket = ReferenceBucket(burst, per_minute / 60, clock.now)
    for op in steps:
        clock.now += op.after
        keep = min(op.keep, burst - 1)  # keeping the whole burst, the bucket never took either
        assert slots.wait(keep) == pytest.approx(bucket.wait_hint(clock.now, keep), abs=1e-6)
        if op.kind == "book":
            assert slots.book() - clock.now == pytest.approx(bucket.reserve(clock.now), abs=1e-6)
        else:
            # away from the exact instant a token comes back, both decide alike
            hint = bucket.wait_hint(clock.now, keep)
            if 1e-6 < hint or (hint == 0 and bucket.tokens - (1 + keep) > 1e-6):
                assert slots.try_take(keep) == bucket.try_take(clock.now, keep)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 6), st.sampled_from([0.5, 2.0, 5.1]), ops)
def test_a_window_limit_decides_as_the_send_window_did(
    count: int, per: float, steps: list[Op]
) -> None:
    clock = Clock(1000.0)
    slots = Slots(Limit(count, per), clock)
    sent: list[float] = []
    for op in steps:
        clock.now += op.after
        recent = [t for t in sent if t > clock.now - per]
        expected = 0.0 if len(recent) < count else max(0.0, recent[-count] + per - clock.now)
        assert slots.wait() == pytest.approx(expected, abs=1e-9)
        if expected == 0:
            slots.take()
            sent.append(clock.now)


def test_a_window_books_behind_earlier_bookings_and_optional_takes_wait() -> None:
    clock = Clock()
    slots = Slots(Limit(2, 10.0), clock)
    assert [slots.book() for _ in range(5)] == [0.0, 0.0, 10.0, 10.0, 20.0]
    assert slots.deferred == 3 and slots.held() == 5
    clock.now = 15.0
    assert not slots.try_take() and slots.due() == 20.0  # not before the booked ones
    clock.now = 20.0
    assert slots.try_take() and slots.idle() is False
    # sends at 0, 0, 10, 10, 20 (booked) and 20 (taken): the window (10, 20] is full
    assert slots.held() == 2 and not slots.try_take() and slots.due() == 30.0


def test_a_limit_keeping_every_slot_never_lets_optional_writes_through() -> None:
    slots = Slots(Limit(2, 1.0), Clock())
    assert not slots.try_take(keep=2) and slots.wait(keep=2) == float("inf")
    with pytest.raises(ValueError):
        Limit(0, 1.0)
    with pytest.raises(ValueError):
        Limit(1, 0.0)


def test_retime_moves_held_slots_and_remembers_the_last_one() -> None:
    clock = Clock()
    spacing = Slots(Limit(1, 0.5), clock)
    spacing.take()
    clock.now = 0.75  # the slot came back...
    assert spacing.wait() == 0.0 and spacing.idle()
    spacing.retime(Limit(1, 1.0))  # ...but at one per second it is held a while longer
    assert spacing.wait() == pytest.approx(0.25)


def test_per_key_tables_forget_only_idle_keys_and_keep_their_counts() -> None:
    clock = Clock()
    table: PerKey[Slots] = PerKey(lambda: Slots(Limit(1, 10.0), clock))
    table.KEEP = 2
    table["a"].book()
    table["a"].book()  # deferred
    table["b"].book()
    clock.now = 5.0
    assert table["a"] is table["a"] and table.deferred == 1
    clock.now = 12.0  # "b" is idle again, "a" still holds its booking until 20
    table["c"].book()
    assert len(table) == 2 and table.deferred == 1 and table["a"].held() == 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-2, 60), st.floats(-1.0, 1e4, allow_nan=False))))
def test_discord_budgets_only_ever_tighten(reports: list[tuple[int, float]]) -> None:
    pacer = Pacer(Budget(5, 5.0), Clock())
    for count, per in reports:
        before = pacer.budget
        pacer.tighten(count, per)
        after = pacer.budget
        assert 1 <= after.count <= before.count and before.per <= after.per <= WINDOW_LIMIT
        assert after.margin == before.margin


async def test_reserve_waits_only_for_a_booked_slot_that_is_not_due() -> None:
    clock = Clock()
    slots = Slots(Limit(1, 60.0, drip=True), clock)
    await reserve(slots)  # due at once: no wait
    assert slots.held() == 1 and slots.deferred == 0
