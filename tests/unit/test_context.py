"""Context building: whole-turn truncation never orphans a tool message, and a newest turn
over the budget has its largest tool outputs cut until it fits."""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from core.backends.tool_outputs import INTERRUPTED_OUTPUT, UNKNOWN_OUTCOME_OUTPUT
from core.context import (
    build_context,
    crash_results,
    cut_text,
    fit_newest_turn,
    group_turns,
    repair_turn,
    stale_answers,
)
from core.tokens import estimate_message as estimate
from storage.records import StoredMessage

MARKER = re.compile(r"(?:\n)?\[…(\d+) characters cut to fit the model's context\]$")


def turn(turn_id: str, n_tools: int = 0, size: int = 10) -> list[StoredMessage]:
    msgs = [StoredMessage("user", "u" * size, turn_id)]
    if n_tools:
        calls = [
            {
                "id": f"{turn_id}-{i}",
                "type": "function",
                "function": {"name": "t", "arguments": "{}"},
            }
            for i in range(n_tools)
        ]
        msgs.append(StoredMessage("assistant", None, turn_id, tool_calls=calls))
        msgs += [
            StoredMessage("tool", "r" * size, turn_id, tool_call_id=f"{turn_id}-{i}")
            for i in range(n_tools)
        ]
    msgs.append(StoredMessage("assistant", "a" * size, turn_id))
    return msgs


def assert_well_formed(messages: list[dict]) -> None:
    """Every tool message answers the assistant message just before its run of tool messages."""
    pending: set[str] = set()
    for m in messages:
        if m["role"] == "tool":
            assert m["tool_call_id"] in pending, f"orphaned tool message {m}"
            pending.discard(m["tool_call_id"])
        else:
            assert not pending, f"unanswered tool calls {pending}"
            if m.get("tool_calls"):
                pending = {c["id"] for c in m["tool_calls"]}
    assert not pending


def test_group_turns() -> None:
    history = turn("t1") + turn("t2", 2)
    assert [len(t) for t in group_turns(history)] == [2, 5]


def test_truncation_drops_whole_oldest_turns() -> None:
    history: list[StoredMessage] = []
    for i in range(40):
        history += turn(f"t{i}", n_tools=i % 3, size=200)
    for budget in range(100, 6000, 97):
        messages, used = build_context("sys", history, budget)
        assert messages[0] == {"role": "system", "content": "sys"}
        assert_well_formed(messages[1:])
        assert messages[1]["role"] == "user"  # starts at a turn boundary
        assert messages[-1]["content"] == "a" * 200  # newest turn always kept
        if len(messages) > 4:
            assert used <= budget


def test_newest_turn_kept_even_when_over_budget() -> None:
    messages, _ = build_context("sys", turn("big", 1, size=10_000), 10)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "assistant"]


def test_repair_fills_missing_tool_results_and_drops_strays() -> None:
    crashed = turn("t", n_tools=2)[:3]  # user, assistant(tool_calls x2), one result
    repaired = repair_turn(crashed)
    assert_well_formed(repaired)
    assert repaired[-1]["content"] == '{"error": "interrupted"}'
    stray = [StoredMessage("tool", "x", "t", tool_call_id="zzz"), StoredMessage("user", "hi", "t")]
    assert repair_turn(stray) == [{"role": "user", "content": "hi"}]


def tool_turn(sizes: list[int], user: str = "question") -> list[StoredMessage]:
    """One turn: a user message, one round calling len(sizes) tools (outputs of those sizes,
    each of its own letter), and the answer."""
    calls = [
        {"id": f"c{i}", "type": "function", "function": {"name": "t", "arguments": "{}"}}
        for i in range(len(sizes))
    ]
    return [
        StoredMessage("user", user, "new"),
        StoredMessage("assistant", None, "new", tool_calls=calls),
        *[
            StoredMessage("tool", chr(ord("a") + i % 26) * size, "new", tool_call_id=f"c{i}")
            for i, size in enumerate(sizes)
        ],
        StoredMessage("assistant", "done", "new"),
    ]


def original_of(cut: str, original: str) -> None:
    """``cut`` is ``original`` or its start plus a marker counting exactly what went."""
    if cut == original:
        return
    found = MARKER.search(cut)
    assert found, cut[-80:]
    kept = cut[: found.start()]
    assert original.startswith(kept)
    assert int(found.group(1)) == len(original) - len(kept)
    assert len(cut) < len(original)


