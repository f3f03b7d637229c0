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
_ID: BindParameter[int] = bindparam("id")
_REG_COLUMNS = (
    _r.c.id, _r.c.registration_no, _r.c.province_code, _r.c.name, _r.c.id_number, _r.c.birth_date, _r.c.status,
    _r.c.status_basis, _r.c.status_effective, _r.c.data_version, _r.c.employer_name, _r.c.employer_uscc,
)  # fmt: skip


def _statements(one: bool) -> dict[str, Any]:
    """The reads, for a chunk of numbers (``IN``, an expanding parameter) or for one number (``=``: no
    list to render at each execution, which is most of a single answer's statement cost)."""
    ids: Any = _ID if one else _IDS

    def of(column: Any) -> Any:
        return column == ids if one else column.in_(ids)

    nos = (
        _r.c.registration_no == bindparam("nos") if one else _r.c.registration_no.in_(bindparam("nos", expanding=True))
    )
    return {
        "regs": select(*_REG_COLUMNS).where(nos),
        "specs": select(_sr.c.registration_id, _sr.c.specialty, _sr.c.valid_until, _sr.c.state,
                        _sr.c.lapse_recorded_on).where(of(_sr.c.registration_id)),
        "supersessions": select(_s.c.registration_id, _s.c.to_version, _s.c.at, _s.c.cause)
        .where(of(_s.c.registration_id))
        .order_by(_s.c.registration_id, _s.c.to_version),
        "versions": select(_rv.c.registration_id, _rv.c.version, _rv.c.employer_name, _rv.c.employer_uscc).where(
            of(_rv.c.registration_id)
        ),
        "spec_versions": select(_sv.c.registration_id, _sv.c.version, _sv.c.specialty, _sv.c.valid_until,
                                _sv.c.state, _sv.c.lapse_recorded_on).where(of(_sv.c.registration_id)),
        "certs": select(_c.c.registration_id, _c.c.serial, _c.c.data_version, _c.c.usage_from, _c.c.usage_until,
                        _c.c.issued_at).where(of(_c.c.registration_id)),
    }  # fmt: skip


_MANY, _ONE = _statements(one=False), _statements(one=True)
FIRST_VERSION = 1  # registrations.data_version's default: only registry.supersede() raises it (R-CHG-1)
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

    def supersession_of(self, serial: str) -> tuple[datetime | None, str | None]:
        """When the certificate was superseded (R-CHG-1), and the registration's newest current certificate."""
        cert = self.conn.execute(
            select(_c.c.registration_id, _c.c.data_version).where(_c.c.serial == serial)
        ).one_or_none()
        if cert is None:
            return None, None
        at = self.conn.execute(
            select(_s.c.at)
            .where(_s.c.registration_id == cert.registration_id, _s.c.to_version > cert.data_version)
            .order_by(_s.c.to_version)
            .limit(1)
        ).scalar_one_or_none()
        version = select(_r.c.data_version).where(_r.c.id == cert.registration_id).scalar_subquery()
        current = self.conn.execute(
            select(_c.c.serial)
            .where(_c.c.registration_id == cert.registration_id, _c.c.data_version == version)
            .order_by(_c.c.issued_at.desc())
            .limit(1)
        ).scalar_one_or_none()
        return (_utc(at) if at is not None else None), current

    def records(self, registration_nos: Sequence[str]) -> list[RegistrationRecords]:
        """The records of those of ``registration_nos`` that exist (unknown numbers are left out)."""
        out: list[RegistrationRecords] = []
        unique = sorted(set(registration_nos))
        for i in range(0, len(unique), CHUNK):
            out += self._chunk(unique[i : i + CHUNK])
        return out

    def _chunk(self, numbers: list[str]) -> list[RegistrationRecords]:
        conn = self.conn
        one = len(numbers) == 1
        q = _ONE if one else _MANY
        regs = conn.execute(q["regs"], {"nos": numbers[0] if one else numbers}).all()
        if not regs:
            return []
        ids: Any = regs[0].id if one else [r.id for r in regs]
        params = {"id": ids} if one else {"ids": ids}
        # Supersessions and recorded versions exist only for registrations superseded at least once: a
        # chunk of registrations all at their first version (most of a registry) skips those three reads.
        changed = any(r.data_version != FIRST_VERSION for r in regs)
        specs: dict[int, list[SpecialtyRecord]] = defaultdict(list)
        for row in conn.execute(q["specs"], params):
            specs[row.registration_id].append(_spec(row))
        changes: dict[int, list[SupersessionRecord]] = defaultdict(list)
        old_specs: dict[tuple[int, int], list[SpecialtyRecord]] = defaultdict(list)
        versions: dict[int, dict[int, VersionRecord]] = defaultdict(dict)
        if changed:
            for row in conn.execute(q["supersessions"], params):
                changes[row.registration_id].append(SupersessionRecord(row.to_version, _utc(row.at), row.cause))
            for row in conn.execute(q["spec_versions"], params):
                old_specs[(row.registration_id, row.version)].append(_spec(row))
            for row in conn.execute(q["versions"], params):
                key = (row.registration_id, row.version)
                versions[row.registration_id][row.version] = VersionRecord(
                    row.version, row.employer_name, row.employer_uscc, tuple(old_specs.get(key, ()))
                )
        certs: dict[int, list[CertificateRecordOnFile]] = defaultdict(list)
        for row in conn.execute(q["certs"], params):
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
