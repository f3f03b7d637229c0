"""An in-memory unit of work for the use cases (after cosmicpython's ``FakeUnitOfWork``).

Every repository of services/ports.py, over one :class:`FakeDatabase`. The unit of work is a real
transaction: entering it takes a copy of the data, and leaving it without ``commit()`` puts the copy
back, so "a refused request changes nothing" can be tested here too. What each repository does is
held equal to the SQL one by tests/integration/adapters/db/test_repository_contract.py.

Not modelled: concurrency (two units of work at once) and the database's own checks beyond those
the use cases rely on (one pending application per specialty, R-REN-1).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from types import TracebackType
from typing import Any, Self

from ecert.adapters.db.registry import Change, HolderImage
from ecert.adapters.db.reminders import DueReminder, OutboxEntry
from ecert.adapters.db.renewals import RenewalDecision, RenewalRequest
from ecert.adapters.db.reseal import ResealItem
from ecert.adapters.db.users import User
from ecert.domain.certificate import CertificateRecord
from ecert.domain.dates import CST
from ecert.domain.errors import RuleRefusal
from ecert.domain.history import (
    CertificateRecordOnFile,
    RegistrationRecords,
    SpecialtyRecord,
    SupersessionRecord,
    VersionRecord,
)
from ecert.domain.ids import make_id_number, make_registration_no, make_uscc
from ecert.domain.model import (
    ApplicationStatus,
    Employer,
    Gender,
    LapseReason,
    Person,
    Registration,
    RegistrationStatus,
    RenewalApplication,
    SpecialtyRegistration,
    SpecialtyState,
    StatusRecord,
    Supersession,
    SupersessionCause,
)
from ecert.domain.verification import VerificationSnapshot
from ecert.services.unit_of_work import AbstractUnitOfWork


@dataclass
class Application:
    id: int
    registration_no: str
    items: dict[str, date]  # specialty -> validity end when applied
    applied_on: date
    ce_hours: int | None
    committed: bool
    applied_by: str
    status: ApplicationStatus = ApplicationStatus.PENDING
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    new_valid_until: date | None = None


@dataclass
class FakeDatabase:
    """The data, as plain values (deep-copied by a unit of work on entry)."""

    registrations: dict[str, Registration] = field(default_factory=dict)  # stored: has_signature/pending derived
    statuses: dict[str, StatusRecord] = field(default_factory=dict)
    emails: dict[str, str | None] = field(default_factory=dict)
    images: dict[tuple[str, str], tuple[str, bytes]] = field(default_factory=dict)  # (no, kind) -> (sha256, data)
    supersessions: list[Supersession] = field(default_factory=list)
    certificates: dict[str, CertificateRecord] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    audit: list[dict[str, Any]] = field(default_factory=list)
    identities: dict[tuple[str, str], str] = field(default_factory=dict)  # (issuer, subject) -> username
    applications: dict[int, Application] = field(default_factory=dict)
    reminders: dict[int, OutboxEntry] = field(default_factory=dict)  # id -> the row as the outbox lists it
    reseal: dict[str, str] = field(default_factory=dict)  # registration no -> seal key it is listed from

    def add_registration(self, reg: Registration, *, email: str | None = None) -> None:
        """Seed a registration (at its ``data_version``); a signature image if it ``has_signature``."""
        self.registrations[reg.registration_no] = reg
        self.statuses[reg.registration_no] = StatusRecord(reg.status)
        self.emails[reg.registration_no] = email
        if reg.has_signature:
            self.images[(reg.registration_no, "signature")] = ("0" * 64, b"\x89PNG fake signature")


class FakeRegistrations:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    # ------------------------------------------------------------------ reads
    def get(self, registration_no: str) -> Registration | None:
        reg = self.db.registrations.get(registration_no)
        if reg is None:
            return None
        pending = {
            s
            for a in self.db.applications.values()
            if a.registration_no == registration_no and a.status is ApplicationStatus.PENDING
            for s in a.items
        }
        return replace(
            reg,
            has_signature=(registration_no, "signature") in self.db.images,
            specialties=tuple(replace(s, pending_application=s.specialty in pending) for s in reg.specialties),
        )

    def get_with_images(self, registration_no: str) -> tuple[Registration, dict[str, bytes]] | None:
        reg = self.get(registration_no)
        if reg is None:
            return None
        return reg, {kind: data for (no, kind), (_sha, data) in self.db.images.items() if no == registration_no}

    def status_record(self, registration_no: str) -> StatusRecord | None:
        return self.db.statuses.get(registration_no)

    def employer_names(self, uscc: str) -> set[str]:
        return {r.employer.name for r in self.db.registrations.values() if r.employer.uscc == uscc}

    def active_registration_of(self, id_number: str, *, besides: str) -> str | None:
        return next(
            (
                no
                for no, r in sorted(self.db.registrations.items())
                if r.person.id_number == id_number and r.status is RegistrationStatus.ACTIVE and no != besides
            ),
            None,
        )

    def supersessions(self, registration_no: str) -> list[Supersession]:
        return [s for s in self.db.supersessions if s.registration_no == registration_no]

    # ------------------------------------------------------------------ changes of printed data (R-CHG-1)
    def _supersede(self, reg: Registration, change: Change) -> int:
        """The fake's one place that raises a data version, and records it."""
        version = reg.data_version + 1
        self.db.registrations[reg.registration_no] = replace(reg, data_version=version)
        at = change.at.astimezone(UTC)
        self.db.supersessions.append(
            Supersession(reg.registration_no, reg.data_version, version, at, change.cause, change.actor)
        )
        return version

    def supersede(
        self, registration_no: str, change: Change, *, person: Person | None = None, employer: Employer | None = None
    ) -> int:
        reg = self.db.registrations.get(registration_no)
        if reg is None:
            raise LookupError(f"no registration {registration_no}")
        reg = replace(reg, person=person or reg.person, employer=employer or reg.employer)
        return self._supersede(reg, change)

    def end(self, registration_no: str, record: StatusRecord, *, at: datetime, actor: str) -> int | None:
        reg = self.db.registrations.get(registration_no)
        if reg is None or reg.status is not RegistrationStatus.ACTIVE:
            return None
        self.db.statuses[registration_no] = record
        revoked = record.status is RegistrationStatus.REVOKED
        cause = SupersessionCause.REVOCATION if revoked else SupersessionCause.CANCELLATION
        return self._supersede(replace(reg, status=record.status), Change(cause, at, actor))

    def rename_employer(self, uscc: str, name: str, *, at: datetime, actor: str) -> list[str]:
        renamed = []
        for no, reg in sorted(self.db.registrations.items()):
            if reg.employer.uscc == uscc and reg.employer.name != name:
                renamed_reg = replace(reg, employer=Employer(name, uscc))
                self._supersede(renamed_reg, Change(SupersessionCause.EMPLOYER_RENAME, at, actor))
                renamed.append(no)
        return renamed

    def renew_specialties(self, registration_no: str, specialties: Sequence[str], valid_until: date) -> None:
        reg = self.db.registrations[registration_no]
        specs = tuple(
            replace(s, valid_until=valid_until, stored_state=SpecialtyState.VALID, lapse_reason=None)
            if s.specialty in specialties
            else s
            for s in reg.specialties
        )
        self.db.registrations[registration_no] = replace(reg, specialties=specs)

    def lapse_specialties(
        self,
        registration_no: str,
        specialties: Sequence[str],
        reason: LapseReason,
        today: date,
        *,
        at: datetime | None = None,
    ) -> None:
        reg = self.db.registrations[registration_no]
        specs = tuple(
            replace(s, stored_state=SpecialtyState.LAPSED, lapse_reason=reason)
            if s.specialty in specialties and s.stored_state is SpecialtyState.VALID
            else s
            for s in reg.specialties
        )
        self.db.registrations[registration_no] = replace(reg, specialties=specs)

    def put_image(self, registration_no: str, image: HolderImage, change: Change, *, bump_version: bool = True) -> bool:
        reg = self.db.registrations[registration_no]
        current = self.db.images.get((registration_no, image.kind))
        if current is not None and current[0] == image.sha256:
            return False
        self.db.images[(registration_no, image.kind)] = (image.sha256, image.data)
        if bump_version:
            self._supersede(reg, change)
        return True

    def sweep(
        self, *, today: date, age_birth_cutoff: date, lapse_start: date, now: datetime | None = None
    ) -> tuple[int, int, int]:
        aged = ended = checked = 0
        for no in sorted(self.db.registrations):
            reg = self.get(no)
            assert reg is not None
            specs = []
            for s in reg.specialties:
                if s.stored_state is SpecialtyState.VALID:
                    checked += 1
                    if reg.person.birth_date <= age_birth_cutoff:
                        s = replace(s, stored_state=SpecialtyState.LAPSED, lapse_reason=LapseReason.AGE_LIMIT)
                        aged += 1
                    elif today >= lapse_start and s.valid_until < today and not s.pending_application:
                        s = replace(s, stored_state=SpecialtyState.LAPSED, lapse_reason=LapseReason.NO_RENEWAL)
                        ended += 1
                specs.append(replace(s, pending_application=False))
            self.db.registrations[no] = replace(self.db.registrations[no], specialties=tuple(specs))
        return aged, ended, checked


