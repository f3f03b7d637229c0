"""Adapters: everything that does I/O (database, files, clock)."""
