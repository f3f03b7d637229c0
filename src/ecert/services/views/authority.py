"""Read models of the authority console (R-REN-6, R-ACC-1, R-LAPSE-1): the pending renewal
applications of a province, registry search, a holder's full record, audit log pages.

Reads only: every change goes through the use cases (``renewal.decide_renewal``,
``changes.change_employer`` / ``revoke`` / ``cancel``, ``registry_import.import_registry``), which
write the audit events. Scoping is the caller's argument: ``province_code=None`` means every
province (a ministry admin); a reviewer passes their own (R-REN-6).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select

from ecert.adapters.db.audit import NoteKey
from ecert.adapters.db.tables import (
    audit_events,
    registrations,
    renewal_applications,
    renewal_items,
    specialty_registrations,
    verification_events,
)
from ecert.adapters.db.unit_of_work import SqlUnitOfWork
from ecert.domain import provinces
from ecert.domain.dates import CST
from ecert.domain.errors import NotFound, RuleRefusal
from ecert.domain.holder import holder_view
from ecert.domain.model import SPECIALTIES, ApplicationStatus, SpecialtyRegistration, SpecialtyState
from ecert.domain.policy import Policy
from ecert.domain.rules.age import age_limit_date
from ecert.domain.rules.lapse import specialty_state
from ecert.domain.rules.renewal import renewed_validity_end
from ecert.services.registry import get_registration

PAGE_SIZE = 50  # registry search and pending applications
AUDIT_PAGE_SIZE = 100  # the API's default
AUDIT_BROWSE_SIZE = 50  # the console page
MAX_AUDIT_PAGE = 500
SPECIALTY_ORDER = {s: i for i, s in enumerate(SPECIALTIES)}
_ID_PREFIX = re.compile(r"^[0-9]{1,17}[0-9X]?$")
_REG_PREFIX = re.compile(r"^[\u4e00-\u9fff][0-9]*$")


@dataclass(frozen=True)
class Page:
    """One page of a listing: ``items``, the 1-based ``page``, whether a next page exists, and the total."""

    items: list[dict[str, Any]]
    page: int
    per_page: int
    has_next: bool
    total: int | None = None

    def as_dict(self, key: str) -> dict[str, Any]:
        out: dict[str, Any] = {key: self.items, "page": self.page, "per_page": self.per_page, "has_next": self.has_next}
        if self.total is not None:
            out["total"] = self.total
        return out


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _cst(t: datetime | None) -> str | None:
    """An instant as CST wall-clock time to the second (R-DATE-1), for people and the API alike."""
    return None if t is None else _aware(t).astimezone(CST).isoformat(timespec="seconds")


def _state(valid_until: date, stored: str, pending: bool, birth: date, today: date, policy: Policy) -> str:
    spec = SpecialtyRegistration(
        specialty="", valid_until=valid_until, stored_state=SpecialtyState(stored), pending_application=pending
    )
    return specialty_state(spec, birth, today, policy).value


# ------------------------------------------------------------------------------------ renewal review


def pending_applications(
    uow: SqlUnitOfWork,
    *,
    province_code: str | None,
    today: date,
    policy: Policy,
    page: int = 1,
    per_page: int = PAGE_SIZE,
) -> Page:
    """Pending renewal applications, oldest first, of one province (a reviewer, R-REN-6) or of all
    (``None``: the ministry). Each with the holder, the specialties applied for with their current
    validity end and state, CE hours, the commitment (R-REN-4), and what an approval today would
    give (R-REN-5; ``None`` with ``age_limit`` when the holder has reached 65)."""
    ra, r = renewal_applications, registrations
    page = max(1, page)
    where: list[ColumnElement[bool]] = [ra.c.status == ApplicationStatus.PENDING.value]
    if province_code is not None:
        where.append(r.c.province_code == province_code)
    with uow:
        conn = uow.connection
        total = conn.execute(
            select(func.count()).select_from(ra.join(r, r.c.id == ra.c.registration_id)).where(*where)
        ).scalar_one()
        rows = conn.execute(
            select(
                ra.c.id,
                ra.c.applied_on,
                ra.c.ce_hours,
                ra.c.committed,
                ra.c.applied_by,
                r.c.registration_no,
                r.c.name,
                r.c.province_code,
                r.c.birth_date,
                r.c.status.label("registration_status"),
            )
            .join(r, r.c.id == ra.c.registration_id)
            .where(*where)
            .order_by(ra.c.applied_on, ra.c.id)
            .limit(per_page + 1)
            .offset((page - 1) * per_page)
        ).all()
        has_next = len(rows) > per_page
        rows = rows[:per_page]
        items = _items_of(uow, [row.id for row in rows])
    out = []
    for row in rows:
        birth = row.birth_date
        try:
            approve_until: str | None = renewed_validity_end(today, birth, policy).isoformat()
        except RuleRefusal:
            approve_until = None
        out.append(
            {
                "application_id": int(row.id),
                "registration_no": row.registration_no,
                "name": row.name,
                "province": provinces.abbreviation(row.province_code),
                "registration_status": row.registration_status,
                "applied_on": row.applied_on.isoformat(),
                "applied_by": row.applied_by,
                "ce_hours": row.ce_hours,
                "committed": bool(row.committed),
                "age65_date": age_limit_date(birth, policy).isoformat(),
                "approve_until": approve_until,
                "specialties": [
                    {
                        "specialty": it["specialty"],
                        "valid_until": it["valid_until"].isoformat(),
                        "state": _state(it["valid_until"], it["stored"], True, birth, today, policy),
                    }
                    for it in items.get(int(row.id), [])
                ],
            }
        )
    return Page(out, page, per_page, has_next, int(total))


def _items_of(uow: SqlUnitOfWork, application_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The specialties of each application with the specialty's current validity end."""
    if not application_ids:
        return {}
    ri, sr = renewal_items, specialty_registrations
    rows = uow.connection.execute(
        select(
            ri.c.application_id,
            ri.c.specialty,
            ri.c.status,
            ri.c.previous_valid_until,
            ri.c.new_valid_until,
            sr.c.valid_until,
            sr.c.state,
        )
        .join(sr, and_(sr.c.registration_id == ri.c.registration_id, sr.c.specialty == ri.c.specialty))
        .where(ri.c.application_id.in_(application_ids))
    ).all()
    out: dict[int, list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda x: SPECIALTY_ORDER.get(x.specialty, len(SPECIALTY_ORDER))):
        out.setdefault(int(row.application_id), []).append(
            {
                "specialty": row.specialty,
                "status": row.status,
                "previous_valid_until": row.previous_valid_until,
                "new_valid_until": row.new_valid_until,
                "valid_until": row.valid_until,
                "stored": row.state,
            }
        )
    return out


