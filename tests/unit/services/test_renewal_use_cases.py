"""Renewal applications and decisions (services/renewal.py) on the in-memory unit of work: what is
stored, what is superseded and what is refused, without a database (R-REN-1, R-REN-3, R-REN-4, R-REN-5, R-REN-6)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from ecert.domain.errors import BadInput, EcertError, RuleRefusal
from ecert.domain.model import (
    ApplicationStatus,
    LapseReason,
    Registration,
    SpecialtyState,
    Supersession,
    SupersessionCause,
)
from ecert.domain.policy import Policy
from ecert.services import renewal
from fakes import FakeDatabase, FakeUnitOfWork, at, frozen, holder, utc

APPLY_DAY = date(2021, 7, 1)  # in the 30 days before the validity end (2021-07-10, R-REN-1)
DECIDE_DAY = date(2021, 8, 1)  # after the end: the pending application held the lapse (R-REN-3)
RENEWED_UNTIL = date(2024, 7, 31)  # DECIDE_DAY + 3 years - 1 day (R-REN-5)


def apply(uow: FakeUnitOfWork, policy: Policy, reg_no: str, specialties: list[str], **kw: object) -> int:
    args: dict[str, object] = {"committed": True, "ce_hours": 120, "actor": f"holder:{reg_no}"}
    args.update(kw)
    done = renewal.apply_renewal(
        uow,
        reg_no,
        specialties,
        today=APPLY_DAY,
        now=at(APPLY_DAY),
        policy=policy,
        **args,  # type: ignore[arg-type]
    )
    return int(done["application_id"])


def decide(
    uow: FakeUnitOfWork, policy: Policy, app_id: int, *, approve: bool, reviewer: str = "rev_zj", day: date = DECIDE_DAY
) -> dict[str, object]:
    return renewal.decide_renewal(
        uow,
        app_id,
        approve=approve,
        reason=None if approve else "继续教育证明不实",
        reviewer=reviewer,
        today=day,
        now=at(day),
        policy=policy,
    )


def applied(uow: FakeUnitOfWork, db: FakeDatabase, policy: Policy, reg: Registration | None = None) -> tuple[str, int]:
    """Registers ``reg`` (by default a holder of 建筑工程 only) and applies to renew 建筑工程;
    returns the registration number and the application id."""
    reg = reg or holder()
    db.add_registration(reg)
    return reg.registration_no, apply(uow, policy, reg.registration_no, ["建筑工程"])


def registration(uow: FakeUnitOfWork, reg_no: str) -> Registration:
    """The holder's registration as stored now."""
    found = uow.registry.get(reg_no)
    assert found is not None
    return found


def refused_unchanged(db: FakeDatabase, error: type[EcertError], request: Callable[[], object]) -> EcertError:
    """Runs ``request``, expects ``error`` and that nothing stored changed; returns the error."""
    before = frozen(db)
    with pytest.raises(error) as refused:
        request()
    assert frozen(db) == before
    return refused.value


def test_application_is_stored_pending_with_the_validity_it_renews__R_REN_1(
    uow: FakeUnitOfWork, db: FakeDatabase, policy: Policy
) -> None:
    reg = holder(specialties=("建筑工程", "机电工程"))
    db.add_registration(reg)
    app_id = apply(uow, policy, reg.registration_no, ["机电工程", "建筑工程"])
    stored = db.applications[app_id]
    assert stored.status is ApplicationStatus.PENDING
    assert stored.items == {"建筑工程": date(2021, 7, 10), "机电工程": date(2021, 7, 10)}
    assert (stored.ce_hours, stored.committed, stored.applied_by) == (120, True, f"holder:{reg.registration_no}")
    assert [e["action"] for e in db.audit] == ["renewal.apply"]
    assert uow.commits == 1
    # Pending: the holder's view shows it, and it holds the lapse (R-REN-3).
    assert all(s.pending_application for s in registration(uow, reg.registration_no).specialties)


def test_second_application_for_a_pending_specialty_is_refused_and_stores_nothing__R_REN_1(
    uow: FakeUnitOfWork, db: FakeDatabase, policy: Policy
) -> None:
    reg = holder(specialties=("建筑工程", "机电工程"))
    db.add_registration(reg)
    apply(uow, policy, reg.registration_no, ["建筑工程"])
    refused = refused_unchanged(
        db, RuleRefusal, lambda: apply(uow, policy, reg.registration_no, ["机电工程", "建筑工程"])
    )
    assert (refused.code, refused.params["specialty"]) == ("application_pending", "建筑工程")


def test_application_without_the_commitment_is_refused__R_REN_4(
    uow: FakeUnitOfWork, db: FakeDatabase, policy: Policy
) -> None:
    reg = holder()
    db.add_registration(reg)
    with pytest.raises(RuleRefusal) as refused:
        apply(uow, policy, reg.registration_no, ["建筑工程"], committed=False)
    assert refused.value.code == "commitment_required"
    assert db.applications == {} and db.audit == []


