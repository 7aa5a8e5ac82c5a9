"""The console adapter: the same core in a terminal (``python -m bots console``)."""