def application_province(uow: SqlUnitOfWork, application_id: int) -> str:
    """The province code of an application's registration (to scope a reviewer before anything else)."""
    with uow:
        code = uow.connection.execute(
            select(registrations.c.province_code)
            .join(renewal_applications, renewal_applications.c.registration_id == registrations.c.id)
            .where(renewal_applications.c.id == application_id)
        ).scalar_one_or_none()
    if code is None:
        raise NotFound("application", str(application_id))
    return str(code)


def application_outcome(uow: SqlUnitOfWork, application_id: int) -> dict[str, Any]:
    """One application as decided (or not): status, reviewer, time, reason (R-REN-6) and per
    specialty the validity it had and the one it has now (R-REN-5)."""
    ra, r = renewal_applications, registrations
    with uow:
        row = uow.connection.execute(
            select(ra, r.c.registration_no, r.c.name, r.c.province_code)
            .join(r, r.c.id == ra.c.registration_id)
            .where(ra.c.id == application_id)
        ).one_or_none()
        if row is None:
            raise NotFound("application", str(application_id))
        items = _items_of(uow, [application_id]).get(application_id, [])
    return {
        "application_id": application_id,
        "registration_no": row.registration_no,
        "name": row.name,
        "province_code": row.province_code,
        "province": provinces.abbreviation(row.province_code),
        "status": row.status,
        "applied_on": row.applied_on.isoformat(),
        "decided_by": row.decided_by,
        "decided_at": _cst(row.decided_at),
        "reason": row.reason,
        "specialties": [
            {
                "specialty": it["specialty"],
                "previous_valid_until": it["previous_valid_until"].isoformat(),
                "valid_until": it["valid_until"].isoformat(),
            }
            for it in items
        ],
    }


# ------------------------------------------------------------------------------------ registry


def _like_prefix(q: str) -> str:
    return q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_conditions(q: str) -> list[ColumnElement[bool]]:
    """Exact-or-prefix conditions for ``q`` on the columns it can match, chosen by its shape so the
    indexed columns are used: digits (and a final X) → ID number; a CJK character followed by digits
    → registration number; anything else → name (and registration number for a lone abbreviation)."""
    r = registrations
    q = q.strip()
    if not q:
        return []
    conds: list[ColumnElement[bool]] = []
    upper = q.upper()
    if _ID_PREFIX.match(upper):
        conds.append(r.c.id_number == upper if len(upper) == 18 else r.c.id_number.like(_like_prefix(upper), "\\"))
    if _REG_PREFIX.match(q):
        conds.append(r.c.registration_no.like(_like_prefix(q), "\\"))
    if not any(ch.isdigit() for ch in q):
        conds.append(r.c.name.like(_like_prefix(q), "\\"))
    return conds


