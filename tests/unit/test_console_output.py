"""What the console writes of model text: terminal control sequences stripped (on a TTY and in
a pipe), and the pipe framing a script can rely on even when a reply has blank lines."""

from __future__ import annotations

import io
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bots.console.output import pipe_frame, terminal_safe
from bots.console.port import PipePort, TtyPort

OSC_52 = "\x1b]52;c;cm0gLXJmIH4=\x07"  # writes "rm -rf ~" to the clipboard
TITLE = "\x1b]0;you have been pwned\x07"
CLEAR = "\x1b[2J\x1b[H"
CSI_8BIT = "\x9b2J"
UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def test_escape_sequences_and_controls_are_stripped() -> None:
    assert terminal_safe(f"copy{OSC_52} this") == "copy this"
    assert terminal_safe(f"{TITLE}hello") == "hello"
    assert terminal_safe(f"{CLEAR}screen") == "screen"
    assert terminal_safe(f"a{CSI_8BIT}b") == "ab"
    assert terminal_safe("\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\") == "link"  # ST-ended
    assert terminal_safe("\x1bP+q544e\x1b\\ok") == "ok"  # DCS
    assert terminal_safe("\x9d0;title\x9cok") == "ok"  # 8-bit OSC and ST
    assert terminal_safe("reset\x1bc here") == "reset here"
    assert terminal_safe("\x1b[31mred\x1b[0m") == "red"
    assert terminal_safe("bell\x07 back\x08space del\x7f cr\rline") == "bell backspace del crline"


def test_newlines_tabs_and_unicode_stay() -> None:
    text = "line one\n\tindented — ünïcödé 🎉\n\nlast [1] ]x ^_"
    assert terminal_safe(text) == text
    assert terminal_safe("windows\r\nline") == "windows\nline"


def test_a_sequence_cut_off_by_the_end_is_dropped() -> None:
    assert terminal_safe("ok\x1b") == "ok"
    assert terminal_safe("ok\x1b[3") == "ok"
    assert terminal_safe("ok\x1b]52;c;AAA") == "ok"


_SEQUENCE_BITS = ["\x1b", "[", "]", "P", "\\", "\x07", "\x9b", "\x9c", "\x9d", "0", ";", "J"]
_PIECES = st.sampled_from(
    [
        *_SEQUENCE_BITS,
        "a",
        " ",
        "\n",
        "\t",
        "\r",
        "\x00",
        "\x7f",
        "é",
        "(",
        "?",
        OSC_52,
        TITLE,
        CLEAR,
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=30).map("".join))
def test_cleaned_text_has_no_controls_and_only_grows(text: str) -> None:
    clean = terminal_safe(text)
    assert not UNSAFE.search(clean)
    assert terminal_safe(clean) == clean
    for end in range(len(text) + 1):  # while streaming, what was shown stays a prefix
        assert clean.startswith(terminal_safe(text[:end]))


def read_replies(out: str) -> list[str]:
    """What a script does: read lines; an empty line ends a reply."""
    replies, lines = [], []
    for line in out.split("\n")[:-1]:
        if line:
            lines.append(line)
        else:
            replies.append("\n".join(lines))
            lines = []
    assert not lines, "a reply without its ending line"
    return replies


def test_pipe_framing() -> None:
    assert pipe_frame("echo: hello") == "echo: hello\n\n"  # as before
    assert pipe_frame("```py\nx = 1\n```") == "```py\nx = 1\n```\n\n"
    assert pipe_frame("one\n\ntwo") == "one\n \ntwo\n\n"
    assert pipe_frame("\n\nstart and end\n\n") == "start and end\n\n"
    assert pipe_frame("") == " \n\n"
    assert pipe_frame(f"{TITLE}safe{OSC_52}\n\x1b[2J\n") == "safe\n\n"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(st.sampled_from("ab \n\x1b]\x07"), max_size=20), max_size=6))
def test_a_script_reads_back_one_reply_per_reply(replies: list[str]) -> None:
    out = "".join(pipe_frame(r) for r in replies)
    read = read_replies(out)
    assert len(read) == len(replies)
    for sent, got in zip(replies, read, strict=True):
        expected = terminal_safe(sent).strip("\n").split("\n")
        assert got.split("\n") == [line or " " for line in expected]


async def test_the_tty_port_writes_no_model_escape_sequence() -> None:
    out = io.StringIO()
    port = TtyPort(out)
    handle = await port.post("Sure")
    await port.show_status(handle, f"running {TITLE}tool")
    await port.show_status(handle, None)  # as the renderer does when text resumes
    await port.edit(handle, f"Sure, {OSC_52}copied\x1b")
    await port.edit(handle, f"Sure, {OSC_52}copied\x1b[2J and cleared{CSI_8BIT}.")
    await port.finish(handle, f"Sure, {OSC_52}copied\x1b[2J and cleared{CSI_8BIT}.", False)
    written = out.getvalue()
    assert "running tool" in written and written.endswith(", copied and cleared.")
    for bad in ("\x1b]", "\x1b[2J", "\x9b", "\x07"):
        assert bad not in written


async def test_the_pipe_port_writes_no_escape_sequence_to_stderr() -> None:
    err = io.StringIO()
    port = PipePort(err)
    await port.show_status(None, f"running {TITLE}tool")
    await port.show_error(f"bad {CLEAR}thing")
    assert err.getvalue() == "running tool\nerror: bad thing\n"
