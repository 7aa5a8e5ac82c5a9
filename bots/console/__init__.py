"""The console adapter: the same core in a terminal (``python -m bots console``)."""

from bots.console.runner import serve

__all__ = ["serve"]
