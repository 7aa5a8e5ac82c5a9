"""What the console writes of a reply: text from the model made harmless for a terminal, and
the framing of replies on stdout when piped. Pure functions, no I/O.

A model can put terminal control sequences in its reply (OSC 52 writes the clipboard, OSC 0
sets the window title, ``CSI 2 J`` clears the screen, DCS/APC strings reach the terminal's
own parsers), so every escape sequence, C0 and C1 control (7-bit and 8-bit forms) and DEL
is removed; newline and tab stay. A sequence cut off at the end of the text (a reply still
streaming) is removed up to the end, so the cleaned text only ever grows as the raw text does.

Pipe framing: each reply is written as its lines, then one empty line that ends it. No
reply line is ever empty: an empty line inside a reply is written as a line holding a single
space, blank lines at a reply's start and end are dropped, and an empty reply is one line
holding a single space. A script reads lines until an empty one.
"""

from __future__ import annotations

import re

_CONTROLS = re.compile(
    # OSC, DCS, SOS, PM, APC: a string ended by BEL or ST (ESC \ or 8-bit ST), or by the end
    r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    # CSI: parameters, intermediates, a final byte (missing at the end of the text)
    r"|(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    # any other escape sequence (ESC c resets the terminal, ESC ( 0 switches its charset)
    r"|\x1b[ -/]*[0-~]?"
    # the remaining C0 controls but tab and newline, DEL, and the C1 controls
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


def terminal_safe(text: str) -> str:
    """``text`` without escape sequences or control characters other than newline and tab."""
    return _CONTROLS.sub("", text)


def pipe_frame(reply: str) -> str:
    """One reply as written to stdout when piped (see the module docstring)."""
    lines = terminal_safe(reply).strip("\n").split("\n")
    return "".join(f"{line or ' '}\n" for line in lines) + "\n"
