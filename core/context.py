"""Building the model context for a `chat` thread: pure functions, no I/O.

History is grouped into whole turns (user → assistant(tool_calls) → tool×k → assistant).
Truncation drops the oldest whole turns, so a ``tool`` message is never orphaned, and an
assistant ``tool_calls`` message without all its results (a crash mid-round) is repaired.

The newest turn is always sent. When it alone is over the budget (large tool outputs), its
largest tool outputs are cut first, biggest first, each ending with a marker saying how much
went (:func:`fit_newest_turn`); nothing else of it is cut. A turn the server could not take
(too long for its context) is kept in storage with a ``note`` message and sent only as a
short placeholder, so it can't break later turns. Every ``content`` sent is a string (some
servers reject ``null``).

After a crash, :func:`crash_results` gives the calls the crash left unanswered their results
(an unknown outcome for calls that were running), and a resumed turn drops the answer the
crashed run had already stored (:func:`stale_answers`), so the thread never holds two answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.backends.tool_outputs import INTERRUPTED_OUTPUT, UNKNOWN_OUTCOME_OUTPUT
from core.tokens import estimate_message
from storage.records import StoredMessage

Message = dict[str, Any]

NOTE_ROLE = "note"
"""A stored message that is never sent: it marks its turn as left out of the context."""
TOO_LONG_NOTE = "[A message was left out here: it was too long for this model.]"
LEFT_OUT_REPLY = "(I could not read that message: it was too long.)"
CUT_MARKER = "[…{n} characters cut to fit the model's context]"


def to_chat_message(m: StoredMessage) -> Message:
    out: Message = {"role": m.role, "content": m.content or ""}
    if m.tool_calls:
        out["tool_calls"] = m.tool_calls
    if m.tool_call_id:
        out["tool_call_id"] = m.tool_call_id
    return out


def group_turns(messages: list[StoredMessage]) -> list[list[StoredMessage]]:
    """Consecutive messages with the same turn id form one turn."""
    turns: list[list[StoredMessage]] = []
    for m in messages:
        if turns and turns[-1][0].turn_id == m.turn_id:
            turns[-1].append(m)
        else:
            turns.append([m])
    return turns


def left_out(turn: list[StoredMessage]) -> list[Message] | None:
    """The placeholder for a turn marked with a note, else None."""
    for m in turn:
        if m.role == NOTE_ROLE:
            return [
                {"role": "user", "content": m.content or TOO_LONG_NOTE},
                {"role": "assistant", "content": LEFT_OUT_REPLY},
            ]
    return None


def repair_turn(turn: list[StoredMessage]) -> list[Message]:
    """Chat messages for one turn with every tool call answered and no stray tool results;
    a turn left out (see :func:`left_out`) becomes its placeholder."""
    placeholder = left_out(turn)
    if placeholder is not None:
        return placeholder
    out: list[Message] = []
    i = 0
    while i < len(turn):
        m = turn[i]
        if m.role == "tool":
            i += 1  # a tool result not directly after its assistant message: drop it
            continue
        if m.role == "assistant" and m.tool_calls:
            ids = [c.get("id") for c in m.tool_calls]
            results: dict[str, StoredMessage] = {}
            j = i + 1
            while j < len(turn) and turn[j].role == "tool":
                if turn[j].tool_call_id in ids and turn[j].tool_call_id not in results:
                    results[str(turn[j].tool_call_id)] = turn[j]
                j += 1
            out.append(to_chat_message(m))
            for call_id in ids:
                result = results.get(str(call_id))
                content = (result.content or "") if result else INTERRUPTED_OUTPUT
                out.append({"role": "tool", "tool_call_id": call_id, "content": content})
            i = j
            continue
        out.append(to_chat_message(m))
        i += 1
    return out


def cut_text(text: str, cap: int) -> str:
    """``text`` if it has at most ``cap`` characters, else its start and a :data:`CUT_MARKER`
    saying how many characters went, in at most ``cap`` characters (or the marker alone, when
    ``cap`` is less than that). Never longer than ``text``."""
    if len(text) <= cap:
        return text
    longest = CUT_MARKER.format(n=len(text))
    keep = max(0, cap - len(longest) - 1)
    marker = CUT_MARKER.format(n=len(text) - keep)
    cut = f"{text[:keep]}\n{marker}" if keep else marker
    return cut if len(cut) < len(text) else text


def _capped(messages: list[Message], cap: int) -> list[Message]:
    return [
        {**m, "content": cut_text(m["content"], cap)} if m.get("role") == "tool" else m
        for m in messages
    ]


def fit_newest_turn(
    messages: list[Message], budget: int, estimate: Callable[[Message], int] = estimate_message
) -> list[Message]:
    """``messages`` (one turn) with its largest tool outputs cut until the turn fits
    ``budget`` tokens: one cap on the length of every tool output, the highest that fits, so
    the biggest outputs are cut first and a small one is cut only if every bigger one is cut
    to its size. If the turn can't fit even with every output cut to its marker, that is what
    is returned (the rest of the turn is never cut here)."""

    def cost(ms: list[Message]) -> int:
        return sum(estimate(m) for m in ms)

    if cost(messages) <= budget:
        return messages
    lengths = [len(m["content"]) for m in messages if m.get("role") == "tool"]
    if not lengths:
        return messages
    low, high = 0, max(lengths)  # the highest cap that fits lies in [low, high)
    if cost(_capped(messages, low)) > budget:
        return _capped(messages, low)
    while high - low > 1:
        middle = (low + high) // 2
        if cost(_capped(messages, middle)) <= budget:
            low = middle
        else:
            high = middle
    return _capped(messages, low)


def build_context(
    system_prompt: str,
    history: list[StoredMessage],
    budget_tokens: int,
    estimate: Callable[[Message], int] = estimate_message,
) -> tuple[list[Message], int]:
    """System prompt plus the newest whole turns that fit ``budget_tokens``.

    The newest turn is always kept, its largest tool outputs cut if it alone is over the
    budget (see :func:`fit_newest_turn`). Returns the messages and the estimated token count.
    """
    system: Message = {"role": "system", "content": system_prompt}
    used = estimate(system)
    kept: list[list[Message]] = []
    for index, turn in enumerate(reversed(group_turns(history))):
        messages = repair_turn(turn)
        if index == 0:
            messages = fit_newest_turn(messages, budget_tokens - used, estimate)
        cost = sum(estimate(m) for m in messages)
        if index > 0 and used + cost > budget_tokens:
            break
        kept.append(messages)
        used += cost
    result = [system]
    for messages in reversed(kept):
        result.extend(messages)
    return result, used


def crash_results(history: list[StoredMessage], running: set[str]) -> list[StoredMessage]:
    """Tool results to append for the calls of the thread's last assistant ``tool_calls``
    message that have none (a crash cut the round off): an unknown outcome for the calls in
    ``running`` (started, never finished), "interrupted" (not run) for the others. Nothing
    when the thread goes on after that round."""
    answered: set[str] = set()
    for m in reversed(history):
        if m.role == "tool":
            answered.add(str(m.tool_call_id))
            continue
        if m.role != "assistant" or not m.tool_calls:
            return []
        return [
            StoredMessage(
                "tool",
                UNKNOWN_OUTCOME_OUTPUT if call_id in running else INTERRUPTED_OUTPUT,
                turn_id=m.turn_id,
                tool_call_id=call_id,
            )
            for call_id in (str(c.get("id")) for c in m.tool_calls)
            if call_id not in answered
        ]
    return []


def stale_answers(history: list[StoredMessage], turn_id: str) -> list[int]:
    """Ids of the answer a crashed turn already stored: its last assistant messages without
    tool calls at the end of the thread. A resumed turn drops them before answering again."""
    stale: list[int] = []
    for m in reversed(history):
        if m.turn_id != turn_id or m.role != "assistant" or m.tool_calls or m.id is None:
            break
        stale.append(m.id)
    return stale[::-1]