def search_registry(
    uow: SqlUnitOfWork,
    q: str,
    *,
    today: date,
    policy: Policy,
    province_code: str | None = None,
    page: int = 1,
    per_page: int = PAGE_SIZE,
) -> Page:
    """Holders whose registration number, name or ID number equals or starts with ``q``, ordered by
    registration number, ``per_page`` at a time. An empty query finds nothing."""
    conds = search_conditions(q)
    page = max(1, page)
    if not conds:
        return Page([], page, per_page, False, 0)
    r, sr = registrations, specialty_registrations
    where: list[ColumnElement[bool]] = [or_(*conds)]
    if province_code is not None:
        where.append(r.c.province_code == province_code)
    with uow:
        conn = uow.connection
        rows = conn.execute(
            select(r).where(*where).order_by(r.c.registration_no).limit(per_page + 1).offset((page - 1) * per_page)
        ).all()
        has_next = len(rows) > per_page
        rows = rows[:per_page]
        specs: dict[int, list[Any]] = {}
        if rows:
            for s in conn.execute(
                select(sr.c.registration_id, sr.c.specialty, sr.c.valid_until, sr.c.state).where(
                    sr.c.registration_id.in_([row.id for row in rows])
                )
            ):
                specs.setdefault(int(s.registration_id), []).append(s)
    items = []
    for row in rows:
        birth = row.birth_date
        items.append(
            {
                "registration_no": row.registration_no,
                "name": row.name,
                "gender": row.gender,
                "birth_date": birth.isoformat(),
                "id_number": row.id_number,
                "province": provinces.abbreviation(row.province_code),
                "employer": {"name": row.employer_name, "uscc": row.employer_uscc},
                "status": row.status,
                "specialties": [
                    {
                        "specialty": s.specialty,
                        "valid_until": s.valid_until.isoformat(),
                        "state": _state(s.valid_until, s.state, False, birth, today, policy),
                    }
                    for s in sorted(
                        specs.get(int(row.id), []), key=lambda x: SPECIALTY_ORDER.get(x.specialty, len(SPECIALTY_ORDER))
                    )
                ],
            }
        )
    return Page(items, page, per_page, has_next)


def holder_detail(uow: SqlUnitOfWork, registration_no: str, *, today: date, policy: Policy) -> dict[str, Any]:
    """``holder show`` (docs/cli.md) plus what the authority needs: personal data, the status with its
    reason, legal basis and effective date (R-LAPSE-1), the data version (R-CHG-1) and the latest
    renewal applications with their decisions (R-REN-6)."""
    r, ra = registrations, renewal_applications
    with uow:
        reg = get_registration(uow, registration_no)
        view = holder_view(reg, today, policy)
        conn = uow.connection
        row = conn.execute(select(r).where(r.c.registration_no == reg.registration_no)).one()
        apps = conn.execute(select(ra).where(ra.c.registration_id == row.id).order_by(ra.c.id.desc()).limit(20)).all()
        items = _items_of(uow, [int(a.id) for a in apps])
    view.update(
        {
            "gender": row.gender,
            "birth_date": row.birth_date.isoformat(),
            "id_number": row.id_number,
            "ce_hours": row.ce_hours,
            "data_version": int(row.data_version),
            "status_reason": row.status_reason,
            "status_basis": row.status_basis,
            "status_effective": row.status_effective.isoformat() if row.status_effective else None,
            "applications": [
                {
                    "application_id": int(a.id),
                    "applied_on": a.applied_on.isoformat(),
                    "status": a.status,
                    "ce_hours": a.ce_hours,
                    "committed": bool(a.committed),
                    "decided_by": a.decided_by,
                    "decided_at": _cst(a.decided_at),
                    "reason": a.reason,
                    "specialties": [
                        {
                            "specialty": it["specialty"],
                            "previous_valid_until": it["previous_valid_until"].isoformat(),
                            "new_valid_until": it["new_valid_until"].isoformat() if it["new_valid_until"] else None,
                        }
                        for it in items.get(int(a.id), [])
                    ],
                }
                for a in apps
            ],
        }
    )
    return view


