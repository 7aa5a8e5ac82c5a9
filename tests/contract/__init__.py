"""The storage contract: one suite every store implementation must pass (see conftest.py)."""
