"""The SQL unit of work (services/unit_of_work.py ``AbstractUnitOfWork``): one connection and one
transaction, with every repository on it. Nothing is saved without ``commit()``; leaving the block
without it rolls back (after cosmicpython).

``connection`` is for the read models (services/views/), the import's staging and the job queue
(which enqueues inside the caller's transaction); use cases write through the repositories."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine

from ecert.adapters.db.audit import AuditLog
from ecert.adapters.db.certificates import SqlCertificates
from ecert.adapters.db.history import SqlHistory
from ecert.adapters.db.identities import SqlExternalIdentities
from ecert.adapters.db.registry import SqlRegistry
from ecert.adapters.db.reminders import SqlReminders
from ecert.adapters.db.renewals import SqlRenewals
from ecert.adapters.db.reseal import SqlResealWorklist
from ecert.adapters.db.rosters import SqlRosterRuns
from ecert.adapters.db.second_factor import SecretBox, SqlSecondFactors
from ecert.adapters.db.status_lists import SqlStatusLists
from ecert.adapters.db.subscriptions import OUTBOX_KEY, SqlSubscriptions
from ecert.adapters.db.users import SqlUsers


class SqlUnitOfWork:
    """``on_outbox``: called with the connection just before a commit whose transaction wrote
    notification events (adapters/db/subscriptions.py): bootstrap queues the delivery job there, in the
    same transaction (PostgreSQL); None on SQLite, where deliveries run when asked. ``secret_box``: the
    key of the TOTP secrets at rest (bootstrap gives the keystore's)."""

    def __init__(
        self,
        engine: Engine,
        secret_box: SecretBox | None = None,
        *,
        on_outbox: Callable[[Connection], None] | None = None,
    ) -> None:
        self.engine = engine
        self.secret_box = secret_box
        self.on_outbox = on_outbox
        self._conn: Connection | None = None

    def __enter__(self) -> Self:
        self._conn = self.engine.connect()
        self._conn.begin()
        self.registry = SqlRegistry(self._conn)
        self.audit = AuditLog(self._conn)
        self.certificates = SqlCertificates(self._conn)
        self.users = SqlUsers(self._conn)
        self.second_factors = SqlSecondFactors(self._conn, self.secret_box)
        self.renewals = SqlRenewals(self._conn)
        self.reminders = SqlReminders(self._conn)
        self.reseal = SqlResealWorklist(self._conn)
        self.identities = SqlExternalIdentities(self._conn)
        self.history = SqlHistory(self._conn)
        self.rosters = SqlRosterRuns(self._conn)
        self.subscriptions = SqlSubscriptions(self._conn)
        self._conn.info.pop(OUTBOX_KEY, None)
        self.status_lists = SqlStatusLists(self._conn)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._conn is not None
        try:
            if self._conn.in_transaction():
                self._conn.rollback()
            # After the rollback: on a connection the database dropped, .info raises until it is rolled back.
            self._conn.info.pop(OUTBOX_KEY, None)
        finally:
            self._conn.close()
            self._conn = None

    @property
    def connection(self) -> Connection:
        assert self._conn is not None, "unit of work used outside its with-block"
        return self._conn

    def commit(self) -> None:
        conn = self.connection
        if conn.info.pop(OUTBOX_KEY, 0) and self.on_outbox is not None:
            self.on_outbox(conn)
        conn.commit()

    def rollback(self) -> None:
        self.connection.info.pop(OUTBOX_KEY, None)
        self.connection.rollback()