def registration_province(uow: SqlUnitOfWork, registration_no: str) -> str:
    with uow:
        code = uow.connection.execute(
            select(registrations.c.province_code).where(registrations.c.registration_no == registration_no.strip())
        ).scalar_one_or_none()
    if code is None:
        raise NotFound("registration_no", registration_no)
    return str(code)


# ------------------------------------------------------------------------------------ audit log


def _audit_event(row: Any) -> dict[str, Any]:
    return {
        "id": int(row.id),
        "at": _cst(row.at),
        "actor": row.actor,
        "action": row.action,
        "subject": row.subject,
        "payload": json.loads(row.payload),
        "hash": row.hash,
    }


def _audit_columns() -> Select[Any]:
    a = audit_events
    return select(a.c.id, a.c.at, a.c.actor, a.c.action, a.c.subject, a.c.payload, a.c.hash)


def audit_page(uow: SqlUnitOfWork, *, limit: int = AUDIT_PAGE_SIZE, before_id: int | None = None) -> dict[str, Any]:
    """The latest audit events, newest first, ``limit`` at a time (keyset: ``before_id``)."""
    a = audit_events
    limit = min(max(1, limit), MAX_AUDIT_PAGE)
    query = _audit_columns()
    if before_id is not None:
        query = query.where(a.c.id < before_id)
    with uow:
        rows = uow.connection.execute(query.order_by(a.c.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    events = [_audit_event(row) for row in rows[:limit]]
    return {"events": events, "next_before_id": events[-1]["id"] if more and events else None}


def audit_browse(
    uow: SqlUnitOfWork, *, before_id: int | None = None, after_id: int | None = None, limit: int = AUDIT_BROWSE_SIZE
) -> dict[str, Any]:
    """A page of the audit log for people (``/admin/audit``): ``limit`` events newest first, keyset-paged
    both ways — the latest, those older than ``before_id``, or (``after_id`` alone) the ``limit``
    events just newer than ``after_id`` (the latest page when fewer are newer). With the page's place:
    ``total`` events, ``newer`` of them newer than its first, and the keys of the pages around it
    (``older_before_id``, ``newer_after_id``; None at either end)."""
    a = audit_events
    limit = min(max(1, limit), MAX_AUDIT_PAGE)
    with uow:
        run = uow.connection.execute
        rows: list[Any] = []
        if before_id is None and after_id is not None:
            query = _audit_columns().where(a.c.id > after_id).order_by(a.c.id.asc()).limit(limit)
            rows = list(reversed(run(query).all()))
        if len(rows) < limit:  # the latest page, or older than before_id
            query = _audit_columns().order_by(a.c.id.desc()).limit(limit)
            rows = list(run(query.where(a.c.id < before_id) if before_id is not None else query).all())
        total = int(run(select(func.count()).select_from(a)).scalar_one())
        newer, older = 0, False
        if rows:
            newer = int(run(select(func.count()).select_from(a).where(a.c.id > rows[0].id)).scalar_one())
            older = run(select(a.c.id).where(a.c.id < rows[-1].id).limit(1)).first() is not None
    events = [_audit_event(row) for row in rows]
    return {
        "events": events,
        "total": total,
        "newer": newer,
        "older_before_id": events[-1]["id"] if older else None,
        "newer_after_id": events[0]["id"] if events and newer else None,
    }


def audit_chain(
    uow: SqlUnitOfWork, *, key: NoteKey | None = None, trusted_note: str | None = None, lang: str = "zh"
) -> dict[str, Any]:
    """The audit log's state (R-ACC-1; adapters/db/audit.py ``check``): ``intact``, the tree ``size``,
    the latest signed ``checkpoint``, the ``problems`` found (``code``, ``message``); and the fields
    the check has always had: the first event found missing or altered or whose verification batch
    does not match its rows, the first verification row no batch accounts for, the counts."""
    with uow:
        check = uow.audit.check(key, trusted_note)
        count = uow.connection.execute(select(func.count()).select_from(audit_events)).scalar_one()
        checks = uow.connection.execute(select(func.count()).select_from(verification_events)).scalar_one()
    return {
        "intact": check.intact,
        "size": check.size,
        "checkpoint": None if check.checkpoint is None else dict(check.checkpoint),
        "problems": check.problem_dicts(lang),
        "first_broken_id": check.first_broken_id,
        "first_unlogged_verification_id": check.unlogged_verification_id,
        "events": int(count),
        "verifications": int(checks),
        "unsequenced": check.unsequenced,
    }
