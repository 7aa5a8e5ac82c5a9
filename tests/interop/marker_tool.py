"""The interop suite's own tool (loaded through TOOLS_MODULES): each call appends its argument
to the file named by INTEROP_MARKER_FILE, so the suite sees that the tool really ran."""

import os

from core.tools import tool

TOOL_NAME = "interop_marker"


@tool
def interop_marker(code: str) -> str:
    """Record a code word in the interop marker file.

    Args:
        code: A short code word.
    """
    with open(os.environ["INTEROP_MARKER_FILE"], "a", encoding="utf-8") as marker:
        marker.write(code + "\n")
    return f"recorded code word {code!r}"
