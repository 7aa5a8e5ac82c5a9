"""Shared pytest wiring: fixtures from the fakes and the harnesses."""

pytest_plugins = ["tests.fakes.openai_fake.pytest_plugin", "tests.harness.fixtures"]