class FakeCertificates:
    def __init__(self, db: FakeDatabase, registry: FakeRegistrations) -> None:
        self.db, self.registry = db, registry

    def add(self, rec: CertificateRecord) -> None:
        if rec.registration_no not in self.db.registrations:
            raise LookupError(f"no registration {rec.registration_no}")
        self.db.certificates[rec.serial] = rec

    def get(self, serial: str) -> CertificateRecord | None:
        return self.db.certificates.get(serial)

    def snapshot(self, serial: str) -> VerificationSnapshot | None:
        rec = self.db.certificates.get(serial)
        reg = self.registry.get(rec.registration_no) if rec is not None else None
        if rec is None or reg is None:
            return None
        status = self.db.statuses[rec.registration_no]
        return VerificationSnapshot(rec, reg, status.basis, status.effective)

    def for_registration(self, registration_no: str) -> list[CertificateRecord]:
        return sorted(
            (c for c in self.db.certificates.values() if c.registration_no == registration_no),
            key=lambda c: c.issued_at,
        )

    def images(self, registration_no: str) -> dict[str, bytes]:
        return {kind: data for (no, kind), (_sha, data) in self.db.images.items() if no == registration_no}

    def current_under_key(self, registration_no: str, data_version: int, key_id: str) -> str | None:
        return next(
            (
                c.serial
                for c in self.db.certificates.values()
                if (c.registration_no, c.data_version, c.seal_key_id) == (registration_no, data_version, key_id)
            ),
            None,
        )


