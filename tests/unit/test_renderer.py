"""Unit tests for core.render: the StreamRenderer against a recording port, and the pure
throttle/compose decisions it relies on."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from core.port import MARKDOWN, BasePort, PlainText
from core.render.renderer import StreamRenderer
from core.render.throttle import (
    NO_TEXT,
    append_error,
    compose,
    edit_delay,
    status_line,
    text_limit,
    visible,
)
from core.turn_runner import tool_status
from tests.harness.split_cases import build_reply, fence_events, rejoin, squash

STATUS = "Running `lookup_user`…"


class PortFailure(RuntimeError):
    pass


class RecordingPort(BasePort):
    """A real ReplyPort that records every call, checks the renderer's promises (one call in
    flight, no text over the limit, nothing touched after finish), can hold edits in flight
    and can fail calls on demand."""

    def __init__(
        self, *, max_length: int = 4000, edit_interval: float = 0.01, native_status: bool = False
    ) -> None:
        self.max_length = max_length
        self.edit_interval = edit_interval
        self.native_status = native_status
        self.calls: list[tuple[str, Any, str | None]] = []
        self.shown: dict[int, str] = {}
        self.finals: dict[int, list[tuple[str, bool]]] = {}
        self.statuses: list[tuple[Any, str | None]] = []
        self.violations: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.edit_gate = asyncio.Event()
        self.edit_gate.set()
        self.failures: dict[str, int] = {}
        self._next_handle = 0
        self._cond = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def _call(self, op: str, handle: Any, text: str | None) -> AsyncIterator[None]:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if handle is not None and handle in self.finals:
                self.violations.append(f"{op} on finished message {handle}")
            if text is not None and len(text) > self.max_length:
                self.violations.append(f"{op} with {len(text)} chars")
            if text is not None and not text.strip():
                self.violations.append(f"{op} with blank text")
            self.calls.append((op, handle, text))
            await self._notify()
            if op == "edit":
                await self.edit_gate.wait()
            if self.failures.get(op, 0) > 0:
                self.failures[op] -= 1
                raise PortFailure(op)
            yield
        finally:
            self.in_flight -= 1
            await self._notify()

    async def _notify(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    async def wait_until(self, pred: Callable[[], bool], limit: float = 5.0) -> None:
        async with asyncio.timeout(limit), self._cond:
            await self._cond.wait_for(pred)

    async def post(self, text: str) -> Any:
        async with self._call("post", None, text):
            self._next_handle += 1
            self.shown[self._next_handle] = text
            return self._next_handle

    async def edit(self, handle: Any, text: str) -> None:
        async with self._call("edit", handle, text):
            self.shown[handle] = text

    async def finish(self, handle: Any, text: str, changed: bool) -> None:
        async with self._call("finish", handle, text):
            if changed == (text == self.shown.get(handle)):
                self.violations.append(f"finish {handle} changed={changed} is wrong")
            self.shown[handle] = text
        self.finals.setdefault(handle, []).append((text, changed))

    async def show_status(self, handle: Any | None, status: str | None) -> bool:
        async with self._call("status", handle, None):
            self.statuses.append((handle, status))
            return self.native_status

    # --- views for assertions ---
    def ops(self, op: str) -> list[tuple[str, Any, str | None]]:
        return [c for c in self.calls if c[0] == op]

    def final_texts(self) -> list[str]:
        return [self.finals[h][-1][0] for h in sorted(self.finals)]

    def check(self) -> None:
        assert self.violations == []
        assert self.max_in_flight == 1
        for handle in self.shown:
            assert len(self.finals.get(handle, [])) == 1, f"message {handle} not finished once"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def stream(r: StreamRenderer, port: RecordingPort, text: str, size: int, every: int) -> None:
    """Append ``text`` in ``size``-char deltas; every ``every`` deltas, wait until the port has
    made a new call (so the stream really interleaves with port calls)."""
    for i in range(0, len(text), size):
        before = len(port.calls)
        r.append(text[i : i + size])
        if (i // size) % every == every - 1:
            await port.wait_until(lambda before=before: len(port.calls) > before)  # type: ignore[misc]


# --- pure decisions -------------------------------------------------------------------


def test_edit_delay() -> None:
    assert edit_delay(10.0, None, 1.0) == 0.0
    assert edit_delay(10.0, 9.5, 1.0) == pytest.approx(0.5)
    assert edit_delay(10.0, 8.0, 1.0) == 0.0


def test_compose_and_limits() -> None:
    assert compose("Hello", None, 100) == "Hello"
    assert compose("Hello\n", STATUS, 100) == f"Hello\n\n_{STATUS}_"
    assert compose("  ", STATUS, 100) == f"_{STATUS}_"
    assert text_limit(100, None) == 100
    assert text_limit(100, "abc") == 100 - len("\n\n_abc_")
    long = status_line("x" * 500, 100)
    assert len(long) <= 27 and long.endswith("…_")
    assert len(compose("a" * text_limit(100, "y" * 80), "y" * 80, 100)) <= 100
    assert not visible("\n \t") and visible(" a")


def test_append_error() -> None:
    assert append_error("Hi\n", "Oops", 20) == "Hi\n\nOops"
    assert append_error("", "Oops", 20) == "Oops"
    assert append_error("a" * 18, "Oops", 20) is None
    assert append_error("", "x" * 21, 20) is None


# --- renderer -------------------------------------------------------------------------


async def test_first_post_on_first_delta_then_edits() -> None:
    port = RecordingPort()
    clock = FakeClock()
    r = StreamRenderer(port, clock=clock)
    r.append("Hel")
    await port.wait_until(lambda: bool(port.ops("post")))
    assert port.ops("post") == [("post", None, "Hel")]
    assert r.first_post_at == 100.0
    clock.now = 101.0
    r.append("lo")
    await port.wait_until(lambda: port.shown[1] == "Hello")
    assert r.last_visible_at == 101.0
    await r.close()
    assert port.finals == {1: [("Hello", False)]}
    assert r.handles == [1]
    assert r.text == "Hello"
    port.check()


async def test_streamed_text_makes_several_edits_and_lands_once() -> None:
    port = RecordingPort()
    r = StreamRenderer(port)
    text = " ".join(f"word{i}" for i in range(300))
    await stream(r, port, text, size=7, every=10)
    await r.close()
    edits = port.ops("edit")
    assert len(edits) >= 5
    shown = [c[2] or "" for c in port.calls if c[0] in ("post", "edit")]
    for earlier, later in itertools.pairwise(shown):
        assert later.startswith(earlier)  # one growing message
    assert port.final_texts() == [text]
    assert r.text == text
    port.check()


async def test_deltas_coalesce_while_a_call_is_in_flight() -> None:
    port = RecordingPort()
    r = StreamRenderer(port)
    port.edit_gate.clear()
    r.append("a")
    await port.wait_until(lambda: len(port.calls) == 1)
    r.append("b")
    await port.wait_until(lambda: port.calls[-1] == ("edit", 1, "ab"))
    for d in "cde":
        r.append(d)
    assert len(port.calls) == 2 and port.in_flight == 1
    port.edit_gate.set()
    await port.wait_until(lambda: port.shown[1] == "abcde")
    assert port.ops("edit") == [("edit", 1, "ab"), ("edit", 1, "abcde")]
    await r.close()
    assert port.finals == {1: [("abcde", False)]}
    port.check()


async def test_close_lands_final_text_without_waiting_the_interval() -> None:
    port = RecordingPort(edit_interval=3600)
    r = StreamRenderer(port)
    r.append("first")
    await port.wait_until(lambda: bool(port.ops("post")))
    r.append(" and the rest")
    async with asyncio.timeout(5):
        await r.close()
    assert port.ops("edit") == []
    assert port.finals == {1: [("first and the rest", True)]}
    port.check()


async def test_close_right_after_appends() -> None:
    port = RecordingPort()
    r = StreamRenderer(port)
    r.append("x" * 10)
    r.append("y")
    await r.close()
    assert port.final_texts() == ["x" * 10 + "y"]
    port.check()


async def test_long_reply_continues_in_new_messages_with_clean_fences() -> None:
    port = RecordingPort(max_length=400)
    r = StreamRenderer(port)
    text = build_reply(random.Random(5), 120)
    await stream(r, port, text, size=23, every=8)
    await r.close()
    finals = port.final_texts()
    assert len(finals) > 5
    assert r.handles == sorted(port.finals)
    for final in finals:
        assert len(final) <= 400
        assert fence_events(final)[0] is None, final
    assert squash(rejoin(finals)) == squash(text)
    port.check()


async def test_one_huge_delta_before_the_first_post() -> None:
    port = RecordingPort(max_length=100)
    r = StreamRenderer(port)
    text = "```python\n" + "\n".join(f"print({i})" for i in range(100)) + "\n```\nDone."
    r.append(text)
    await r.close()
    finals = port.final_texts()
    assert len(finals) > 5
    for final in finals:
        assert fence_events(final)[0] is None
    assert all(f.startswith("```python\n") for f in finals[:-1])
    assert squash(rejoin(finals)) == squash(text)
    port.check()


async def test_status_inline_when_port_declines() -> None:
    port = RecordingPort()
    r = StreamRenderer(port)
    r.append("Looking")
    await port.wait_until(lambda: bool(port.ops("post")))
    r.set_status(STATUS)
    await port.wait_until(lambda: port.shown[1] == f"Looking\n\n_{STATUS}_")
    assert port.statuses == [(1, STATUS)]
    r.append(" it up")
    await port.wait_until(lambda: port.shown[1] == "Looking it up")
    await r.close()
    assert port.finals == {1: [("Looking it up", False)]}
    port.check()


async def test_status_inline_removed_on_close() -> None:
    port = RecordingPort()
    r = StreamRenderer(port)
    r.append("Answer")
    r.set_status(STATUS)
    await port.wait_until(lambda: STATUS in (port.shown.get(1) or ""))
    await r.close()
    assert port.finals == {1: [("Answer", True)]}
    port.check()


async def test_status_before_any_text() -> None:
    port = RecordingPort()
    r = StreamRenderer(port)
    r.set_status(STATUS)
    await port.wait_until(lambda: bool(port.ops("post")))
    assert port.statuses == [(None, STATUS)]
    assert port.ops("post") == [("post", None, f"_{STATUS}_")]
    r.append("Found it")
    await port.wait_until(lambda: port.shown[1] == "Found it")
    await r.close()
    assert port.final_texts() == ["Found it"]
    port.check()


async def test_status_only_message_is_not_left_blank() -> None:
    port = RecordingPort()
    r = StreamRenderer(port)
    r.set_status(STATUS)
    await port.wait_until(lambda: bool(port.ops("post")))
    await r.close()
    assert port.final_texts() == [NO_TEXT]
    port.check()


async def test_the_ports_markup_shapes_the_cores_words() -> None:
    """Status lines and tool names are marked up by the port: Markdown on chat platforms,
    nothing in a terminal (the console used to print raw ``_…_`` and backticks)."""
    assert tool_status(["lookup", "lookup", "time"], MARKDOWN) == "Running `lookup`, `time`…"
    assert tool_status(["lookup"], PlainText()) == "Running lookup…"
    port = RecordingPort()
    port.markup = PlainText()
    r = StreamRenderer(port)
    r.set_status(STATUS)
    await port.wait_until(lambda: bool(port.ops("post")))
    assert port.ops("post") == [("post", None, STATUS)]
    r.append("Found")
    r.set_status(STATUS)
    await port.wait_until(lambda: port.shown[1] == f"Found\n\n{STATUS}")
    await r.close()
    assert port.final_texts() == ["Found"]
    silent = RecordingPort()
    silent.markup = PlainText()
    r = StreamRenderer(silent)
    r.set_status(STATUS)
    await silent.wait_until(lambda: bool(silent.ops("post")))
    await r.close()
    assert silent.final_texts() == ["(no text)"]


async def test_status_native_when_port_accepts_and_cleared_when_text_resumes() -> None:
    port = RecordingPort(native_status=True)
    r = StreamRenderer(port)
    r.append("Hi")
    await port.wait_until(lambda: bool(port.ops("post")))
    r.set_status(STATUS)
    await port.wait_until(lambda: port.statuses == [(1, STATUS)])
    r.append(" there")
    await port.wait_until(lambda: port.statuses[-1] == (1, None) and port.shown[1] == "Hi there")
    await r.close()
    assert all(STATUS not in (c[2] or "") for c in port.calls)
    assert port.final_texts() == ["Hi there"]
    port.check()


async def test_native_status_cleared_on_close() -> None:
    port = RecordingPort(native_status=True)
    r = StreamRenderer(port)
    r.append("Hi")
    r.set_status(STATUS)
    await port.wait_until(lambda: port.statuses == [(None, STATUS)] and 1 in port.shown)
    await r.close()
    assert port.statuses[-1] == (1, None)
    port.check()


async def test_inline_status_near_the_limit_stays_within_it() -> None:
    port = RecordingPort(max_length=120)
    r = StreamRenderer(port)
    text = "word " * 23  # 115 chars: fits alone, not with the status line
    r.append(text)
    await port.wait_until(lambda: bool(port.ops("post")))
    r.set_status(STATUS)
    await port.wait_until(lambda: any(STATUS in (c[2] or "") for c in port.calls))
    await r.close()
    assert squash("".join(port.final_texts())) == squash(text)
    port.check()  # includes: no text over max_length


async def test_port_errors_are_survived_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    port = RecordingPort()
    port.failures = {"post": 1, "edit": 2}
    r = StreamRenderer(port)
    with caplog.at_level(logging.WARNING, logger="core.render.renderer"):
        r.append("one")
        await port.wait_until(lambda: len(port.calls) == 1)  # the failed post
        r.append(" two")
        await port.wait_until(lambda: 1 in port.shown)  # retried
        r.append(" three")
        await port.wait_until(lambda: len(port.ops("edit")) == 1)
        r.append(" four")
        await port.wait_until(lambda: len(port.ops("edit")) == 2)
        await r.close()
    assert port.final_texts() == ["one two three four"]
    assert port.finals[1] == [("one two three four", True)]
    failures = [rec for rec in caplog.records if rec.name == "core.render.renderer"]
    assert len(failures) == 3 and all(rec.exc_info for rec in failures)
    assert all("one" not in rec.getMessage() for rec in failures)
    port.check()


async def test_failing_finish_still_closes() -> None:
    port = RecordingPort()
    port.failures = {"finish": 1}
    r = StreamRenderer(port)
    r.append("text")
    await r.close()
    assert len(port.ops("finish")) == 1
    assert port.violations == [] and port.max_in_flight == 1


async def test_error_on_close_appended_to_text() -> None:
    port = RecordingPort()
    r = StreamRenderer(port)
    r.append("Partial answer\n")
    await port.wait_until(lambda: bool(port.ops("post")))
    await r.close("The model is unavailable.")
    assert port.final_texts() == ["Partial answer\n\nThe model is unavailable."]
    port.check()


async def test_error_on_close_without_text_is_posted() -> None:
    port = RecordingPort()
    r = StreamRenderer(port)
    await r.close("Something went wrong.")
    assert port.ops("post") == [("post", None, "Something went wrong.")]
    assert port.finals == {1: [("Something went wrong.", False)]}
    port.check()


async def test_error_that_does_not_fit_goes_to_a_new_message() -> None:
    port = RecordingPort(max_length=50)
    r = StreamRenderer(port)
    r.append("a" * 45)
    await r.close("Something went wrong.")
    assert port.final_texts() == ["a" * 45, "Something went wrong."]
    port.check()


async def test_error_after_an_open_code_fence_is_outside_it() -> None:
    port = RecordingPort()
    r = StreamRenderer(port)
    r.append("```python\nx = 1\n")
    await r.close("Interrupted.")
    assert port.final_texts() == ["```python\nx = 1\n```\n\nInterrupted."]
    port.check()


async def test_close_without_anything_posts_nothing() -> None:
    port = RecordingPort()
    r = StreamRenderer(port)
    r.append("\n")
    await r.close()
    assert port.calls == []
    assert r.handles == [] and r.first_post_at is None


async def test_close_is_idempotent() -> None:
    port = RecordingPort()
    r = StreamRenderer(port)
    r.append("done")
    await asyncio.gather(r.close(), r.close("ignored"))
    await r.close()
    r.append("late")
    r.set_status("late")
    await r.close()
    assert port.final_texts() == ["done"]
    assert len(port.ops("finish")) == 1
    port.check()
