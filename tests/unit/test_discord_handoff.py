"""Hand-over of a streaming message from an expiring interaction response to a channel
message (``bots.discord.handoff``): no text lost or repeated, clean cuts, code fences closed
and reopened with their language."""

from __future__ import annotations

import re

import pytest

from bots.discord.handoff import CONTINUED, clean_cut, open_fence, plan_handoff

FENCE = re.compile(r"^```", re.MULTILINE)


def _rebuilt(keep: str, continuation: str, reopen: str) -> str:
    """The message's text as the two Discord messages show it, the fence of the cut undone."""
    if reopen:
        fence = open_fence(reopen)
        assert fence is not None
        return keep.removesuffix("\n" + fence[0]) + "\n" + continuation.removeprefix(reopen)
    return keep + "\n" + continuation if continuation else keep


def test_open_fence_tracks_markers_and_language() -> None:
    assert open_fence("text") is None
    assert open_fence("a\n```python\nx = 1\n") == ("```", "```python")
    assert open_fence("```python\nx\n```\nafter") is None
    assert open_fence("~~~~sh\nls\n~~~\nstill open") == ("~~~~", "~~~~sh")
    assert open_fence("````\n```\ninner\n") == ("````", "````")


def test_clean_cut_prefers_a_line_break_then_a_space() -> None:
    assert clean_cut("one\ntwo three", 13) == 4
    assert clean_cut("one two three", 13) == 8
    assert clean_cut("x" * 50, 50) == 50
    assert clean_cut("line\n" + "x" * 400, 405) == 405  # breaks only further back than the window


def test_while_the_token_works_the_cut_is_clean_and_nothing_is_lost() -> None:
    text = "First paragraph.\n\nSecond line that is still strea"
    plan = plan_handoff(text[:30], text, can_edit=True, max_length=2000)
    assert plan.keep == "First paragraph."
    assert plan.reopen == ""
    final = text + "ming and then ends."
    cont = plan.continuation(final)
    assert cont == "Second line that is still streaming and then ends."
    assert plan.keep + "\n\n" + cont == final


def test_a_fence_open_at_the_cut_is_closed_and_reopened_with_its_language() -> None:
    text = "Here:\n```python\ndef f():\n    return 1\n\ndef g():\n    ret"
    plan = plan_handoff(text, text, can_edit=True, max_length=2000)
    assert plan.keep is not None
    assert plan.keep.endswith("\n```") and len(FENCE.findall(plan.keep)) == 2
    assert plan.reopen == "```python\n"
    final = text + "urn 2\n```\nDone."
    cont = plan.continuation(final)
    assert cont.startswith("```python\n") and len(FENCE.findall(cont)) == 2
    assert _rebuilt(plan.keep, cont, plan.reopen) == final


def test_the_closing_fence_still_fits_the_limit() -> None:
    body = "\n".join(f"line {i:04d} of code" for i in range(200))
    text = ("```\n" + body)[:2000]
    plan = plan_handoff(text, text, can_edit=True, max_length=2000)
    assert plan.keep is not None and len(plan.keep) <= 2000 and plan.keep.endswith("\n```")
    assert _rebuilt(plan.keep, plan.continuation(text), plan.reopen) == text.rstrip()


def test_a_status_line_shown_inline_is_dropped_from_the_kept_text() -> None:
    shown = "Partial answer\n\n_Running `lookup_member`…_"
    text = "Partial answer with more words"
    plan = plan_handoff(shown, text, can_edit=True, max_length=2000)
    assert plan.keep == "Partial answer with more"
    assert plan.continuation(text) == "words"


def test_after_the_token_is_rejected_the_continuation_starts_where_the_shown_text_ends() -> None:
    shown = "alpha beta gam"
    text = "alpha beta gamma delta"
    plan = plan_handoff(shown, text, can_edit=False, max_length=2000)
    assert plan.keep is None and plan.offset == len(shown)
    assert shown + plan.continuation(text) == text
    # a status line shown inline is where the texts stop matching
    plan = plan_handoff("alpha\n\n_Running `x`…_", "alpha beta", can_edit=False, max_length=2000)
    assert plan.continuation("alpha beta") == "beta"


def test_after_rejection_an_open_fence_is_reopened_in_the_continuation() -> None:
    shown = "```js\nlet a = 1;\n"
    text = shown + "let b = 2;\n```"
    plan = plan_handoff(shown, text, can_edit=False, max_length=2000)
    assert plan.continuation(text) == "```js\nlet b = 2;\n```"


@pytest.mark.parametrize("text", ["", "   ", "\n\n"])
def test_nothing_to_keep_points_at_the_continuation(text: str) -> None:
    plan = plan_handoff(text, text, can_edit=True, max_length=2000)
    assert plan.keep == CONTINUED and plan.continuation(text + "later text") == "later text"


def test_continuations_grow_with_the_text() -> None:
    words = [f"w{i}" for i in range(300)]
    text = " ".join(words[:150])
    plan = plan_handoff(text, text, can_edit=True, max_length=2000)
    assert plan.keep is not None
    for n in range(150, 301, 25):
        cont = plan.continuation(" ".join(words[:n]))
        assert (plan.keep + " " + cont).split() == words[:n]
