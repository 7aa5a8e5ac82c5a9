"""The stores the contract suite runs against, and the ``store`` fixture every test uses.

Every test in ``tests/contract/`` runs once per entry of ``STORE_FACTORIES`` and talks to the
store only through the interfaces of :mod:`storage.base` (no SQL, nothing store-specific).

To add a store (e.g. Postgres): append one ``pytest.param(factory, id="postgres")`` below.
A factory takes the test's ``tmp_path`` and returns an *unopened*, *empty* store; the fixture
opens it before the test and closes it after. A factory whose server is not configured may call
``pytest.skip(...)``. Nothing else in the suite changes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from storage.base import Storage
from storage.sqlite import SqliteStorage

StoreFactory = Callable[[Path], Storage]


def sqlite_file(tmp_path: Path) -> Storage:
    return SqliteStorage(str(tmp_path / "contract" / "store.db"))


def sqlite_memory(tmp_path: Path) -> Storage:
    return SqliteStorage(":memory:")


STORE_FACTORIES = [
    pytest.param(sqlite_file, id="sqlite-file"),
    pytest.param(sqlite_memory, id="sqlite-memory"),
]


@pytest.fixture(params=STORE_FACTORIES)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    factory: StoreFactory = request.param
    s = factory(tmp_path)
    await s.open()
    try:
        yield s
    finally:
        await s.close()
