"""Append-only, tamper-evident audit log (R-ACC-1): each event's hash covers the previous hash.

Public verifications are many (thousands a second on the QR page), so they are not one event each:
they are rows of ``verification_events``, and each batch of them is sealed into this chain by one
``verification.batch`` event whose payload names the batch's id range, row count and a SHA-256
digest over the rows (adapters/db/verification_log.py writes them). :meth:`AuditLog.check`
recomputes every such digest from the rows, so an edited, removed or added verification row is
found as surely as an edited event.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, text

from ecert.adapters.db.tables import audit_events, verification_events

GENESIS = "0" * 64
# Any constant: serialises appends on PostgreSQL so the chain stays linear under concurrency. Taken
# inside ecert_audit_append; migration 0008 keeps its own copy, held equal by the tests.
_PG_LOCK_KEY = 0x65636572
# Serialises the writers of verification batches (one per web process, and the CLI): a batch's rows
# then take increasing ids, and batches follow each other in id order as their events do in the
# chain, which is what lets the check give every row exactly one batch. A key of its own, so that
# inserting a batch's rows does not hold up issuance and decisions waiting for _PG_LOCK_KEY.
_PG_VERIFICATION_LOCK_KEY = 0x65636576
# Built once (SQLAlchemy reuses their compiled form): the chain head, and the insert of a link.
_SQLITE_WRITE_LOCK = text("UPDATE audit_events SET id = id WHERE 0")
_HEAD = select(audit_events.c.hash).order_by(audit_events.c.id.desc()).limit(1)
_HEAD_ID = select(audit_events.c.id, audit_events.c.hash).order_by(audit_events.c.id.desc()).limit(1)
_INSERT = insert(audit_events)
# The append on PostgreSQL (migration 0008 creates the function; it locks _PG_LOCK_KEY itself).
_PG_APPEND = text("SELECT ecert_audit_append(:at, :actor, :action, :subject, :payload, :body)")
BATCH_ACTION = "verification.batch"
# Rows read at a time when the check walks the log (a server-side cursor on PostgreSQL).
_CHUNK = 10_000


def canonical(at: datetime, actor: str, action: str, subject: str | None, payload: Mapping[str, Any]) -> str:
    return json.dumps(
        {
            "at": at.astimezone(UTC).isoformat(),
            "actor": actor,
            "action": action,
            "subject": subject,
            "payload": payload,
        },
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )


def chain_hash(prev_hash: str, body: str) -> str:
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def _utc(at: datetime) -> datetime:
    """SQLite returns the stored UTC instant without its offset; PostgreSQL in the session's zone."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


# (id, at, channel, serial, registration_no, status, batch_id): a verification_events row.
VerificationRow = tuple[int, datetime, str, str | None, str | None, str, str]


def verification_line(row: VerificationRow) -> bytes:
    """One verification row, canonically: a JSON array of every column (the id and batch included,
    so moving a row to another batch or renumbering it changes the digest too), one per line."""
    id_, at, channel, serial, registration_no, status, batch_id = row
    fields = [int(id_), _utc(at).isoformat(), channel, serial, registration_no, status, batch_id]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def batch_digest(rows: Iterable[VerificationRow]) -> str:
    """SHA-256 over the canonical lines of ``rows``, in id order (R-ACC-1)."""
    h = hashlib.sha256()
    for row in rows:
        h.update(verification_line(row))
    return h.hexdigest()


