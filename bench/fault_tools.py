"""A side-effecting tool for the fault matrix's "SIGKILL mid-tool" row, loaded by a real
``python -m bots slack`` process through TOOLS_MODULES=fault_tools.

``record_note`` appends ``start <text>`` to the file named by FAULT_TOOL_LOG (the side
effect, counted by the bench), then holds while the file named by FAULT_TOOL_HOLD exists,
so the bench can kill the process mid-tool; then it appends ``done <text>``. Synchronous,
so it runs in the tool threads, where blocking is allowed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from core.tools import tool


@tool
def record_note(text: str) -> str:
    """Record a note (a side effect that must not happen twice).

    Args:
        text: The note.
    """
    log = Path(os.environ["FAULT_TOOL_LOG"])
    hold = Path(os.environ["FAULT_TOOL_HOLD"])
    with log.open("a") as f:
        f.write(f"start {text}\n")
    while hold.exists():  # the bench removes it once the process is killed
        time.sleep(0.05)
    with log.open("a") as f:
        f.write(f"done {text}\n")
    return f"noted {text}"
