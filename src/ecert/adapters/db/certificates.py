"""Issuance records (serial, data version, digest, key ids, window, confirmation)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select

from ecert.adapters.db.tables import certificates, holder_images, registrations


@dataclass(frozen=True)
class CertificateRecord:
    serial: str
    registration_no: str
    data_version: int
    identifier: str
    usage_from: date
    usage_until: date
    issue_date: date
    content_digest: str
    seal_key_id: str
    qr_kid: str
    confirmed_by: str
    confirmed_at: datetime
    issued_at: datetime


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _record(row: Row[Any]) -> CertificateRecord:
    values = {k: getattr(row, k) for k in CertificateRecord.__dataclass_fields__}
    values["confirmed_at"] = _aware(values["confirmed_at"])
    values["issued_at"] = _aware(values["issued_at"])
    return CertificateRecord(**values)


class SqlCertificates:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, rec: CertificateRecord) -> None:
        reg_id = self.conn.execute(
            select(registrations.c.id).where(registrations.c.registration_no == rec.registration_no)
        ).scalar_one()
        values = dict(rec.__dict__)
        # UTC in the database: SQLite keeps no offset, so one zone everywhere.
        values["confirmed_at"] = rec.confirmed_at.astimezone(UTC)
        values["issued_at"] = rec.issued_at.astimezone(UTC)
        self.conn.execute(insert(certificates).values(registration_id=reg_id, **values))

    def get(self, serial: str) -> CertificateRecord | None:
        row = self.conn.execute(select(certificates).where(certificates.c.serial == serial)).one_or_none()
        return None if row is None else _record(row)

    def for_registration(self, registration_no: str) -> list[CertificateRecord]:
        rows = self.conn.execute(
            select(certificates)
            .where(certificates.c.registration_no == registration_no)
            .order_by(certificates.c.issued_at)
        )
        return [_record(r) for r in rows]

    def data_version(self, registration_no: str) -> int:
        return int(
            self.conn.execute(
                select(registrations.c.data_version).where(registrations.c.registration_no == registration_no)
            ).scalar_one()
        )

    def images(self, registration_no: str) -> dict[str, bytes]:
        rows = self.conn.execute(
            select(holder_images.c.kind, holder_images.c.data)
            .join(registrations, registrations.c.id == holder_images.c.registration_id)
            .where(registrations.c.registration_no == registration_no)
        )
        return {r.kind: bytes(r.data) for r in rows}
