"""Shared pytest wiring: fixtures from the fakes."""

pytest_plugins = ["tests.fakes.openai_fake.pytest_plugin"]
