"""SQL reads for the history that answers for a date (domain/history.py, issue 13 item 1): the records
of many registrations in a few set-based statements per chunk of numbers — the registrations, their
specialties, supersessions, recorded versions and certificates — whatever the registry's size."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BindParameter, Connection, bindparam, select

from ecert.adapters.db.tables import (
    certificates,
    registration_versions,
    registrations,
    specialty_registrations,
    specialty_versions,
    supersessions,
)
from ecert.domain.history import (
    CertificateRecordOnFile,
    RegistrationRecords,
    SpecialtyRecord,
    SupersessionRecord,
    VersionRecord,
)
from ecert.domain.model import SupersessionCause

CHUNK = 2_000  # numbers per statement: well under SQLite's bound-parameter limit
ENDINGS = (SupersessionCause.REVOCATION.value, SupersessionCause.CANCELLATION.value)

_r, _sr, _s = registrations, specialty_registrations, supersessions
_rv, _sv, _c = registration_versions, specialty_versions, certificates
_IDS: BindParameter[list[int]] = bindparam("ids", expanding=True)
_REGS = select(
    _r.c.id, _r.c.registration_no, _r.c.province_code, _r.c.name, _r.c.id_number, _r.c.birth_date, _r.c.status,
    _r.c.status_basis, _r.c.status_effective, _r.c.data_version, _r.c.employer_name, _r.c.employer_uscc,
).where(_r.c.registration_no.in_(bindparam("nos", expanding=True)))  # fmt: skip
_SPECS = select(_sr.c.registration_id, _sr.c.specialty, _sr.c.valid_until, _sr.c.state, _sr.c.lapse_recorded_on).where(
    _sr.c.registration_id.in_(_IDS)
)
_SUPERSESSIONS = (
    select(_s.c.registration_id, _s.c.to_version, _s.c.at, _s.c.cause)
    .where(_s.c.registration_id.in_(_IDS))
    .order_by(_s.c.registration_id, _s.c.to_version)
)
_VERSIONS = select(_rv.c.registration_id, _rv.c.version, _rv.c.employer_name, _rv.c.employer_uscc).where(
    _rv.c.registration_id.in_(_IDS)
)
_SPEC_VERSIONS = select(
    _sv.c.registration_id, _sv.c.version, _sv.c.specialty, _sv.c.valid_until, _sv.c.state, _sv.c.lapse_recorded_on
).where(_sv.c.registration_id.in_(_IDS))
_CERTS = select(
    _c.c.registration_id, _c.c.serial, _c.c.data_version, _c.c.usage_from, _c.c.usage_until, _c.c.issued_at
).where(_c.c.registration_id.in_(_IDS))
_BY_SERIAL = select(_c.c.registration_no).where(_c.c.serial == bindparam("serial"))


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _spec(row: Any) -> SpecialtyRecord:
    return SpecialtyRecord(row.specialty, row.valid_until, row.state, row.lapse_recorded_on)


class SqlHistory:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def registration_of_serial(self, serial: str) -> str | None:
        """The registration number a certificate serial was issued to, if it was."""
        return self.conn.execute(_BY_SERIAL, {"serial": serial}).scalar_one_or_none()

    def records(self, registration_nos: Sequence[str]) -> list[RegistrationRecords]:
        """The records of those of ``registration_nos`` that exist (unknown numbers are left out)."""
        out: list[RegistrationRecords] = []
        unique = sorted(set(registration_nos))
        for i in range(0, len(unique), CHUNK):
            out += self._chunk(unique[i : i + CHUNK])
        return out

    def _chunk(self, numbers: list[str]) -> list[RegistrationRecords]:
        conn = self.conn
        regs = conn.execute(_REGS, {"nos": numbers}).all()
        if not regs:
            return []
        ids = [r.id for r in regs]
        specs: dict[int, list[SpecialtyRecord]] = defaultdict(list)
        for row in conn.execute(_SPECS, {"ids": ids}):
            specs[row.registration_id].append(_spec(row))
        changes: dict[int, list[SupersessionRecord]] = defaultdict(list)
        for row in conn.execute(_SUPERSESSIONS, {"ids": ids}):
            changes[row.registration_id].append(SupersessionRecord(row.to_version, _utc(row.at), row.cause))
        old_specs: dict[tuple[int, int], list[SpecialtyRecord]] = defaultdict(list)
        for row in conn.execute(_SPEC_VERSIONS, {"ids": ids}):
            old_specs[(row.registration_id, row.version)].append(_spec(row))
        versions: dict[int, dict[int, VersionRecord]] = defaultdict(dict)
        for row in conn.execute(_VERSIONS, {"ids": ids}):
            key = (row.registration_id, row.version)
            versions[row.registration_id][row.version] = VersionRecord(
                row.version, row.employer_name, row.employer_uscc, tuple(old_specs.get(key, ()))
            )
        certs: dict[int, list[CertificateRecordOnFile]] = defaultdict(list)
        for row in conn.execute(_CERTS, {"ids": ids}):
            cert = CertificateRecordOnFile(
                row.serial, row.data_version, row.usage_from, row.usage_until, _utc(row.issued_at)
            )
            certs[row.registration_id].append(cert)
        out = []
        for r in regs:
            history = tuple(changes.get(r.id, ()))
            ended = [s.at for s in history if s.cause in ENDINGS]
            out.append(
                RegistrationRecords(
                    registration_no=r.registration_no,
                    province_code=r.province_code,
                    name=r.name,
                    id_number=r.id_number,
                    birth_date=r.birth_date,
                    status=r.status,
                    status_basis=r.status_basis,
                    status_effective=r.status_effective,
                    ended_at=ended[-1] if ended else None,
                    current=VersionRecord(r.data_version, r.employer_name, r.employer_uscc, tuple(specs.get(r.id, ()))),
                    versions=versions.get(r.id, {}),
                    supersessions=history,
                    certificates=tuple(certs.get(r.id, ())),
                )
            )
        return out
