"""Shared test harnesses: the pieces end-to-end and unit tests build on (a real engine on
SQLite, the Slack and Discord adapters wired to the fakes, real ``python -m bots`` processes,
tools modules loaded through TOOLS_MODULES, split-checking helpers) and their pytest fixtures
(``fixtures.py``, loaded from ``tests/conftest.py``). Test modules import these, the fakes and
``tests.waiting`` — never another test module."""
