"""Engines and schema upgrades for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    pass

MIGRATIONS = Path(__file__).parent / "migrations"
# Defaults of config.DbSettings (ECERT_DB_POOL_SIZE, ECERT_DB_POOL_OVERFLOW, ECERT_DB_READ_POOL_SIZE);
# bootstrap.py passes the configured values.
POOL_SIZE = 16
POOL_OVERFLOW = 16
READ_POOL_SIZE = 8


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets readers go on during an import; foreign keys are off by default in SQLite.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str, *, pool_size: int = POOL_SIZE, pool_overflow: int = POOL_OVERFLOW) -> Engine:
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(u)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # A web worker runs sync endpoints on up to 40 threads: a pool smaller than the concurrency
    # opens and closes an overflow connection (a PostgreSQL backend fork) on every request.
    return create_engine(u, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_overflow)


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Create or upgrade the schema to the newest revision; returns (before, after)."""
    cfg = alembic_config(engine)
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with engine.begin() as conn:
        before = MigrationContext.configure(conn).get_current_revision()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    assert head is not None
    return before, head


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _LeanConnection:
    """One autocommit connection driven at the libpq level for :class:`AsyncReadPool`: its socket's
    reader is registered once (not twice a query), each statement is prepared once by name and
    its rows are loaded by psycopg's own loaders — half the client CPU of ``cursor.execute``."""

    def __init__(self, conn: Any, loop: asyncio.AbstractEventLoop) -> None:
        from psycopg import pq
        from psycopg.adapt import Transformer

        self.pq = pq
        self.conn = conn  # the psycopg connection that owns the libpq one (connect, auth, TLS)
        self.pg = conn.pgconn
        self.pg.nonblocking = 1
        self.encoding: str = conn.info.encoding
        self.tx = Transformer(conn)
        self.loop = loop
        self.fd: int = self.pg.socket
        self.prepared: dict[str, bytes] = {}
        self.results: list[Any] = []
        self.waiter: asyncio.Future[None] | None = None
        self.alive = True
        loop.add_reader(self.fd, self._readable)

    def _readable(self) -> None:
        try:
            self.pg.consume_input()
            while not self.pg.is_busy():
                res = self.pg.get_result()
                if res is None:  # the statement's results are complete (or nothing was asked)
                    self._wake(None)
                    return
                self.results.append(res)
        except Exception as exc:  # the server or the network closed it
            self.close()
            self._wake(exc)

    def _wake(self, exc: BaseException | None) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            if exc is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(exc)

    async def _results(self) -> list[Any]:
        """After a send: the statement's results, once all have arrived."""
        while self.pg.flush():  # 1: more to send than the socket took at once
            writable: asyncio.Future[None] = self.loop.create_future()
            self.loop.add_writer(self.fd, _resolve, writable)
            try:
                await writable
            finally:
                self.loop.remove_writer(self.fd)
        self.results = []
        self.waiter = self.loop.create_future()
        await self.waiter
        results, self.results = self.results, []
        return results

    def _one(self, results: list[Any], status: Any) -> Any:
        for res in results:
            if res.status != status:
                sqlstate = res.error_field(self.pq.DiagnosticField.SQLSTATE)
                message = (res.error_message or b"unexpected result").decode(self.encoding, "replace").strip()
                from psycopg import errors

                cls = errors.lookup(sqlstate.decode()) if sqlstate else errors.DatabaseError
                raise cls(message)
        if len(results) != 1:
            raise self.conn.DatabaseError(f"expected one result, got {len(results)}")
        return results[0]

    async def fetch(self, sql: str, params: Sequence[str]) -> list[tuple[Any, ...]]:
        name = self.prepared.get(sql)
        if name is None:
            name = f"ecert_read_{len(self.prepared)}".encode()
            self.pg.send_prepare(name, sql.encode(self.encoding))
            self._one(await self._results(), self.pq.ExecStatus.COMMAND_OK)
            self.prepared[sql] = name
        self.pg.send_query_prepared(name, [p.encode(self.encoding) for p in params])
        res = self._one(await self._results(), self.pq.ExecStatus.TUPLES_OK)
        self.tx.set_pgresult(res)
        rows: list[tuple[Any, ...]] = self.tx.load_rows(0, res.ntuples, tuple)
        return rows

    def close(self) -> None:
        if not self.alive:
            return
        self.alive = False
        with contextlib.suppress(RuntimeError):  # its event loop is closed already
            self.loop.remove_reader(self.fd)
        self.pg.finish()


class AsyncReadPool:
    """A few autocommit PostgreSQL connections for the hottest read, the public QR check: one
    prepared statement a request, no BEGIN/ROLLBACK, no pool checkout or pre-ping round trip, no
    thread hop. At most ``size`` connections per process; bound to the running event loop (a new
    loop, as in a test client, starts afresh)."""

    def __init__(self, engine: Engine, size: int = READ_POOL_SIZE) -> None:
        import psycopg

        self.psycopg = psycopg
        _, params = engine.dialect.create_connect_args(engine.url)
        params.pop("context", None)  # SQLAlchemy's adapters: the read needs only psycopg's own
        self.params: dict[str, Any] = dict(params)
        self.size = size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle: list[_LeanConnection] = []
        self._slots = asyncio.Semaphore(size)

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        for conn in self._idle:
            conn.close()  # made on another loop: not read there any more
        self._idle = []
        self._slots = asyncio.Semaphore(self.size)
        self._loop = loop

    async def fetch(self, sql: str, params: Sequence[str]) -> list[tuple[Any, ...]]:
        """All rows of one read-only statement with text parameters ``$1``, ``$2``…. A connection
        that fails (the server restarted, the network dropped) is discarded and the read retried
        once on a new one. A database still unreachable then is SQLAlchemy's ``OperationalError``,
        as from every other query of the service (the web answers it 503 ``database_error``)."""
        from sqlalchemy.exc import OperationalError

        try:
            return await self._fetch(sql, params)
        except self.psycopg.OperationalError as exc:
            raise OperationalError(sql, list(params), exc) from exc

    async def _fetch(self, sql: str, params: Sequence[str]) -> list[tuple[Any, ...]]:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._bind(loop)
        async with self._slots:
            for attempt in (0, 1):
                idle = self._idle
                conn = idle.pop() if idle else None
                fresh = conn is None
                if conn is None or not conn.alive:
                    raw = await self.psycopg.AsyncConnection.connect(**self.params, autocommit=True)
                    conn, fresh = _LeanConnection(raw, loop), True
                try:
                    rows = await conn.fetch(sql, params)
                except self.psycopg.OperationalError:
                    conn.close()
                    if fresh or attempt:
                        raise
                    continue
                except BaseException:
                    conn.close()  # cancelled or failed mid-statement: its state is unknown
                    raise
                if idle is self._idle:
                    idle.append(conn)
                else:  # the loop changed meanwhile
                    conn.close()
                return rows
        raise AssertionError("unreachable")
