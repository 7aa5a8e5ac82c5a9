"""The console's pure pieces: reading messages from a pipe (one per line, whatever the
chunking), and the terminal arithmetic behind its transient notes."""

from __future__ import annotations

import os

from bots.console.lines import PipeLines
from bots.console.screen import column_after, fit, return_to


async def read_all(lines: PipeLines) -> list[str]:
    out: list[str] = []
    while (line := await lines.read()) is not None:
        out.append(line)
    return out


async def test_pipe_lines_one_message_per_line() -> None:
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, "first\r\nsecond é\n\nlast without newline".encode())
        os.close(write_end)
        lines = PipeLines(read_end)
        assert await read_all(lines) == ["first", "second é", "", "last without newline"]
        assert await lines.read() is None  # the end stays the end
    finally:
        os.close(read_end)


def test_column_after_text() -> None:
    assert column_after("", 80) == 0
    assert column_after("hello", 80) == 5
    assert column_after("first line\nab", 80) == 2
    assert column_after("x" * 85, 80) == 5  # wrapped onto a second row
    assert column_after("x" * 80, 80) == 0  # a full row: the next character starts a row
    assert column_after("a\tb", 80) == 9
    assert column_after("日本", 80) == 4  # wide characters take two columns


def test_fit_keeps_a_note_on_one_row() -> None:
    assert fit("Running `shout`…", 80) == "Running `shout`…"
    assert fit("two\nlines", 80) == "two lines"
    long = fit("Running " + "x" * 200, 40)
    assert len(long) == 39 and long.endswith("…")


def test_return_to_goes_up_one_row_to_the_column() -> None:
    assert return_to(13) == "\x1b[1A\x1b[14G"
