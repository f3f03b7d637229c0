"""The verification log (R-ACC-1: every verification in the append-only, tamper-evident audit log).

A verification — the QR page, ``GET /api/v1/verify/…``, a PDF upload, ``ecert verify`` / ``verify-qr``
— becomes a row of ``verification_events`` (when, which channel, the serial and registration number
checked, the verdict; nothing about who asked). Rows are written in batches: one transaction inserts
the rows and appends ONE ``verification.batch`` event to the audit hash chain whose payload carries
the batch's count, id range and a SHA-256 digest over the rows (``audit.batch_digest``), so
:meth:`AuditLog.check <ecert.adapters.db.audit.AuditLog.check>` finds an edited, removed or added row.

Why batches: a chained append per verification would take the audit lock on every request and
serialise the public QR page (thousands of requests a second). Instead each web process keeps what
it verified in memory (:meth:`VerificationLog.record`: a list append, no I/O, safe on the event
loop) and a background task writes it every second or so, and once more at shutdown. The price: a
process that dies hard (SIGKILL, power loss) loses what it had not yet written, at most about one
flush interval (README, R-ACC-1). The CLI writes its one verification before it prints the verdict.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import Connection, Engine, func, insert, select, text
from sqlalchemy.exc import InterfaceError, OperationalError

from ecert.adapters.db.audit import BATCH_ACTION, AuditLog, VerificationRow, batch_digest
from ecert.adapters.db.tables import verification_events

log = logging.getLogger("ecert.verification_log")

CHANNELS = ("qr", "pdf", "api", "cli")
ACTOR = "system:verification-log"
# Verifications a process holds while the database cannot take them (about 150 bytes each): at the
# QR page's peak rate of one process that is several seconds of outage.
# Default of ECERT_VERIFY_LOG_BUFFER (config.py; bootstrap.make_verification_log passes the setting).
CAPACITY = 10000
# Seconds between batches: the most a hard crash can lose, and one audit event per process per interval.
# Default of ECERT_VERIFY_LOG_INTERVAL (likewise).
INTERVAL = 1.0
_V = verification_events


class Verification(NamedTuple):
    at: datetime
    channel: str
    serial: str | None
    registration_no: str | None
    status: str


def _fit(value: str | None, size: int) -> str | None:
    """Within its column: one value PostgreSQL refuses (too long, a NUL) would fail its whole batch
    on every retry. The serial and number come from a token whose signature verified, so this is a
    guard, not a normal path."""
    return None if value is None else value.replace("\x00", "")[:size]


def verification(
    at: datetime, channel: str, serial: str | None, registration_no: str | None, status: str
) -> Verification:
    return Verification(at, channel, _fit(serial, 16), _fit(registration_no, 20), _fit(status, 16) or "")


_COLUMNS = ("id", "at", "channel", "serial", "registration_no", "status", "batch_id")
# PostgreSQL types of _COLUMNS, for binary COPY.
_TYPES_PG = ("int8", "timestamptz", "varchar", "varchar", "varchar", "varchar", "varchar")


def _allocate_ids(conn: Connection, n: int) -> list[int]:
    """Ids for ``n`` rows, above every id taken so far (under the batch writers' lock): taken here
    rather than returned by the insert, so that the rows go in by COPY (PostgreSQL) / executemany."""
    if conn.dialect.name == "postgresql":
        sql = "SELECT nextval(pg_get_serial_sequence('verification_events', 'id')) FROM generate_series(1, :n)"
        return sorted(int(i) for i in conn.execute(text(sql), {"n": n}).scalars())
    # SQLite: a write that changes nothing takes the write lock before the highest id is read.
    conn.execute(text("UPDATE verification_events SET id = id WHERE 0"))
    top = int(conn.execute(select(func.coalesce(func.max(_V.c.id), 0))).scalar_one())
    return list(range(top + 1, top + n + 1))


def _insert(conn: Connection, rows: Sequence[VerificationRow]) -> None:
    """Bulk insert: binary COPY on PostgreSQL (the rows of a busy second cost about a millisecond of
    the process's CPU, not tens: it is the QR page's process that writes them), executemany on SQLite."""
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        copy_sql = f"COPY verification_events ({', '.join(_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
        with raw.cursor() as cur, cur.copy(copy_sql) as copy:  # type: ignore[union-attr]
            copy.set_types(_TYPES_PG)
            for r in rows:
                copy.write_row(r)
    else:
        conn.execute(insert(_V), [dict(zip(_COLUMNS, r, strict=True)) for r in rows])


def write_batch(
    engine: Engine, records: Sequence[Verification], *, now: datetime, dropped: int = 0
) -> dict[str, object]:
    """Insert ``records`` and seal them with one chained ``verification.batch`` event, in one
    transaction (R-ACC-1). ``dropped``: verifications this process could not log since its last
    batch; an empty batch with only that count is still written, so the loss is in the chain too.
    Returns the event's payload."""
    batch_id = uuid.uuid4().hex
    with engine.begin() as conn:
        audit = AuditLog(conn)
        audit.lock_verifications()  # batches take ids in chain order (audit.py)
        rows: list[VerificationRow] = []
        if records:
            ids = _allocate_ids(conn, len(records))
            rows = [
                (i, r.at.astimezone(UTC), r.channel, r.serial, r.registration_no, r.status, batch_id)
                for i, r in zip(ids, records, strict=True)
            ]
            _insert(conn, rows)
        payload: dict[str, object] = {
            "count": len(rows),
            "first_id": rows[0][0] if rows else None,
            "last_id": rows[-1][0] if rows else None,
            "sha256": batch_digest(rows),
            "channels": dict(sorted(Counter(r.channel for r in records).items())),
            "dropped": dropped,
        }
        audit.append(at=now, actor=ACTOR, action=BATCH_ACTION, subject=batch_id, payload=payload)
    return payload


def log_one(
    engine: Engine, now: datetime, channel: str, serial: str | None, registration_no: str | None, status: str
) -> None:
    """One verification, written at once as its own batch (the CLI: a process that is about to exit)."""
    write_batch(engine, [verification(now, channel, serial, registration_no, status)], now=now)


class VerificationLog:
    """One process's buffer of verifications and its writer (see the module's docstring)."""

    def __init__(
        self,
        engine: Engine,
        now: Callable[[], datetime],
        *,
        capacity: int = CAPACITY,
        interval: float | None = None,
        on_drop: Callable[[int], None] | None = None,
    ) -> None:
        self.engine = engine
        self.now = now
        self.capacity = capacity
        self.interval = interval  # None: :data:`INTERVAL`
        self.on_drop = on_drop
        self.dropped_total = 0
        self._pending: list[Verification] = []
        self._lost = 0  # dropped since the last batch written: that batch's event records the number
        self._lock = threading.Lock()  # records come from the event loop and from worker threads
        self._flushing = threading.Lock()  # one batch at a time per process

    @property
    def pending(self) -> int:
        return len(self._pending)

    def record(self, channel: str, serial: str | None, registration_no: str | None, status: str) -> None:
        """Remember one verification; no I/O, never blocks on the database, never raises for it."""
        item = verification(self.now(), channel, serial, registration_no, status)
        with self._lock:
            if len(self._pending) < self.capacity:
                self._pending.append(item)
                return
            self._lost += 1
            self.dropped_total += 1
            total = self.dropped_total
        # Full: the database has not taken a batch for several seconds. The visitor already has the
        # verdict; making the public check wait for, or fail with, the database would take the
        # check itself down for everyone (its availability is the point of the QR code), so this one
        # goes unlogged instead (R-ACC-1 completeness yields here). The loss is not silent: it is
        # counted in the metrics, logged, and its number is written in the next batch's chained event.
        self._dropped(1, total)

    def _dropped(self, n: int, total: int) -> None:
        if self.on_drop is not None:
            self.on_drop(n)
        if total - n < 2 ** (total.bit_length() - 1):  # the 1st, 2nd, 4th, 8th … drop: no flood
            log.warning("verification log full: %d verifications not logged so far (R-ACC-1)", total)

    def flush(self) -> int:
        """Write what is pending as one batch, on the calling thread (blocking I/O: from the event
        loop, call it in a worker thread). Returns the rows written. A database that cannot be
        reached keeps the records for the next try (within ``capacity``) and raises."""
        with self._flushing:
            with self._lock:
                batch, self._pending = self._pending, []
                lost, self._lost = self._lost, 0
            if not batch and not lost:
                return 0
            try:
                write_batch(self.engine, batch, now=self.now(), dropped=lost)
            except (OperationalError, InterfaceError):
                with self._lock:
                    merged = batch + self._pending  # the older first
                    over = max(0, len(merged) - self.capacity)
                    self._pending = merged[: self.capacity]
                    self._lost += lost + over
                    self.dropped_total += over
                    total = self.dropped_total
                if over:
                    self._dropped(over, total)
                log.warning(
                    "verification log: database unavailable, %d verifications kept for the next try", len(merged) - over
                )
                raise
            except Exception:
                # Anything else would fail the same way on every retry: give this batch up, count it.
                with self._lock:
                    self._lost += lost + len(batch)
                    self.dropped_total += len(batch)
                    total = self.dropped_total
                self._dropped(len(batch), total)
                log.exception("verification log: a batch of %d verifications could not be written", len(batch))
                raise
            return len(batch)

    async def run(self, interval: float | None = None) -> None:
        """Flush every ``interval`` seconds (default: the log's own, else :data:`INTERVAL`) until
        cancelled (the web application's lifespan)."""
        every = next(s for s in (interval, self.interval, INTERVAL) if s is not None)
        while True:
            await asyncio.sleep(every)
            with contextlib.suppress(Exception):  # logged and counted by flush; the next round tries again
                await asyncio.to_thread(self.flush)

    async def close(self, timeout: float = 10.0) -> None:
        """The last batch, at shutdown: what is pending is written (a flush still running finishes
        first). Never raises: a server stopping with its database down logs the loss and stops."""
        try:
            await asyncio.wait_for(asyncio.to_thread(self.flush), timeout)
        except Exception:
            log.error("verification log: %d verifications not written at shutdown (R-ACC-1)", self.pending + self._lost)
