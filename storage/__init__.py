"""Persistence for Threadbridge: small async interfaces (base), their records, and SQLite."""
