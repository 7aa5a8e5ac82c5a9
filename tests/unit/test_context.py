"""Context building: whole-turn truncation never orphans a tool message."""

from core.backends.tool_outputs import INTERRUPTED_OUTPUT, UNKNOWN_OUTCOME_OUTPUT
from core.context import build_context, crash_results, group_turns, repair_turn, stale_answers
from storage.records import StoredMessage


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
