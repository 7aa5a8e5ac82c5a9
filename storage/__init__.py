"""Persistence for Threadbridge: one small async interface and its SQLite implementation."""
