"""The platform sign-in's matching (services/platform_signin.py) on the in-memory unit of work: the ID
number claim finds the active registration, a first sign-in links (and makes) the holder account, the
link decides later sign-ins, and every refusal is audited and changes nothing else (R-ACC-1)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from ecert.adapters.db.users import User
from ecert.domain.model import RegistrationStatus
from ecert.services import accounts
from ecert.services.platform_signin import PlatformIdentity, PlatformRefusal, comparable_name, sign_in
from fakes import FakeDatabase, FakeUnitOfWork, at, holder

NOW = at(date(2021, 3, 1))
ISSUER = "https://platform.test"


def who(reg_id: str | None, *, sub: str = "s-1", name: str | None = "张伟") -> PlatformIdentity:
    return PlatformIdentity(ISSUER, sub, reg_id, name)


def actions(db: FakeDatabase) -> list[str]:
    return [e["action"] for e in db.audit]


def test_a_first_sign_in_makes_a_holder_account_with_no_usable_password_and_links_it_R_ACC_1(
    uow: FakeUnitOfWork, db: FakeDatabase
) -> None:
    reg = holder()
    db.add_registration(reg)
    user = sign_in(uow, who(reg.person.id_number.lower()), now=NOW, client="1.2.3.4")
    assert user.role == "holder" and user.registration_no == reg.registration_no
    assert db.identities == {(ISSUER, "s-1"): user.username}
    assert not accounts.check_password(user, "") and not accounts.check_password(user, user.password_hash)
    assert actions(db) == ["user.add", "auth.platform_link", "auth.login"]
    assert all(reg.person.id_number not in str(e["payload"]) for e in db.audit)  # compared, never stored

    again = sign_in(uow, who(reg.person.id_number, name=" 张 伟 "), now=NOW, client="1.2.3.4")
    assert again == user and actions(db)[-1] == "auth.login" and len(db.users) == 4


def test_a_first_sign_in_links_the_existing_holder_account_R_ACC_1(uow: FakeUnitOfWork, db: FakeDatabase) -> None:
    reg = holder()
    db.add_registration(reg)
    db.users["zw"] = User("zw", "holder", None, reg.registration_no, "-", False)
    assert sign_in(uow, who(reg.person.id_number), now=NOW, client="c").username == "zw"
    assert db.identities == {(ISSUER, "s-1"): "zw"}


@pytest.mark.parametrize(
    ("case", "why"),
    [("no_id_number", "no_id_number"), ("garbled", "bad_id_number"), ("unknown", "no_registration"),
     ("revoked", "no_registration"), ("other_name", "name_differs"), ("disabled", "account_disabled"),
     ("account_already_linked", "account_linked_to_another"), ("link_to_other_registration", "link_differs")],
)  # fmt: skip
def test_a_refused_sign_in_is_audited_and_changes_nothing_else_R_ACC_1(
    uow: FakeUnitOfWork, db: FakeDatabase, case: str, why: str
) -> None:
    reg, other = holder(1), holder(2)
    db.add_registration(reg)
    db.add_registration(other)
    id_number: str | None = reg.person.id_number
    name = "张伟"
    if case == "no_id_number":
        id_number = None
    elif case == "garbled":
        id_number = "1234"
    elif case == "unknown":
        id_number = holder(3).person.id_number
    elif case == "revoked":
        db.registrations[reg.registration_no] = replace(reg, status=RegistrationStatus.REVOKED)
    elif case == "other_name":
        name = "李四"
    elif case == "disabled":
        db.users["zw"] = User("zw", "holder", None, reg.registration_no, "-", True)
    elif case == "account_already_linked":
        db.users["zw"] = User("zw", "holder", None, reg.registration_no, "-", False)
        db.identities[(ISSUER, "older-subject")] = "zw"
    elif case == "link_to_other_registration":
        db.users["zw2"] = User("zw2", "holder", None, other.registration_no, "-", False)
        db.identities[(ISSUER, "s-1")] = "zw2"
    users, identities = dict(db.users), dict(db.identities)
    with pytest.raises(PlatformRefusal) as refused:
        sign_in(uow, who(id_number, name=name), now=NOW, client="c")
    assert refused.value.why == why
    assert refused.value.code == ("platform_no_registration" if why == "no_registration" else "platform_signin_failed")
    assert refused.value.message("zh") and refused.value.message("en")
    assert (db.users, db.identities) == (users, identities)
    assert actions(db) == ["auth.platform_refused"] and db.audit[0]["payload"]["reason"] == why


def test_names_compare_without_spaces_and_with_any_middle_dot() -> None:
    assert comparable_name("阿依古丽•买买提") == comparable_name("阿依古丽·买买提 ")
    assert comparable_name("张伟") != comparable_name("张玮")
