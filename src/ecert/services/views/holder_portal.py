"""Read models of the holder portal, 我的证照 (R-ACC-1, R-USE-1, R-USE-3, R-CHG-1).

Every function takes the registration number of the signed-in holder (the account's, never one
from a request): the holder's current data and the usage window a download would get today, the
certificates issued for the registration with each one's current state, and the renewal
applications with their specialties and decisions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select

from ecert.adapters.db.tables import registrations, renewal_applications, renewal_items
from ecert.adapters.db.unit_of_work import SqlUnitOfWork
from ecert.domain.certificate import CertificateRecord, mask_id_number
from ecert.domain.dates import in_cst
from ecert.domain.errors import RuleRefusal
from ecert.domain.holder import holder_view
from ecert.domain.model import RegistrationStatus, UsageWindow
from ecert.domain.policy import Policy
from ecert.domain.rules.lapse import renewal_window_opens
from ecert.domain.rules.usage import usage_window
from ecert.services.issuance import window_view
from ecert.services.registry import get_registration

# docs/cli.md ``verify.status`` values a genuine certificate of the registry can have.
CERTIFICATE_STATES = ("valid", "expired", "not_yet_valid", "superseded", "revoked")


@dataclass(frozen=True)
class Overview:
    """The holder's current data (ID number masked) and either the window a download would get
    today or the refusal that applies (R-USE-4)."""

    holder: dict[str, Any]
    window: UsageWindow | None
    refusal: RuleRefusal | None

    def as_dict(self, lang: str = "zh") -> dict[str, Any]:
        return {
            **self.holder,
            "window": window_view(self.window) if self.window is not None else None,
            "refusal": self.refusal.as_dict(lang)["error"] if self.refusal is not None else None,
        }


def overview(uow: SqlUnitOfWork, registration_no: str, *, today: date, policy: Policy) -> Overview:
    with uow:
        reg = get_registration(uow, registration_no)
    view = holder_view(reg, today, policy)
    view["id_number"] = mask_id_number(reg.person.id_number)
    view["gender"] = reg.person.gender.value
    view["birth_date"] = reg.person.birth_date.isoformat()
    for item, spec in zip(view["specialties"], reg.specialties, strict=True):
        item["renewal_opens"] = renewal_window_opens(spec.valid_until, policy).isoformat()
        item["pending_application"] = spec.pending_application
    try:
        return Overview(view, usage_window(reg, today, policy), None)
    except RuleRefusal as refusal:
        return Overview(view, None, refusal)


@dataclass(frozen=True)
class CertificateRow:
    serial: str
    identifier: str
    issued_at: datetime
    issue_date: date
    usage_from: date
    usage_until: date
    data_version: int
    state: str  # one of CERTIFICATE_STATES

    def as_dict(self) -> dict[str, Any]:
        return {
            "serial": self.serial,
            "identifier": self.identifier,
            "issued_at": in_cst(self.issued_at).isoformat(),
            "issue_date": self.issue_date.isoformat(),
            "usage_from": self.usage_from.isoformat(),
            "usage_until": self.usage_until.isoformat(),
            "data_version": self.data_version,
            "state": self.state,
        }


def certificate_state(record: CertificateRecord, *, active: bool, current_version: int, today: date) -> str:
    """The same verdict, in the same order, as verification gives a genuine certificate (R-USE-3, R-CHG-1)."""
    if not active:
        return "revoked"
    if record.data_version < current_version:
        return "superseded"
    if today < record.usage_from:
        return "not_yet_valid"
    if today > record.usage_until:
        return "expired"
    return "valid"


def my_certificates(uow: SqlUnitOfWork, registration_no: str, *, today: date) -> list[CertificateRow]:
    """Every certificate issued for the registration, newest first, with its current state."""
    with uow:
        records = uow.certificates.for_registration(registration_no)
        row = uow.connection.execute(
            select(registrations.c.status, registrations.c.data_version).where(
                registrations.c.registration_no == registration_no
            )
        ).one_or_none()
    if row is None:
        return []
    active = row.status == RegistrationStatus.ACTIVE.value
    rows = [
        CertificateRow(
            serial=r.serial,
            identifier=r.identifier,
            issued_at=r.issued_at,
            issue_date=r.issue_date,
            usage_from=r.usage_from,
            usage_until=r.usage_until,
            data_version=r.data_version,
            state=certificate_state(r, active=active, current_version=int(row.data_version), today=today),
        )
        for r in records
    ]
    rows.reverse()
    return rows


@dataclass(frozen=True)
class ApplicationItem:
    specialty: str
    status: str
    previous_valid_until: date
    new_valid_until: date | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "specialty": self.specialty,
            "status": self.status,
            "previous_valid_until": self.previous_valid_until.isoformat(),
            "new_valid_until": self.new_valid_until.isoformat() if self.new_valid_until else None,
        }


@dataclass(frozen=True)
class Application:
    """A renewal application as its applicant sees it: the decision and its reason, not the reviewer."""

    application_id: int
    applied_on: date
    status: str  # pending | approved | rejected
    ce_hours: int | None
    committed: bool
    decided_at: datetime | None
    reason: str | None
    items: tuple[ApplicationItem, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "application_id": self.application_id,
            "applied_on": self.applied_on.isoformat(),
            "status": self.status,
            "ce_hours": self.ce_hours,
            "committed": self.committed,
            "decided_at": in_cst(self.decided_at).isoformat() if self.decided_at else None,
            "reason": self.reason,
            "specialties": [i.as_dict() for i in self.items],
        }


def _aware(t: datetime | None) -> datetime | None:
    return t if t is None or t.tzinfo is not None else t.replace(tzinfo=UTC)


def my_applications(uow: SqlUnitOfWork, registration_no: str) -> list[Application]:
    """The registration's renewal applications, newest first, each with its specialties."""
    ra, ri = renewal_applications, renewal_items
    with uow:
        conn = uow.connection
        apps = conn.execute(
            select(ra)
            .join(registrations, registrations.c.id == ra.c.registration_id)
            .where(registrations.c.registration_no == registration_no)
            .order_by(ra.c.id.desc())
        ).all()
        ids = [a.id for a in apps]
        items = conn.execute(select(ri).where(ri.c.application_id.in_(ids)).order_by(ri.c.id)).all() if ids else []
    by_app: dict[int, list[ApplicationItem]] = {}
    for i in items:
        by_app.setdefault(i.application_id, []).append(
            ApplicationItem(i.specialty, i.status, i.previous_valid_until, i.new_valid_until)
        )
    return [
        Application(
            application_id=int(a.id),
            applied_on=a.applied_on,
            status=a.status,
            ce_hours=a.ce_hours,
            committed=bool(a.committed),
            decided_at=_aware(a.decided_at),
            reason=a.reason,
            items=tuple(by_app.get(a.id, ())),
        )
        for a in apps
    ]
