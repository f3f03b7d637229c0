"""Issuance records (serial, data version, digest, key ids, window, confirmation)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, Connection, Date, DateTime, Integer, Row, bindparam, insert, select, text

from ecert.adapters.db.audit import certificate_digest
from ecert.adapters.db.registry import build_registration
from ecert.adapters.db.tables import certificates, holder_images, registrations
from ecert.domain.certificate import CertificateRecord
from ecert.domain.verification import VerificationSnapshot


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _record(row: Row[Any]) -> CertificateRecord:
    values = {k: getattr(row, k) for k in CertificateRecord.__dataclass_fields__}
    values["confirmed_at"] = _aware(values["confirmed_at"])
    values["issued_at"] = _aware(values["issued_at"])
    return CertificateRecord(**values)


_RECORD_FIELDS = tuple(CertificateRecord.__dataclass_fields__)
_REG_FIELDS = (
    "province_code", "name", "gender", "birth_date", "id_number", "employer_name", "employer_uscc", "status",
    "data_version", "ce_hours", "status_basis", "status_effective",
)  # fmt: skip
_SPEC_FIELDS = ("specialty", "valid_until", "state", "lapse_reason")
# One round trip for the whole online check (the public QR page's hot path): the certificate, its
# registration (by number, as issued), one row per specialty with its pending-renewal flag, and
# whether a signature image is stored. Plain SQL common to SQLite and PostgreSQL; ``{serial}`` is
# the parameter marker of the caller (SQLAlchemy ``:serial``, libpq ``$1``).
_SNAPSHOT_SQL = (
    "SELECT "
    + ", ".join(f"c.{f}" for f in _RECORD_FIELDS)
    + ", "
    + ", ".join(f"r.{f} AS r_{f}" for f in _REG_FIELDS)
    + ", h.registration_id IS NOT NULL AS r_has_sig, "
    + ", ".join(f"s.{f} AS s_{f}" for f in _SPEC_FIELDS)
    + ", ri.id IS NOT NULL AS s_pending "
    "FROM certificates c JOIN registrations r ON r.registration_no = c.registration_no "
    # At most one row each (primary key; the partial unique index of pending items): index probes,
    # never a hashed scan of every image or item.
    "LEFT JOIN holder_images h ON h.registration_id = r.id AND h.kind = 'signature' "
    "LEFT JOIN specialty_registrations s ON s.registration_id = r.id "
    "LEFT JOIN renewal_items ri ON ri.registration_id = s.registration_id AND ri.specialty = s.specialty"
    " AND ri.status = 'pending' "
    "WHERE c.serial = {serial} ORDER BY s.id"
)
SNAPSHOT_SQL_PG = _SNAPSHOT_SQL.format(serial="$1")  # for engine.AsyncReadPool
_SNAPSHOT_TYPES: dict[str, Any] = {
    "usage_from": Date, "usage_until": Date, "issue_date": Date, "confirmed_at": DateTime(timezone=True),
    "issued_at": DateTime(timezone=True), "data_version": Integer, "r_birth_date": Date, "r_data_version": Integer,
    "r_ce_hours": Integer, "r_status_effective": Date, "r_has_sig": Boolean, "s_valid_until": Date,
    "s_pending": Boolean,
}  # fmt: skip
# Typed: SQLite returns dates and datetimes as text and booleans as integers.
SNAPSHOT_STATEMENT = text(_SNAPSHOT_SQL.format(serial=":serial")).columns(**_SNAPSHOT_TYPES)


def snapshot_from_rows(rows: Sequence[Sequence[Any]]) -> VerificationSnapshot | None:
    """Rows of :data:`SNAPSHOT_SQL_PG` / :data:`SNAPSHOT_STATEMENT`, positional, → the snapshot."""
    if not rows:
        return None
    first = rows[0]
    n = len(_RECORD_FIELDS)
    rec = dict(zip(_RECORD_FIELDS, first[:n], strict=True))
    rec["confirmed_at"] = _aware(rec["confirmed_at"])
    rec["issued_at"] = _aware(rec["issued_at"])
    record = CertificateRecord(**rec)
    reg = dict(zip(_REG_FIELDS, first[n : n + len(_REG_FIELDS)], strict=True))
    has_sig = first[n + len(_REG_FIELDS)]
    spec_at = n + len(_REG_FIELDS) + 1
    registration = build_registration(
        registration_no=record.registration_no,
        province_code=reg["province_code"],
        name=reg["name"],
        gender=reg["gender"],
        birth_date=reg["birth_date"],
        id_number=reg["id_number"],
        employer_name=reg["employer_name"],
        employer_uscc=reg["employer_uscc"],
        status=reg["status"],
        has_signature=has_sig,
        data_version=reg["data_version"],
        ce_hours=reg["ce_hours"],
        specialties=[tuple(r[spec_at : spec_at + 5]) for r in rows if r[spec_at] is not None],
    )
    return VerificationSnapshot(record, registration, reg["status_basis"], reg["status_effective"])


def _add_statement() -> Any:
    """INSERT … SELECT: the registration's id is looked up in the same statement (one round trip)."""
    cols = [c.name for c in certificates.c if c.name not in ("id", "registration_id")]
    source = select(*(bindparam(n, type_=certificates.c[n].type) for n in cols), registrations.c.id).where(
        registrations.c.registration_no == bindparam("registration_no")
    )
    return insert(certificates).from_select([*cols, "registration_id"], source).returning(certificates.c.serial)