class FakeHistory:
    """The history reads over the fake's data. The fake records no ended versions (adapters/db/registry.py
    ``supersede`` does): every version reads as the current one, which suits the unit tests of verdicts."""

    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    def registration_of_serial(self, serial: str) -> str | None:
        rec = self.db.certificates.get(serial)
        return rec.registration_no if rec is not None else None

    def supersession_of(self, serial: str) -> tuple[datetime | None, str | None]:
        rec = self.db.certificates.get(serial)
        if rec is None:
            return None, None
        no = rec.registration_no
        at = next(
            (s.at for s in self.db.supersessions if s.registration_no == no and s.to_version > rec.data_version), None
        )
        version = self.db.registrations[no].data_version
        current = [c for c in self.db.certificates.values() if c.registration_no == no and c.data_version == version]
        return at, max(current, key=lambda c: c.issued_at).serial if current else None

    def records(self, registration_nos: Sequence[str]) -> list[RegistrationRecords]:
        out = []
        for no in dict.fromkeys(registration_nos):
            reg = self.db.registrations.get(no)
            if reg is None:
                continue
            status = self.db.statuses[no]
            changes = tuple(
                SupersessionRecord(s.to_version, s.at, s.cause.value)
                for s in self.db.supersessions
                if s.registration_no == no
            )
            specs = tuple(SpecialtyRecord(s.specialty, s.valid_until, s.stored_state.value) for s in reg.specialties)
            certs = tuple(
                CertificateRecordOnFile(c.serial, c.data_version, c.usage_from, c.usage_until, c.issued_at)
                for c in self.db.certificates.values()
                if c.registration_no == no
            )
            ended = [c.at for c in changes if c.cause in ("revocation", "cancellation")]
            out.append(
                RegistrationRecords(
                    registration_no=no, province_code=reg.province_code, name=reg.person.name,
                    id_number=reg.person.id_number, birth_date=reg.person.birth_date, status=status.status.value,
                    status_basis=status.basis, status_effective=status.effective,
                    ended_at=ended[-1] if ended else None,
                    current=VersionRecord(reg.data_version, reg.employer.name, reg.employer.uscc, specs),
                    versions={}, supersessions=changes, certificates=certs,
                )
            )  # fmt: skip
        return out


