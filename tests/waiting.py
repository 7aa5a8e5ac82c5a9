"""The one condition-wait helper for state the fakes can't signal (e.g. a file, our own
handlers' bookkeeping): poll a predicate in a bounded loop. Never a bare sleep."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


async def wait_until(predicate: Callable[[], Any], within: float = 5.0) -> Any:
    """Return the predicate's first truthy value; TimeoutError after ``within`` seconds."""
    async with asyncio.timeout(within):
        while not (value := predicate()):  # noqa: ASYNC110 - the condition-wait helper
            await asyncio.sleep(0.005)
    return value