@dataclass(frozen=True)
class BatchClaim:
    """What a ``verification.batch`` event says: its rows are exactly those with ids in
    (the previous batch's last id, ``last_id``], ``count`` of them from ``first_id``, with this digest.
    An empty batch (count 0, no ids) records only verifications that could not be logged (``dropped``)."""

    event_id: int
    count: int
    first_id: int | None
    last_id: int | None
    sha256: str

    @classmethod
    def parse(cls, event_id: int, payload: Any) -> BatchClaim | None:
        """None for a payload that is not a well-formed claim (itself a finding)."""
        try:
            count, first, last, digest = payload["count"], payload["first_id"], payload["last_id"], payload["sha256"]
        except (KeyError, TypeError):
            return None
        if not isinstance(count, int) or count < 0 or not isinstance(digest, str):
            return None
        if count == 0:
            return cls(event_id, 0, None, None, digest) if first is None and last is None else None
        if not (isinstance(first, int) and isinstance(last, int) and 0 < first <= last and last - first + 1 >= count):
            return None
        return cls(event_id, count, first, last, digest)


@dataclass(frozen=True)
class ChainCheck:
    """The audit log's state (R-ACC-1). ``first_broken_id``: the first event whose hash does not
    follow from its predecessor, or whose verification batch does not match its rows.
    ``unlogged_verification_id``: a verification row after the last batch that no event accounts for
    (a row added by hand), checked only when the chain itself is intact."""

    first_broken_id: int | None
    unlogged_verification_id: int | None
    events: int
    verifications: int

    @property
    def intact(self) -> bool:
        return self.first_broken_id is None and self.unlogged_verification_id is None


