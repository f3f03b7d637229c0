"""Renewal registration, 延续注册 (R-REN-1, R-REN-2, R-REN-3 with the lapse on rejection, R-REN-4,
R-REN-5, R-REN-6, R-CHG-1).

Concurrency is settled by the database, not by checks that race (adapters/db/renewals.py): one
pending application per specialty is a partial unique index (a second application is refused with
``application_pending``), and a decision is conditional on the application still being pending (the
loser of two simultaneous decisions gets ``already_decided``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from ecert.adapters.db.registry import Change
from ecert.adapters.db.renewals import RenewalDecision, RenewalRequest
from ecert.domain.errors import BadInput, NotFound, RuleRefusal, problem
from ecert.domain.model import ApplicationStatus, LapseReason, SupersessionCause
from ecert.domain.policy import Policy
from ecert.domain.rules.renewal import check_renewal_application, renewed_validity_end
from ecert.services.accounts import reviewer_for
from ecert.services.registry import get_registration
from ecert.services.unit_of_work import AbstractUnitOfWork


def apply_renewal(
    uow: AbstractUnitOfWork,
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
        items = {}
        for name in names:
            spec = reg.specialty(name)
            assert spec is not None  # checked by the rule
            items[name] = spec.valid_until
        # Another application for one of these specialties may have been stored since the check
        # (R-REN-1): then this raises application_pending, and leaving the unit of work rolls it back.
        request = RenewalRequest(applied_on=today, ce_hours=ce_hours, committed=committed, applied_by=actor)
        app_id = uow.renewals.add(reg.registration_no, items, request, now)
        payload = {"application_id": app_id, "specialties": names, "ce_hours": ce_hours, "committed": committed}
        uow.audit.append(at=now, actor=actor, action="renewal.apply", subject=reg.registration_no, payload=payload)
        uow.commit()
    return {"application_id": int(app_id), "status": ApplicationStatus.PENDING.value, "specialties": names}


def decide_renewal(
    uow: AbstractUnitOfWork,
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
        app = uow.renewals.get(application_id)
        if app is None:
            raise NotFound("application", str(application_id))
        reviewer_for(uow, reviewer, app.province_code)
        if app.status is not ApplicationStatus.PENDING:
            raise RuleRefusal("already_decided", rule="R-REN-6")
        reg = get_registration(uow, app.registration_no)
        status = ApplicationStatus.APPROVED if approve else ApplicationStatus.REJECTED
        new_end: date | None = None
        if approve:
            new_end = renewed_validity_end(today, reg.person.birth_date, policy)  # refuses from the 65th birthday
        decision = RenewalDecision(status, decided_by=reviewer, reason=reason, new_valid_until=new_end)
        specialties = uow.renewals.decide(application_id, decision, now)
        if specialties is None:  # decided by someone else in the meantime
            raise RuleRefusal("already_decided", rule="R-REN-6")
        before = {s.specialty: s.valid_until.isoformat() for s in reg.specialties}
        result = []
        if new_end is not None:
            # New validity is printed data: every earlier certificate is superseded (R-REN-6); first,
            # so that the version ending is recorded with the validity it had (the history by date).
            uow.registry.supersede(reg.registration_no, Change(SupersessionCause.RENEWAL, now, reviewer))
            uow.registry.renew_specialties(reg.registration_no, specialties, new_end)
            result = [{"specialty": name, "valid_until": new_end.isoformat()} for name in specialties]
        else:
            ended = []
            for name in specialties:
                spec = reg.specialty(name)
                assert spec is not None
                # R-REN-3: nothing holds an ended specialty any more once the application is rejected.
                if today > spec.valid_until and today >= policy.lapse_start:
                    ended.append(name)
                result.append({"specialty": name, "valid_until": spec.valid_until.isoformat()})
            if ended:
                uow.registry.lapse_specialties(reg.registration_no, ended, LapseReason.REJECTED, today, at=now)
        after = {r["specialty"]: r["valid_until"] for r in result}
        payload = {"application_id": application_id, "reason": reason, "before": before, "after": after}
        uow.audit.append(
            at=now, actor=reviewer, action=f"renewal.{status.value}", subject=reg.registration_no, payload=payload
        )
        uow.commit()
    return {"application_id": application_id, "status": status.value, "specialties": result}
