"""Assistant backends, one per file, behind the protocol in ``core.backends.base``."""