class AuditLog:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def lock_verifications(self) -> None:
        """Take the verification-batch writers' lock for this transaction (PostgreSQL; SQLite has one
        writer at a time anyway, from the first insert on)."""
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_VERIFICATION_LOCK_KEY})

    def append(self, *, at: datetime, actor: str, action: str, subject: str | None, payload: Mapping[str, Any]) -> str:
        # Stored in UTC: SQLite keeps no offset, so one zone everywhere keeps the hash reproducible.
        at_utc = at.astimezone(UTC)
        body = canonical(at_utc, actor, action, subject, payload)
        payload_json = json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str)
        if self.conn.dialect.name == "postgresql":
            # One round trip under the chain lock (migration 0008): the lock is held until commit, and
            # every statement taken inside it from Python made the next appender wait longer.
            digest: str = self.conn.execute(
                _PG_APPEND, {"at": at_utc, "actor": actor, "action": action, "subject": subject,
                             "payload": payload_json, "body": body},
            ).scalar_one()  # fmt: skip
            return digest
        if self.conn.dialect.name == "sqlite":
            # The driver opens SQLite's transaction only at the first write, so the head read below
            # could run outside it: another thread's or process's event (a verification batch written
            # in the background, a download) could land between that read and the insert and fork the
            # chain. A write that changes nothing takes the database's write lock first.
            self.conn.execute(_SQLITE_WRITE_LOCK)
        prev = self.conn.execute(_HEAD).scalar_one_or_none() or GENESIS
        link = chain_hash(prev, body)
        self.conn.execute(
            _INSERT,
            {"at": at_utc, "actor": actor, "action": action, "subject": subject, "payload": payload_json,
             "prev_hash": prev, "hash": link},
        )  # fmt: skip
        return link

    def head(self) -> tuple[int, str] | None:
        """The chain's last event: (its id, its hash), None while the log is empty. Ids only grow, so
        the id says how far the chain went (``audit verify`` counts the events themselves)."""
        row = self.conn.execute(_HEAD_ID).one_or_none()
        return None if row is None else (int(row.id), str(row.hash))

    def verify(self) -> int | None:
        """Id of the first event whose hash does not follow from its predecessor, or whose
        verification batch does not match its rows; None if intact. :meth:`check` says more."""
        return self.check().first_broken_id

    def check(self) -> ChainCheck:
        """Walk the chain, then every verification batch against its rows (R-ACC-1)."""
        prev = GENESIS
        broken: int | None = None
        events = 0
        last_event_id = 0
        claims: list[BatchClaim] = []
        bad_claim: int | None = None
        result = self.conn.execute(select(audit_events).order_by(audit_events.c.id).execution_options(yield_per=_CHUNK))
        try:
            for row in result:
                events += 1
                payload = json.loads(row.payload)
                body = canonical(_utc(row.at), row.actor, row.action, row.subject, payload)
                if row.prev_hash != prev or chain_hash(prev, body) != row.hash:
                    broken = int(row.id)
                    break
                prev, last_event_id = row.hash, int(row.id)
                if row.action == BATCH_ACTION and bad_claim is None:
                    claim = BatchClaim.parse(int(row.id), payload)
                    if claim is None:
                        bad_claim = int(row.id)  # the events after it still have their hashes checked
                    else:
                        claims.append(claim)
        finally:
            result.close()
        bad_batch, checked = self._check_batches(claims)
        found = [i for i in (broken, bad_claim, bad_batch) if i is not None]
        first_broken = min(found) if found else None
        unlogged = None
        if first_broken is None:
            last = max((c.last_id for c in claims if c.last_id is not None), default=0)
            unlogged = self._unlogged_after(last, last_event_id)
        return ChainCheck(first_broken, unlogged, events, checked)

    def _rows(self, up_to: int) -> Generator[VerificationRow, None, None]:
        v = verification_events.c
        stmt = (
            select(v.id, v.at, v.channel, v.serial, v.registration_no, v.status, v.batch_id)
            .where(v.id <= up_to)
            .order_by(v.id)
            .execution_options(yield_per=_CHUNK)
        )
        result = self.conn.execute(stmt)
        try:
            for r in result:
                yield (int(r[0]), r[1], r[2], r[3], r[4], r[5], r[6])
        finally:
            result.close()

    def _check_batches(self, claims: list[BatchClaim]) -> tuple[int | None, int]:
        """(event id of the first batch that does not match its rows, or None; rows checked).

        The claims come in chain order and their id ranges follow each other; each batch owns every
        row from just after the previous batch's last id to its own last id (ids a rolled-back batch
        took are simply unused), so a row added in a gap belongs to the next batch and breaks it."""
        up_to = max((c.last_id for c in claims if c.last_id is not None), default=0)
        if up_to == 0:
            return None, 0
        rows = self._rows(up_to)
        checked = 0
        try:
            current = next(rows, None)
            previous_last = 0
            for claim in claims:
                if claim.last_id is None or claim.first_id is None:
                    continue  # an empty batch: nothing but the count of verifications lost
                if claim.first_id <= previous_last:
                    return claim.event_id, checked
                h = hashlib.sha256()
                n, first, last = 0, None, None
                while current is not None and current[0] <= claim.last_id:
                    h.update(verification_line(current))
                    first = current[0] if first is None else first
                    n, last = n + 1, current[0]
                    current = next(rows, None)
                checked += n
                if (n, first, last, h.hexdigest()) != (claim.count, claim.first_id, claim.last_id, claim.sha256):
                    return claim.event_id, checked
                previous_last = claim.last_id
        finally:
            rows.close()
        return None, checked

    def _unlogged_after(self, last_id: int, last_event_id: int) -> int | None:
        """The first verification row after ``last_id`` that no batch accounts for. Rows and their
        batch event commit together, so a batch committed while the chain was being walked is looked
        up afterwards: the rows are read first, the events second, and only a row that even the newer
        events do not cover is reported (no false alarm from a flush running during the check)."""
        v = verification_events.c
        tail_max = self.conn.execute(select(func.max(v.id)).where(v.id > last_id)).scalar_one_or_none()
        if tail_max is None:
            return None
        newer = self.conn.execute(
            select(audit_events.c.id, audit_events.c.payload).where(
                audit_events.c.id > last_event_id, audit_events.c.action == BATCH_ACTION
            )
        )
        covered = last_id
        for event_id, payload in newer:
            claim = BatchClaim.parse(int(event_id), json.loads(payload))
            if claim is not None and claim.last_id is not None:
                covered = max(covered, claim.last_id)
        if tail_max <= covered:
            return None
        first = self.conn.execute(select(func.min(v.id)).where(v.id > covered, v.id <= tail_max)).scalar_one()
        return int(first)
