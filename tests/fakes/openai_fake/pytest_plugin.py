"""Pytest fixture ``openai_fake``: a started :class:`FakeOpenAI`, stopped after the test.

Enable it with ``pytest_plugins = ["tests.fakes.openai_fake.pytest_plugin"]`` in the root
``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from .server import FakeOpenAI


@pytest_asyncio.fixture
async def openai_fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake
