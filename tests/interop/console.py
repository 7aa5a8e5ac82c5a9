"""Drive ``python -m bots console`` in pipe mode as a user's script would: one message per
line on stdin; each reply on stdout followed by an empty line; errors and notices on stderr."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 420.0


@dataclass
class ConsoleRun:
    lines: list[str]
    stdout: str
    stderr: str
    returncode: int | None

    def describe(self) -> str:
        return (
            f"exit {self.returncode}\n--- stdout ---\n{self.stdout[-3000:]}"
            f"\n--- stderr ---\n{self.stderr[-3000:]}"
        )


def console_env(base_url: str, db: Path, marker: Path, **extra: str | None) -> dict[str, str]:
    """The environment a user would set, pointing at the server (through the proxy)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("OPENAI_", "ASSISTANT_", "SLACK_", "DISCORD_", "DATABASE_", "TOOLS_", "CONTEXT_")
        )
        and k not in ("MAX_OUTPUT_TOKENS", "MAX_TOOL_ROUNDS", "MAX_INPUT_CHARS", "LOG_LEVEL")
    }
    env.update(
        OPENAI_BASE_URL=base_url,
        OPENAI_API_KEY="interop",
        ASSISTANT_BACKEND="chat",
        ASSISTANT_MODEL="smollm2",
        ASSISTANT_TEMPERATURE="0",
        ASSISTANT_INSTRUCTIONS="You are a helpful assistant. Answer briefly.",
        DATABASE_URL=f"sqlite:///{db}",
        CONTEXT_WINDOW_TOKENS="2048",
        MAX_OUTPUT_TOKENS="200",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
        INTEROP_MARKER_FILE=str(marker),
    )
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


async def run_console(env: dict[str, str], lines: list[str]) -> ConsoleRun:
    """Send every line, close stdin, and wait (bounded) for the console to answer and exit."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots",
        "console",
        cwd=ROOT,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    data = "".join(line + "\n" for line in lines).encode()
    try:
        out, err = await asyncio.wait_for(proc.communicate(data), RUN_TIMEOUT)
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
    return ConsoleRun(
        lines, out.decode(errors="replace"), err.decode(errors="replace"), proc.returncode
    )
