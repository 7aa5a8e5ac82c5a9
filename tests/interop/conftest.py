"""Fixtures of the interop suite: the server URL ``run.py`` exports, a recording proxy in front
of it, and a fresh database and marker file per test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.interop.proxy import RecordingProxy

SERVER_ENV = "INTEROP_SERVER_URL"


@pytest.fixture
def server_url() -> str:
    url = os.environ.get(SERVER_ENV)
    if not url:
        pytest.skip(f"{SERVER_ENV} is not set: run `make interop`")
    return url


@pytest.fixture
async def proxy(server_url: str) -> AsyncIterator[RecordingProxy]:
    recorder = RecordingProxy(server_url)
    await recorder.start()
    try:
        yield recorder
    finally:
        await recorder.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "interop.db"


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "marker.txt"