class FakeUsers:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    def get(self, username: str) -> User | None:
        return self.db.users.get(username)

    def holder_of(self, registration_no: str) -> User | None:
        return next(
            (u for u in self.db.users.values() if u.registration_no == registration_no and u.role == "holder"), None
        )

    def add(self, user: User, now: datetime) -> None:
        if user.username in self.db.users:
            raise ValueError(f"duplicate user {user.username}")  # the unique index
        self.db.users[user.username] = user


class FakeExternalIdentities:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    def username_for(self, issuer: str, subject: str) -> str | None:
        return self.db.identities.get((issuer, subject))

    def subject_of(self, issuer: str, username: str) -> str | None:
        return next((s for (i, s), u in self.db.identities.items() if i == issuer and u == username), None)

    def link(self, issuer: str, subject: str, username: str, now: datetime) -> None:
        if (issuer, subject) in self.db.identities or self.subject_of(issuer, username) is not None:
            raise ValueError(f"duplicate identity {issuer} {subject} {username}")  # the key and unique index
        self.db.identities[(issuer, subject)] = username


class FakeAudit:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    def append(self, *, at: datetime, actor: str, action: str, subject: str | None, payload: Mapping[str, Any]) -> str:
        prev = self.db.audit[-1]["hash"] if self.db.audit else "0" * 64
        event = {"at": at, "actor": actor, "action": action, "subject": subject, "payload": dict(payload)}
        body = json.dumps({**event, "at": at.isoformat()}, sort_keys=True, ensure_ascii=False, default=str)
        event["hash"] = hashlib.sha256((prev + body).encode()).hexdigest()
        self.db.audit.append(event)
        return str(event["hash"])

    def head(self) -> tuple[int, str] | None:
        return (len(self.db.audit), str(self.db.audit[-1]["hash"])) if self.db.audit else None


class FakeRenewals:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    def add(self, registration_no: str, items: Mapping[str, date], request: RenewalRequest, at: datetime) -> int:
        for name in sorted(items):  # the partial unique index of pending items (R-REN-1)
            if any(
                a.registration_no == registration_no and a.status is ApplicationStatus.PENDING and name in a.items
                for a in self.db.applications.values()
            ):
                raise RuleRefusal("application_pending", rule="R-REN-1", params={"specialty": name})
        app_id = max(self.db.applications, default=0) + 1
        r = request
        self.db.applications[app_id] = Application(
            app_id, registration_no, dict(sorted(items.items())), r.applied_on, r.ce_hours, r.committed, r.applied_by
        )
        return app_id

    def get(self, application_id: int) -> RenewalApplication | None:
        a = self.db.applications.get(application_id)
        if a is None:
            return None
        province = self.db.registrations[a.registration_no].province_code
        return RenewalApplication(a.id, a.registration_no, province, a.status)

    def decide(self, application_id: int, decision: RenewalDecision, at: datetime) -> list[str] | None:
        a = self.db.applications.get(application_id)
        if a is None or a.status is not ApplicationStatus.PENDING:
            return None
        a.status, a.decided_by, a.decided_at = decision.status, decision.decided_by, at.astimezone(UTC)
        a.reason, a.new_valid_until = decision.reason, decision.new_valid_until
        return list(a.items)


