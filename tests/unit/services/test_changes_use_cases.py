"""Changes of a registration (services/changes.py) on the in-memory unit of work: every change of
printed data supersedes, and records why (R-CHG-1); revocation and cancellation only from active
(R-LAPSE-1); a refusal changes nothing. No database."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from ecert.domain.errors import BadInput, NotFound, RuleRefusal
from ecert.domain.ids import make_id_number
from ecert.domain.model import (
    Employer,
    Gender,
    RegistrationStatus,
    StatusRecord,
    Supersession,
    SupersessionCause,
)
from ecert.services import changes
from fakes import OTHER_USCC, USCC, FakeDatabase, FakeUnitOfWork, at, frozen, holder, utc

TODAY = date(2021, 3, 1)
NOW = at(TODAY)


def causes(uow: FakeUnitOfWork, reg_no: str) -> list[SupersessionCause]:
    return [s.cause for s in uow.registry.supersessions(reg_no)]


# ------------------------------------------------------------------------------------- employer


def test_a_new_employer_supersedes_with_cause_employer_change__R_CHG_1(uow: FakeUnitOfWork, db: FakeDatabase) -> None:
    reg = holder(data_version=3)
    db.add_registration(reg)

    done = changes.change_employer(
        uow, reg.registration_no, name=" 新聘建设有限公司 ", uscc=OTHER_USCC, actor="clerk", now=NOW
    )

    assert done == {
        "registration_no": reg.registration_no,
        "employer": {"name": "新聘建设有限公司", "uscc": OTHER_USCC},
        "changed": True,
        "data_version": 4,
    }
    after = uow.registry.get(reg.registration_no)
    assert after is not None and after.employer == Employer("新聘建设有限公司", OTHER_USCC)
    assert uow.registry.supersessions(reg.registration_no) == [
        Supersession(reg.registration_no, 3, 4, utc(TODAY), SupersessionCause.EMPLOYER_CHANGE, "clerk")
    ]
    [event] = db.audit
    assert event["action"] == "registration.change_employer"
    assert event["payload"]["before"] == {"name": "某某建设集团有限公司", "uscc": USCC}
    assert event["payload"]["data_version"] == 4


def test_the_same_employer_again_changes_nothing__R_CHG_1(uow: FakeUnitOfWork, db: FakeDatabase) -> None:
    reg = holder()
    db.add_registration(reg)
    before = frozen(db)
    done = changes.change_employer(uow, reg.registration_no, name=reg.employer.name, uscc=USCC, actor="clerk", now=NOW)
    assert (done["changed"], done["data_version"]) == (False, 1)
    assert frozen(db) == before  # no supersession, no audit event


def test_an_employer_change_of_a_revoked_registration_is_refused__R_CHG_1(
    uow: FakeUnitOfWork, db: FakeDatabase
) -> None:
    db.add_registration(replace(holder(), status=RegistrationStatus.REVOKED))
    before = frozen(db)
    with pytest.raises(RuleRefusal) as refused:
        changes.change_employer(uow, holder().registration_no, name="新公司", uscc=OTHER_USCC, actor="clerk", now=NOW)
    assert refused.value.code == "registration_inactive"
    assert frozen(db) == before


def test_an_employer_rename_supersedes_each_registration_that_changes__R_CHG_1(
    uow: FakeUnitOfWork, db: FakeDatabase
) -> None:
    a, b, renamed_already = holder(1), holder(2), holder(3, employer=Employer("更名后的公司", USCC))
    elsewhere = holder(4, employer=Employer("别家公司", OTHER_USCC))
    for reg in (a, b, renamed_already, elsewhere):
        db.add_registration(reg)

    done = changes.rename_employer(uow, USCC, name="更名后的公司", actor="clerk", now=NOW)

    assert done == {"uscc": USCC, "name": "更名后的公司", "registrations": 2}
    for reg in (a, b):
        assert causes(uow, reg.registration_no) == [SupersessionCause.EMPLOYER_RENAME]
        after = uow.registry.get(reg.registration_no)
        assert after is not None and after.employer == Employer("更名后的公司", USCC)
    assert causes(uow, renamed_already.registration_no) == causes(uow, elsewhere.registration_no) == []
    [event] = db.audit
    assert event["payload"]["registration_nos"] == sorted([a.registration_no, b.registration_no])


def test_renaming_an_unknown_employer_is_not_found(uow: FakeUnitOfWork, db: FakeDatabase) -> None:
    db.add_registration(holder())
    with pytest.raises(NotFound):
        changes.rename_employer(uow, OTHER_USCC, name="X公司", actor="clerk", now=NOW)
    assert db.audit == [] and db.supersessions == []


# ------------------------------------------------------------------------------------- personal data


def test_a_corrected_name_supersedes_with_cause_personal_change__R_CHG_1(uow: FakeUnitOfWork, db: FakeDatabase) -> None:
    reg = holder()
    db.add_registration(reg)
    done = changes.correct_personal(uow, reg.registration_no, name="张维", actor="clerk", today=TODAY, now=NOW)
    assert (done["fields"], done["data_version"]) == (["name"], 2)
    after = uow.registry.get(reg.registration_no)
    assert after is not None and after.person == replace(reg.person, name="张维")
    assert causes(uow, reg.registration_no) == [SupersessionCause.PERSONAL_CHANGE]


def test_an_id_number_held_by_another_active_registration_is_refused(uow: FakeUnitOfWork, db: FakeDatabase) -> None:
    first, second = holder(1), holder(2)
    db.add_registration(first)
    db.add_registration(second)
    before = frozen(db)
    with pytest.raises(BadInput) as refused:
        changes.correct_personal(
            uow, first.registration_no, birth_date=second.person.birth_date.isoformat(),
            id_number=second.person.id_number, actor="clerk", today=TODAY, now=NOW,
        )  # fmt: skip
    assert second.registration_no in refused.value.problems[0].message_en
    assert frozen(db) == before


def test_an_id_number_that_disagrees_with_the_birth_date_is_refused(uow: FakeUnitOfWork, db: FakeDatabase) -> None:
    reg = holder()
    db.add_registration(reg)
    other_birth = make_id_number("330102", date(1981, 1, 1), 1, Gender.MALE)
    with pytest.raises(BadInput):
        changes.correct_personal(uow, reg.registration_no, id_number=other_birth, actor="clerk", today=TODAY, now=NOW)
    assert db.supersessions == [] and db.audit == []


# ------------------------------------------------------------------------------------- revoke / cancel


def revoke(uow: FakeUnitOfWork, reg_no: str, effective: str = "2021-02-15") -> dict[str, object]:
    return changes.revoke(
        uow, reg_no, reason="以欺骗手段取得注册", basis="《注册建造师管理规定》第三十二条", effective=effective,
        actor="ministry", today=TODAY, now=NOW,
    )  # fmt: skip


def test_revocation_ends_the_registration_and_supersedes__R_LAPSE_1_R_CHG_1(
    uow: FakeUnitOfWork, db: FakeDatabase
) -> None:
    reg = holder()
    db.add_registration(reg)

    done = revoke(uow, reg.registration_no)

    assert done["status"] == "revoked" and done["effective"] == "2021-02-15"
    assert uow.registry.status_record(reg.registration_no) == StatusRecord(
        RegistrationStatus.REVOKED, "以欺骗手段取得注册", "《注册建造师管理规定》第三十二条", date(2021, 2, 15)
    )
    after = uow.registry.get(reg.registration_no)
    assert after is not None and (after.status, after.data_version) == (RegistrationStatus.REVOKED, 2)
    assert uow.registry.supersessions(reg.registration_no) == [
        Supersession(reg.registration_no, 1, 2, utc(TODAY), SupersessionCause.REVOCATION, "ministry")
    ]
    [event] = db.audit
    assert (event["action"], event["payload"]["before"]["status"], event["payload"]["data_version"]) == (
        "registration.revoke",
        "active",
        2,
    )


def test_revoking_an_already_revoked_registration_is_refused_and_changes_nothing__R_LAPSE_1(
    uow: FakeUnitOfWork, db: FakeDatabase
) -> None:
    reg = holder()
    db.add_registration(reg)
    revoke(uow, reg.registration_no)
    before = frozen(db)
    with pytest.raises(RuleRefusal) as refused:
        revoke(uow, reg.registration_no, effective="2021-02-20")
    assert (refused.value.code, refused.value.params["status"]) == ("registration_inactive", "revoked")
    assert frozen(db) == before
    assert causes(uow, reg.registration_no) == [SupersessionCause.REVOCATION]


def test_a_revocation_effective_after_today_is_refused__R_LAPSE_1(uow: FakeUnitOfWork, db: FakeDatabase) -> None:
    reg = holder()
    db.add_registration(reg)
    with pytest.raises(BadInput) as refused:
        revoke(uow, reg.registration_no, effective="2021-03-02")
    assert refused.value.problems[0].column == "effective"
    assert db.supersessions == [] and uow.commits == 0


def test_cancellation_supersedes_with_cause_cancellation__R_LAPSE_1(uow: FakeUnitOfWork, db: FakeDatabase) -> None:
    reg = holder()
    db.add_registration(reg)
    done = changes.cancel(
        uow, reg.registration_no, reason="本人申请注销", effective="2021-03-01", actor="ministry", today=TODAY, now=NOW
    )
    assert (done["status"], done["basis"]) == ("cancelled", None)
    assert causes(uow, reg.registration_no) == [SupersessionCause.CANCELLATION]
    with pytest.raises(RuleRefusal):  # cancelled: not revocable any more
        revoke(uow, reg.registration_no)
