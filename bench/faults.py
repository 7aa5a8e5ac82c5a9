"""Fault matrix: for each fault, how many user messages were lost, answered twice, or answered
with a clear error, driving the real stack against the local fakes (no internet).

Rows on the core (engine + SQLite + the real OpenAI SDK against the fake OpenAI): model 429,
500 burst, stall, mid-stream disconnect, failed/expired run, tool exception, tool timeout,
hung sync tool. Rows on Slack in-process (real Bolt adapter against the fake Slack): platform
429, Slack redelivery storm, storage write failure. Rows on real ``python -m bots slack``
processes (Socket Mode), restarted after the signal: SIGTERM mid-stream, SIGKILL mid-stream,
SIGKILL mid-tool. The target is 0 lost and 0 doubled in every row.

    python bench/faults.py [--only SUBSTRING]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from faults_common import Row, table, verdict  # noqa: E402

RowFn = Callable[[Path], Awaitable[Row]]


def all_rows() -> list[RowFn]:
    import faults_core
    import faults_process
    import faults_slack

    return [*faults_core.ROWS, *faults_slack.ROWS, *faults_process.ROWS]


async def run_row(fn: RowFn) -> Row:
    name = fn.__name__
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"faults-{name}-") as tmp:
        try:
            row = await fn(Path(tmp))
        except Exception as exc:  # a row that breaks is reported, the others still run
            row = Row(name)
            row.note(f"BENCH ERROR {type(exc).__name__}: {exc}"[:200])
            row.lost = -1
    row.note(f"{time.monotonic() - started:.1f}s")
    print(f"  {row.fault}: done", file=sys.stderr, flush=True)
    return row


async def main(args: argparse.Namespace) -> int:
    rows = [await run_row(fn) for fn in all_rows() if args.only in fn.__name__]
    print(table(rows))
    print(verdict(rows))
    return 0 if all(not r.lost and not r.doubled for r in rows) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default="", help="run the rows whose function name has this")
    parser.add_argument("--log-level", default="CRITICAL")
    parsed = parser.parse_args()
    logging.basicConfig(level=parsed.log_level)
    warnings.simplefilter("ignore", DeprecationWarning)
    sys.exit(asyncio.run(main(parsed)))
