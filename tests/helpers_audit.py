"""Tampering with the audit log as someone who owns the database would (R-ACC-1 tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text


@contextmanager
def tamper(engine: Engine) -> Iterator[Connection]:
    """A transaction that goes around PostgreSQL's append-only trigger on the log (migration 0014) the
    way the database's owner can: ``session_replication_role = replica``. SQLite has no trigger."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        yield conn
