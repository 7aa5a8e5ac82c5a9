"""A tools module for the responses crash test (loaded through TOOLS_MODULES in a subprocess):
a tool that announces itself by creating the file named in ``HOLD_TOOL_MARKER``, then never
returns, so the process can be killed while its function call has no output."""

import asyncio
import os
from pathlib import Path

from core.tools import tool


@tool(timeout=120)
async def hold() -> str:
    """Wait forever (test only)."""
    await asyncio.to_thread(Path(os.environ["HOLD_TOOL_MARKER"]).touch)
    await asyncio.Event().wait()
    return "unreachable"