class FakeReminders:
    def __init__(self, db: FakeDatabase, registry: FakeRegistrations) -> None:
        self.db, self.registry = db, registry

    def _due_specialties(self, today: date) -> list[tuple[Registration, Any]]:
        out = []
        for no in sorted(self.db.registrations):
            reg = self.registry.get(no)
            assert reg is not None
            if reg.status is not RegistrationStatus.ACTIVE:
                continue
            out += [
                (reg, s)
                for s in reg.specialties
                if s.stored_state is SpecialtyState.VALID and s.valid_until >= today and not s.pending_application
            ]
        return out

    def queue(
        self, *, today: date, last_end: date, opens: Mapping[date, date], born_after: Mapping[date, date]
    ) -> tuple[int, int]:
        eligible = [
            (reg, s)
            for reg, s in self._due_specialties(today)
            if s.valid_until <= last_end and reg.person.birth_date > born_after[s.valid_until]
        ]
        queued = 0
        for reg, s in eligible:
            key = (reg.registration_no, s.specialty, s.valid_until)
            if any((r.registration_no, r.specialty, r.valid_until) == key for r in self.db.reminders.values()):
                continue
            rid = max(self.db.reminders, default=0) + 1
            email = self.db.emails.get(reg.registration_no)
            self.db.reminders[rid] = OutboxEntry(*key, opens[s.valid_until], email, today, None, 0, None)
            queued += 1
        return len(eligible), queued

    def unsent_count(self) -> int:
        return sum(1 for r in self.db.reminders.values() if r.sent_at is None)

    def due(self, today: date, reminder_id: int | None = None) -> list[DueReminder]:
        current = {(reg.registration_no, s.specialty, s.valid_until): reg for reg, s in self._due_specialties(today)}
        rows = [
            (rid, r)
            for rid, r in self.db.reminders.items()
            if r.sent_at is None
            and (r.registration_no, r.specialty, r.valid_until) in current
            and (reminder_id is None or rid == reminder_id)
        ]
        out = []
        for rid, r in sorted(rows, key=lambda row: (row[1].window_opens, row[0])):
            reg = current[(r.registration_no, r.specialty, r.valid_until)]
            out.append(
                DueReminder(
                    rid,
                    r.attempts,
                    self.db.emails.get(r.registration_no),
                    reg.person.name,
                    r.registration_no,
                    r.specialty,
                    r.valid_until,
                    r.window_opens,
                    reg.person.birth_date,
                )
            )
        return out

    def claim(self, reminder_id: int, *, max_attempts: int) -> bool:
        r = self.db.reminders.get(reminder_id)
        if r is None or r.sent_at is not None or r.attempts >= max_attempts:
            return False
        self.db.reminders[reminder_id] = replace(r, attempts=r.attempts + 1)
        return True

    def record_failure(self, reminder_id: int, error: str) -> None:
        self.db.reminders[reminder_id] = replace(self.db.reminders[reminder_id], last_error=error[:1000])

    def mark_sent(self, reminder_id: int, *, at: datetime, email: str) -> None:
        r = self.db.reminders[reminder_id]
        self.db.reminders[reminder_id] = replace(r, sent_at=at.astimezone(UTC), email=email, last_error=None)

    def outbox(self, *, pending: bool = False) -> list[OutboxEntry]:
        return sorted(
            (r for r in self.db.reminders.values() if not pending or r.sent_at is None),
            key=lambda r: (r.window_opens, r.registration_no, r.specialty, r.valid_until),
        )


