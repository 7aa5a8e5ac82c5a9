"""The process entry point: ``python -m bots [console|slack|discord]``.

With no subcommand it runs every platform that has credentials; with none configured it says
which variables to set and exits 2. Setting problems give one line and exit code 2. Every
platform runs through the same adapter contract (:mod:`bots.common.adapter`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from bots.common.adapter import (
    ADAPTER_MODULES,
    Adapter,
    adapter_module,
    configured_platforms,
    register_secrets,
    serve,
)
from bots.errors import StartupError
from core.bootstrap import build_engine
from core.logs import setup_logging
from core.settings import Settings, SettingsProblem, load_settings

log = logging.getLogger("bots")

NOTHING_CONFIGURED = (
    "No platform is configured. Set SLACK_BOT_TOKEN plus SLACK_APP_TOKEN (Socket Mode) or "
    "SLACK_SIGNING_SECRET (HTTP mode) for Slack, and/or DISCORD_TOKEN for Discord — or run "
    "`python -m bots console`."
)

SHUTDOWN_GRACE_SECONDS = 15.0
"""On SIGTERM or SIGINT (Ctrl-C), replies already streaming get this long to finish."""

STOP_EXIT_CODES = {signal.SIGTERM: 0, signal.SIGINT: 130}
"""The exit code after a graceful stop, by the signal that asked for it."""


async def _main(
    settings: Settings, adapters: list[Adapter], stopped_by: list[signal.Signals]
) -> None:
    engine = await build_engine(settings, platform_tools={a.platform: a.tools for a in adapters})
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()

    def stop(sig: signal.Signals) -> None:
        stopped_by.append(sig)
        if main_task is not None:
            main_task.cancel()

    for sig in STOP_EXIT_CODES:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop, sig)
    await serve(adapters, engine, SHUTDOWN_GRACE_SECONDS)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bots", description=__doc__)
    parser.add_argument("platform", nargs="?", choices=list(ADAPTER_MODULES))
    parser.add_argument("--conversation", default="default", help="console conversation name")
    return parser.parse_args(argv)


def _startup_problem(exc: BaseException) -> BaseException | None:
    """The SettingsProblem or StartupError inside ``exc`` (which may be a task group's)."""
    if isinstance(exc, SettingsProblem | StartupError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _startup_problem(inner)
            if found is not None:
                return found
    return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = load_settings()
    setup_logging(settings.log_level)
    platforms = [args.platform] if args.platform else configured_platforms()
    if not platforms:
        print(NOTHING_CONFIGURED, file=sys.stderr)
        return 2
    stopped_by: list[signal.Signals] = []
    try:
        adapters = [adapter_module(p).create(vars(args)) for p in platforms]
        for adapter in adapters:
            register_secrets(adapter)
        asyncio.run(_main(settings, adapters, stopped_by))
    except (SettingsProblem, StartupError, BaseExceptionGroup) as exc:
        problem = _startup_problem(exc)
        if problem is None:
            raise
        print(str(problem), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except asyncio.CancelledError:
        return STOP_EXIT_CODES[stopped_by[0]] if stopped_by else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