def test_cut_text_keeps_the_start_and_says_how_much_went() -> None:
    assert cut_text("short", 100) == "short"
    cut = cut_text("x" * 1000, 200)
    assert len(cut) <= 200 and cut.startswith("xxx")
    original_of(cut, "x" * 1000)
    assert cut_text("x" * 1000, 0) == "[…1000 characters cut to fit the model's context]"
    assert cut_text("y" * 30, 5) == "y" * 30  # the marker would be longer than the text


def test_an_oversized_newest_turn_is_cut_to_fit_biggest_tool_output_first() -> None:
    history = turn("old", 1, size=100) + tool_turn([60_000, 9_000, 300])
    messages, used = build_context("sys", history, 4000)
    assert used <= 4000
    tools = [m["content"] for m in messages if m["role"] == "tool"]
    assert len(tools) == 3
    assert tools[2] == "c" * 300  # the small one is untouched
    assert MARKER.search(tools[0]) and MARKER.search(tools[1])
    assert len(tools[0]) == len(tools[1])  # both cut to the same cap
    original_of(tools[0], "a" * 60_000)
    original_of(tools[1], "b" * 9_000)
    assert [m["content"] for m in messages if m["role"] != "tool"] == [
        "sys",
        "question",
        "",
        "done",
    ]  # the old turn no longer fits; the rest of the newest is whole
    assert_well_formed(messages[1:])


def test_a_newest_turn_that_fits_is_sent_whole() -> None:
    history = tool_turn([2000, 100])
    messages, _ = build_context("sys", history, 100_000)
    assert [m["content"] for m in messages if m["role"] == "tool"] == ["a" * 2000, "b" * 100]


def test_cutting_stops_at_the_markers_when_nothing_else_would_fit() -> None:
    messages = repair_turn(tool_turn([5000, 5000], user="u" * 4000))
    fitted = fit_newest_turn(messages, 50)
    assert [m["content"] for m in fitted if m["role"] == "tool"] == [
        "[…5000 characters cut to fit the model's context]"
    ] * 2
    assert fitted[0]["content"] == "u" * 4000  # the user's own words are never cut here


@settings(max_examples=150, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 40_000), min_size=1, max_size=8),
    budget=st.integers(0, 12_000),
)
def test_fitting_the_newest_turn(sizes: list[int], budget: int) -> None:
    turn_messages = repair_turn(tool_turn(sizes))
    fitted = fit_newest_turn(turn_messages, budget)
    assert_well_formed(fitted)
    assert len(fitted) == len(turn_messages)
    cost = sum(estimate(m) for m in fitted)
    floor = sum(estimate(m) for m in fit_newest_turn(turn_messages, -1))
    assert cost <= max(budget, floor)  # it fits whenever cutting every output could make it
    cut_lengths = []
    for before, after in zip(turn_messages, fitted, strict=True):
        if before["role"] != "tool":
            assert after == before
            continue
        original_of(after["content"], before["content"])
        if after["content"] != before["content"]:
            cut_lengths.append(len(before["content"]))
    if cut_lengths:  # biggest first: every output bigger than one that was cut was cut too
        smallest_cut = min(cut_lengths)
        for before, after in zip(turn_messages, fitted, strict=True):
            if before["role"] == "tool" and len(before["content"]) > smallest_cut:
                assert after["content"] != before["content"]


def test_crash_results_answer_the_calls_a_crash_cut_off() -> None:
    cut = turn("t1")[:1] + turn("t1", n_tools=3)[1:3]  # user, assistant(3 calls), 1 result
    added = crash_results(cut, running={"t1-1"})
    assert [(m.role, m.tool_call_id, m.content, m.turn_id) for m in added] == [
        ("tool", "t1-1", UNKNOWN_OUTCOME_OUTPUT, "t1"),  # it was running: may have happened
        ("tool", "t1-2", INTERRUPTED_OUTPUT, "t1"),  # it never started
    ]
    repaired = repair_turn(cut + added)
    assert [m["content"] for m in repaired if m["role"] == "tool"] == [
        "r" * 10,
        UNKNOWN_OUTCOME_OUTPUT,
        INTERRUPTED_OUTPUT,
    ]
    assert crash_results(turn("t1", n_tools=2), running={"t1-0"}) == []  # the turn went on
    assert crash_results([], running=set()) == []


def test_stale_answers_are_the_crashed_turns_last_plain_answers() -> None:
    history = turn("t0") + turn("t1", n_tools=1)
    for i, m in enumerate(history):
        m.id = i + 1
    assert stale_answers(history, "t1") == [history[-1].id]
    assert stale_answers(history, "t0") == []  # not the newest turn
    assert stale_answers(history[:-1], "t1") == []  # ends with a tool result: nothing to drop
    extra = StoredMessage("assistant", "more", "t1", id=99)
    assert stale_answers([*history, extra], "t1") == [history[-1].id, 99]