class FakeResealWorklist:
    holds_claims = False  # one process: nothing to lock against

    def __init__(self, db: FakeDatabase, registry: FakeRegistrations) -> None:
        self.db, self.registry = db, registry

    def plan(self, plan_id: str, *, key_id: str, today: date, at: datetime, actor: str) -> int:
        listed: dict[str, str] = {}
        for c in sorted(self.db.certificates.values(), key=lambda c: c.serial):
            reg = self.db.registrations.get(c.registration_no)
            if (
                reg is not None
                and c.seal_key_id != key_id
                and c.data_version == reg.data_version
                and reg.status is RegistrationStatus.ACTIVE
                and c.usage_until >= today
                and c.registration_no not in self.db.reseal
            ):
                listed[c.registration_no] = min(listed.get(c.registration_no, c.seal_key_id), c.seal_key_id)
        for no, from_key in sorted(listed.items()):
            self.db.reseal[no] = from_key
            self.registry._supersede(self.db.registrations[no], Change(SupersessionCause.RESEAL, at, actor))
        return len(listed)

    def pending_count(self) -> int:
        return len(self.db.reseal)

    def claim_next(self) -> ResealItem | None:
        if not self.db.reseal:
            return None
        no = min(self.db.reseal)
        return ResealItem(no, self.db.registrations[no].data_version)

    def done(self, registration_no: str) -> None:
        self.db.reseal.pop(registration_no, None)


# ------------------------------------------------------------------------------------- test data

USCC = make_uscc("330100", "MA0BC1D2E")
OTHER_USCC = make_uscc("330100", "123456789")


def holder(
    serial: int = 1,
    *,
    birth: date = date(1980, 5, 17),
    valid_until: date = date(2021, 7, 10),
    employer: Employer | None = None,
    specialties: tuple[str, ...] = ("建筑工程",),
    data_version: int = 1,
) -> Registration:
    """A holder registered in 浙江 (province 33), active, with a signature image."""
    return Registration(
        registration_no=make_registration_no("浙", "33", 2010, 2012, serial),
        province_code="33",
        person=Person("张伟", Gender.MALE, birth, make_id_number("330102", birth, serial, Gender.MALE)),
        employer=employer or Employer("某某建设集团有限公司", USCC),
        specialties=tuple(SpecialtyRegistration(s, valid_until) for s in specialties),
        has_signature=True,
        data_version=data_version,
    )


def at(day: date) -> datetime:
    """Nine in the morning, China Standard Time, on ``day``."""
    return datetime.combine(day, time(9), CST)


def utc(day: date) -> datetime:
    return at(day).astimezone(UTC)


def frozen(db: FakeDatabase) -> Any:
    """Everything stored, to compare before and after a refused request."""
    return copy.deepcopy(vars(db))


class FakeUnitOfWork:
    """``with uow:`` opens a transaction over :attr:`db`; ``commit()`` keeps what it did, leaving the
    block without it restores the data as they were. ``commits`` counts the commits."""

    def __init__(self, db: FakeDatabase | None = None) -> None:
        self.db = db or FakeDatabase()
        self.registry = FakeRegistrations(self.db)
        self.certificates = FakeCertificates(self.db, self.registry)
        self.users = FakeUsers(self.db)
        self.audit = FakeAudit(self.db)
        self.identities = FakeExternalIdentities(self.db)
        self.renewals = FakeRenewals(self.db)
        self.reminders = FakeReminders(self.db, self.registry)
        self.reseal = FakeResealWorklist(self.db, self.registry)
        self.history = FakeHistory(self.db)
        self.commits = 0
        self._saved: dict[str, Any] | None = None

    def __enter__(self) -> Self:
        assert self._saved is None, "the fake unit of work is not reentrant"
        self._saved = copy.deepcopy(vars(self.db))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.rollback()
        self._saved = None

    def commit(self) -> None:
        assert self._saved is not None, "commit outside the with-block"
        self._saved = copy.deepcopy(vars(self.db))
        self.commits += 1

    def rollback(self) -> None:
        if self._saved is not None:
            vars(self.db).update(copy.deepcopy(self._saved))


def _conforms(uow: FakeUnitOfWork) -> AbstractUnitOfWork:
    return uow  # mypy (run on this file): the fake implements every repository of services/ports.py