def test_approval_extends_the_validity_and_supersedes_for_renewal__R_REN_5_R_REN_6(
    uow: FakeUnitOfWork, db: FakeDatabase, policy: Policy
) -> None:
    reg_no, app_id = applied(uow, db, policy)

    done = decide(uow, policy, app_id, approve=True)

    assert done == {
        "application_id": app_id,
        "status": "approved",
        "specialties": [{"specialty": "建筑工程", "valid_until": RENEWED_UNTIL.isoformat()}],
    }
    after = registration(uow, reg_no)
    [spec] = after.specialties
    assert (spec.valid_until, spec.stored_state, spec.pending_application) == (
        RENEWED_UNTIL,
        SpecialtyState.VALID,
        False,
    )
    # New validity is printed data: every earlier certificate is superseded, and it is recorded why.
    assert uow.registry.supersessions(reg_no) == [
        Supersession(reg_no, 1, 2, utc(DECIDE_DAY), SupersessionCause.RENEWAL, "rev_zj")
    ]
    assert after.data_version == 2
    stored = db.applications[app_id]
    assert (stored.status, stored.decided_by, stored.new_valid_until) == (
        ApplicationStatus.APPROVED,
        "rev_zj",
        RENEWED_UNTIL,
    )
    [event] = [e for e in db.audit if e["action"] == "renewal.approved"]
    assert event["payload"]["before"] == {"建筑工程": "2021-07-10"}
    assert event["payload"]["after"] == {"建筑工程": RENEWED_UNTIL.isoformat()}


def test_approval_close_to_the_65th_birthday_ends_on_it__R_REN_5(
    uow: FakeUnitOfWork, db: FakeDatabase, policy: Policy
) -> None:
    reg_no, app_id = applied(uow, db, policy, holder(birth=date(1957, 12, 3)))  # 65 on 2022-12-03
    decide(uow, policy, app_id, approve=True)
    assert registration(uow, reg_no).specialties[0].valid_until == date(2022, 12, 3)


def test_no_approval_on_the_65th_birthday_and_nothing_changes__R_REN_5(
    uow: FakeUnitOfWork, db: FakeDatabase, policy: Policy
) -> None:
    _, app_id = applied(uow, db, policy, holder(birth=date(1956, 8, 1)))  # 65 on DECIDE_DAY
    assert refused_unchanged(db, RuleRefusal, lambda: decide(uow, policy, app_id, approve=True)).code == "age_limit"


def test_rejection_after_the_validity_end_lapses_and_supersedes_nothing__R_REN_3(
    uow: FakeUnitOfWork, db: FakeDatabase, policy: Policy
) -> None:
    reg_no, app_id = applied(uow, db, policy)

    done = decide(uow, policy, app_id, approve=False)

    assert done["status"] == "rejected"
    after = registration(uow, reg_no)
    [spec] = after.specialties
    assert (spec.valid_until, spec.stored_state, spec.lapse_reason) == (
        date(2021, 7, 10),
        SpecialtyState.LAPSED,
        LapseReason.REJECTED,
    )
    assert uow.registry.supersessions(reg_no) == [] and after.data_version == 1
    assert db.applications[app_id].reason == "继续教育证明不实"


def test_rejection_before_the_validity_end_leaves_the_specialty_valid__R_REN_3(
    uow: FakeUnitOfWork, db: FakeDatabase, policy: Policy
) -> None:
    reg_no, app_id = applied(uow, db, policy)
    decide(uow, policy, app_id, approve=False, day=date(2021, 7, 5))
    assert registration(uow, reg_no).specialties[0].stored_state is SpecialtyState.VALID


def test_rejection_needs_a_reason__R_REN_6(uow: FakeUnitOfWork, db: FakeDatabase, policy: Policy) -> None:
    _, app_id = applied(uow, db, policy)
    refused_unchanged(
        db,
        BadInput,
        lambda: renewal.decide_renewal(
            uow,
            app_id,
            approve=False,
            reason="  ",
            reviewer="rev_zj",
            today=DECIDE_DAY,
            now=at(DECIDE_DAY),
            policy=policy,
        ),
    )


def test_a_decided_application_is_not_decided_again__R_REN_6(
    uow: FakeUnitOfWork, db: FakeDatabase, policy: Policy
) -> None:
    reg_no, app_id = applied(uow, db, policy)
    decide(uow, policy, app_id, approve=True)
    refused = refused_unchanged(db, RuleRefusal, lambda: decide(uow, policy, app_id, approve=False, reviewer="admin"))
    assert refused.code == "already_decided"
    assert len(uow.registry.supersessions(reg_no)) == 1


def test_a_reviewer_decides_only_in_their_province__R_REN_6(
    uow: FakeUnitOfWork, db: FakeDatabase, policy: Policy
) -> None:
    _, app_id = applied(uow, db, policy)
    refused = refused_unchanged(db, EcertError, lambda: decide(uow, policy, app_id, approve=True, reviewer="rev_bj"))
    assert refused.code == "forbidden"
    decide(uow, policy, app_id, approve=True, reviewer="admin")  # the ministry decides anywhere
    assert db.applications[app_id].decided_by == "admin"