_ADD_STATEMENT = _add_statement()
_IMAGES_STATEMENT = (
    select(holder_images.c.kind, holder_images.c.data)
    .join(registrations, registrations.c.id == holder_images.c.registration_id)
    .where(registrations.c.registration_no == bindparam("no"))
)


class SqlCertificates:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, rec: CertificateRecord) -> str:
        """Insert the row; returns its digest (audit.certificate_digest) for the event that logs it."""
        values = dict(rec.__dict__)
        # UTC in the database: SQLite keeps no offset, so one zone everywhere.
        values["confirmed_at"] = rec.confirmed_at.astimezone(UTC)
        values["issued_at"] = rec.issued_at.astimezone(UTC)
        # RETURNING, not rowcount: psycopg reports -1 for an INSERT … SELECT.
        if self.conn.execute(_ADD_STATEMENT, values).scalar_one_or_none() is None:  # the registration is gone
            raise LookupError(f"no registration {rec.registration_no}")
        return certificate_digest(values)

    def get(self, serial: str) -> CertificateRecord | None:
        row = self.conn.execute(select(certificates).where(certificates.c.serial == serial)).one_or_none()
        return None if row is None else _record(row)

    def snapshot(self, serial: str) -> VerificationSnapshot | None:
        """The issuance record and its registration's current state, in one statement."""
        return snapshot_from_rows(self.conn.execute(SNAPSHOT_STATEMENT, {"serial": serial}).all())

    def for_registration(self, registration_no: str) -> list[CertificateRecord]:
        rows = self.conn.execute(
            select(certificates)
            .where(certificates.c.registration_no == registration_no)
            .order_by(certificates.c.issued_at)
        )
        return [_record(r) for r in rows]

    def current_under_key(self, registration_no: str, data_version: int, key_id: str) -> str | None:
        """Serial of a certificate of the registration at ``data_version`` sealed with ``key_id``, if any."""
        c = certificates
        reg_id = select(registrations.c.id).where(registrations.c.registration_no == registration_no).scalar_subquery()
        return self.conn.execute(
            select(c.c.serial)
            .where(c.c.registration_id == reg_id, c.c.data_version == data_version, c.c.seal_key_id == key_id)
            .limit(1)
        ).scalar_one_or_none()

    def images(self, registration_no: str) -> dict[str, bytes]:
        return {r.kind: bytes(r.data) for r in self.conn.execute(_IMAGES_STATEMENT, {"no": registration_no})}
