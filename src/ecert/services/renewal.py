"""Renewal registration, 延续注册 (R-REN-1 … R-REN-6, R-REN-3 lapse on rejection, R-CHG-1).

Concurrency is settled by the database, not by checks that race: one pending application per
specialty is a partial unique index (a second insert fails and is reported as
``application_pending``), and a decision is a conditional ``UPDATE … WHERE status = 'pending'``
(the loser of two simultaneous decisions updates no row and gets ``already_decided``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from ecert.adapters.db.tables import (
    registrations,
    renewal_applications,
    renewal_items,
    specialty_registrations,
)
from ecert.domain.errors import BadInput, NotFound, RuleRefusal, problem
from ecert.domain.model import LapseReason, SupersessionCause
from ecert.domain.policy import Policy
from ecert.domain.rules.renewal import check_renewal_application, renewed_validity_end
from ecert.services.accounts import reviewer_for
from ecert.services.registry import get_registration
from ecert.services.unit_of_work import SqlUnitOfWork


def apply_renewal(
    uow: SqlUnitOfWork,
    registration_no: str,
    specialties: list[str],
    *,
    committed: bool,
    ce_hours: int | None,
    actor: str,
    today: date,
    now: datetime,
    policy: Policy,
) -> dict[str, Any]:
    names = [s.strip() for s in specialties]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise BadInput([problem(f"注册专业重复:{d}", f"Specialty given twice: {d}", column="specialty") for d in dupes])
    if ce_hours is not None and ce_hours < 0:
        raise BadInput([problem("继续教育学时不能为负数", "ce_hours must not be negative", column="ce_hours")])
    with uow:
        reg = get_registration(uow, registration_no)
        check_renewal_application(reg, names, today, policy, committed=committed, ce_hours=ce_hours)
        conn = uow.connection
        reg_id = conn.execute(
            select(registrations.c.id).where(registrations.c.registration_no == reg.registration_no)
        ).scalar_one()
        app_id = conn.execute(
            insert(renewal_applications)
            .values(
                registration_id=reg_id,
                applied_on=today,
                status="pending",
                ce_hours=ce_hours,
                committed=committed,
                applied_by=actor,
                created_at=now.astimezone(UTC),
            )
            .returning(renewal_applications.c.id)
        ).scalar_one()
        # One lock order on the unique index whatever the caller's order: two overlapping
        # multi-specialty applications cannot deadlock, the second gets application_pending.
        for name in sorted(names):
            spec = reg.specialty(name)
            assert spec is not None  # checked by the rule
            try:
                conn.execute(
                    insert(renewal_items).values(
                        application_id=app_id,
                        registration_id=reg_id,
                        specialty=name,
                        status="pending",
                        previous_valid_until=spec.valid_until,
                    )
                )
            except IntegrityError:
                # Another application for this specialty was stored first (R-REN-1); leaving the
                # unit of work rolls this one back whole.
                raise RuleRefusal("application_pending", rule="R-REN-1", params={"specialty": name}) from None
        uow.audit.append(
            at=now,
            actor=actor,
            action="renewal.apply",
            subject=reg.registration_no,
            payload={"application_id": app_id, "specialties": names, "ce_hours": ce_hours, "committed": committed},
        )
        uow.commit()
    return {"application_id": int(app_id), "status": "pending", "specialties": names}


def decide_renewal(
    uow: SqlUnitOfWork,
    application_id: int,
    *,
    approve: bool,
    reason: str | None,
    reviewer: str,
    today: date,
    now: datetime,
    policy: Policy,
) -> dict[str, Any]:
    """Approve (R-REN-5: new validity from the approval date) or reject with a reason (R-REN-6)."""
    reason = (reason or "").strip() or None
    if not approve and reason is None:
        raise BadInput([problem("驳回须说明理由", "A rejection needs a reason", column="reason")])
    with uow:
        conn = uow.connection
        app_row = conn.execute(
            select(renewal_applications, registrations.c.registration_no, registrations.c.province_code)
            .join(registrations, registrations.c.id == renewal_applications.c.registration_id)
            .where(renewal_applications.c.id == application_id)
        ).one_or_none()
        if app_row is None:
            raise NotFound("延续注册申请", str(application_id))
        reviewer_for(uow, reviewer, app_row.province_code)
        if app_row.status != "pending":
            raise RuleRefusal("already_decided", rule="R-REN-6")
        reg = get_registration(uow, app_row.registration_no)
        status = "approved" if approve else "rejected"
        new_end: date | None = None
        if approve:
            new_end = renewed_validity_end(today, reg.person.birth_date, policy)  # refuses from the 65th birthday
        claimed = conn.execute(
            update(renewal_applications)
            .where(renewal_applications.c.id == application_id, renewal_applications.c.status == "pending")
            .values(status=status, decided_by=reviewer, decided_at=now.astimezone(UTC), reason=reason)
        ).rowcount
        if claimed != 1:  # decided by someone else in the meantime
            raise RuleRefusal("already_decided", rule="R-REN-6")
        items = conn.execute(select(renewal_items).where(renewal_items.c.application_id == application_id)).all()
        conn.execute(
            update(renewal_items)
            .where(renewal_items.c.application_id == application_id)
            .values(status=status, new_valid_until=new_end)
        )
        result = []
        reg_id = app_row.registration_id
        sr = specialty_registrations
        before = {s.specialty: s.valid_until.isoformat() for s in reg.specialties}
        for item in items:
            where = (sr.c.registration_id == reg_id, sr.c.specialty == item.specialty)
            if approve:
                conn.execute(
                    update(sr)
                    .where(*where)
                    .values(valid_until=new_end, state="valid", lapse_reason=None, lapse_recorded_on=None)
                )
                assert new_end is not None
                result.append({"specialty": item.specialty, "valid_until": new_end.isoformat()})
            else:
                spec = reg.specialty(item.specialty)
                assert spec is not None
                # R-REN-3: nothing holds an ended specialty any more once the application is rejected.
                if today > spec.valid_until and today >= policy.lapse_start:
                    conn.execute(
                        update(sr)
                        .where(*where, sr.c.state == "valid")
                        .values(state="lapsed", lapse_reason=LapseReason.REJECTED.value, lapse_recorded_on=today)
                    )
                result.append({"specialty": item.specialty, "valid_until": spec.valid_until.isoformat()})
        if approve:
            # New validity is printed data: every earlier certificate is superseded (R-REN-6).
            uow.registry.supersede(reg.registration_no, cause=SupersessionCause.RENEWAL, at=now, actor=reviewer)
        uow.audit.append(
            at=now,
            actor=reviewer,
            action=f"renewal.{status}",
            subject=reg.registration_no,
            payload={
                "application_id": application_id,
                "reason": reason,
                "before": before,
                "after": {r["specialty"]: r["valid_until"] for r in result},
            },
        )
        uow.commit()
    return {"application_id": application_id, "status": status, "specialties": result}
