"""Errors an adapter raises to stop the process with one clear line and exit code 2."""


class StartupError(Exception):
    """A platform can't start as configured (e.g. a missing privileged intent)."""
