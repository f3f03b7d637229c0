"""Renewal registration through the CLI, ``ecert renewal apply`` / ``ecert renewal decide`` (docs/cli.md),
on SQLite and PostgreSQL: the boundaries of R-REN-1, R-REN-2, R-REN-3, R-REN-4, R-REN-5, R-REN-6 with
R-DATE-1 and R-DATE-2. Every refusal is checked to change nothing in the database."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, Table, select

from ecert.adapters.db.audit import AuditLog
from ecert.adapters.db.tables import (
    audit_events,
    certificates,
    registrations,
    renewal_applications,
    renewal_items,
    specialty_registrations,
    users,
)
from ecert.adapters.synthetic_signature import signature_png
from ecert.domain.dates import CST
from ecert.domain.ids import make_id_number, make_registration_no, make_uscc
from ecert.domain.model import Gender
from ecert.domain.provinces import code_of_abbreviation
from ecert.services import accounts
from helpers_cli import COLUMNS as HEADER

USCC = make_uscc("330100", "MA2RN7E0K")
PASSWORD = "password123\n"
WATCHED: tuple[Table, ...] = (
    registrations,
    specialty_registrations,
    renewal_applications,
    renewal_items,
    certificates,
    audit_events,
    users,
)

# ---------------------------------------------------------------------------------------------- helpers


def import_holders(
    ecert: Any,
    tmp_path: Path,
    holders: list[tuple[date, list[tuple[str, str]]]],
    *,
    abbr: str = "浙",
    today: str = "2021-01-01",
) -> list[str]:
    """Import holders given as (birth date, [(specialty, valid_until)]); returns their registration numbers."""
    code = code_of_abbreviation(abbr)
    assert code is not None
    numbers = []
    path = tmp_path / "holders.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for serial, (birth, specialties) in enumerate(holders, start=1):
            reg_no = make_registration_no(abbr, code, 2010, 2012, serial)
            idn = make_id_number(f"{code}0102", birth, serial, Gender.MALE)
            numbers.append(reg_no)
            for specialty, valid_until in specialties:
                w.writerow(
                    [reg_no, "王建国", "男", birth.isoformat(), idn, "浙江某建设有限公司", USCC, specialty, valid_until]
                )
    res = ecert("import", str(path), "--json", today=today)
    assert res.exit_code == 0, res.stdout + res.stderr
    return numbers


def import_holder(
    ecert: Any,
    tmp_path: Path,
    specialties: list[tuple[str, str]],
    *,
    abbr: str = "浙",
    birth: date = date(1980, 5, 17),
) -> str:
    """Import one holder with ``specialties`` = [(specialty, valid_until)]; returns the registration number."""
    return import_holders(ecert, tmp_path, [(birth, specialties)], abbr=abbr)[0]


def add_user(ecert: Any, name: str, role: str, province: str | None = None) -> None:
    args = ["user", "add", name, "--role", role, "--password-stdin", "--json"]
    if province:
        args += ["--province", province]
    res = ecert(*args, today="2021-01-01", input=PASSWORD)
    assert res.exit_code == 0, res.stdout + res.stderr


def apply_args(reg_no: str, *specialties: str, commit: bool = True, hours: int | None = None) -> list[str]:
    args = ["renewal", "apply", reg_no]
    for s in specialties:
        args += ["--specialty", s]
    if commit:
        args.append("--commit-ce")
    if hours is not None:
        args += ["--ce-hours", str(hours)]
    return [*args, "--json"]


def decide_args(app_id: int, *, approve: bool, reviewer: str, reason: str | None = None) -> list[str]:
    args = ["renewal", "decide", str(app_id), "--approve" if approve else "--reject", "--reviewer", reviewer]
    if reason is not None:
        args += ["--reason", reason]
    return [*args, "--json"]


def apply(ecert: Any, reg_no: str, *specialties: str, today: str, hours: int | None = None) -> int:
    res = ecert(*apply_args(reg_no, *specialties, hours=hours), today=today)
    assert res.exit_code == 0, res.stdout + res.stderr
    out = res.json()
    assert out["status"] == "pending"
    assert isinstance(out["application_id"], int)
    return int(out["application_id"])


def decide(
    ecert: Any, app_id: int, *, today: str, approve: bool = True, reviewer: str = "rev_zj", reason: str | None = None
) -> dict[str, Any]:
    res = ecert(*decide_args(app_id, approve=approve, reviewer=reviewer, reason=reason), today=today)
    assert res.exit_code == 0, res.stdout + res.stderr
    out: dict[str, Any] = res.json()
    assert out["application_id"] == app_id
    assert out["status"] == ("approved" if approve else "rejected")
    return out


def rejected_but_kept(
    ecert: Any, engine: Engine, tmp_path: Path, valid_until: str, *, applied_on: str, rejected_on: str, shown: str
) -> tuple[str, int]:
    """One holder of 建筑工程 valid until ``valid_until``, whose application made on ``applied_on`` is
    rejected on ``rejected_on``; checks the specialty is still stored valid with the same end (R-REN-3)
    and shown in state ``shown`` that day, and returns the registration number and the application id."""
    reg_no = import_holder(ecert, tmp_path, [("建筑工程", valid_until)])
    app_id = apply(ecert, reg_no, "建筑工程", today=applied_on)
    decide(ecert, app_id, today=rejected_on, approve=False, reason="材料不全")
    assert stored(engine, reg_no) == {"建筑工程": (date.fromisoformat(valid_until), "valid", None)}
    assert show(ecert, reg_no, rejected_on) == {"建筑工程": (valid_until, shown)}
    return reg_no, app_id


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables a renewal may touch, in primary-key order."""
    with engine.connect() as conn:
        return {t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))] for t in WATCHED}


def refused(
    ecert: Any, engine: Engine, args: list[str], *, today: str, code: str, rule: str | None = None, exit_code: int = 1
) -> dict[str, Any]:
    """Run a command that must be refused with ``code`` and change nothing (compared row by row)."""
    before = snapshot(engine)
    res = ecert(*args, today=today)
    assert res.exit_code == exit_code, res.stdout + res.stderr
    err: dict[str, Any] = res.json()["error"]
    assert err["code"] == code, err
    if rule is not None:
        assert err["rule"] == rule, err
    assert snapshot(engine) == before, f"refusal {code} changed the database"
    return err


def show(ecert: Any, reg_no: str, today: str) -> dict[str, tuple[str, str]]:
    """specialty -> (valid_until, state) as ``holder show`` reports them on ``today``."""
    res = ecert("holder", "show", reg_no, "--json", today=today)
    assert res.exit_code == 0, res.stdout + res.stderr
    return {s["specialty"]: (s["valid_until"], s["state"]) for s in res.json()["specialties"]}


def stored(engine: Engine, reg_no: str) -> dict[str, tuple[date, str, str | None]]:
    """specialty -> (valid_until, stored state, lapse_reason) straight from the table."""
    sr, r = specialty_registrations, registrations
    with engine.connect() as conn:
        rows = conn.execute(
            select(sr.c.specialty, sr.c.valid_until, sr.c.state, sr.c.lapse_reason)
            .join(r, r.c.id == sr.c.registration_id)
            .where(r.c.registration_no == reg_no)
        )
        return {row.specialty: (row.valid_until, row.state, row.lapse_reason) for row in rows}


def application(engine: Engine, app_id: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(renewal_applications).where(renewal_applications.c.id == app_id)).one()


def items(engine: Engine, app_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        rows = conn.execute(select(renewal_items).where(renewal_items.c.application_id == app_id)).all()
    return {row.specialty: row for row in rows}


def data_version(engine: Engine, reg_no: str) -> int:
    with engine.connect() as conn:
        v = conn.execute(
            select(registrations.c.data_version).where(registrations.c.registration_no == reg_no)
        ).scalar_one()
    return int(v)


def sweep(ecert: Any, today: str) -> int:
    res = ecert("sweep", "--json", today=today)
    assert res.exit_code == 0, res.stdout + res.stderr
    return int(res.json()["lapsed"])


def cst_date_of(moment: datetime) -> date:
    """A stored timestamp's CST date (SQLite gives back naive UTC, PostgreSQL an aware instant)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(CST).date()


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with minimal cost: accounts are made through the CLI in many tests, and their passwords
    are never checked here (the default cost is the accounts tests' concern)."""
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


@pytest.fixture
def reviewers(ecert: Any, engine: Engine) -> None:
    """rev_zj reviews 浙, rev_bj reviews 京, ministry is an admin (``ecert user add``)."""
    add_user(ecert, "rev_zj", "reviewer", "浙")
    add_user(ecert, "rev_bj", "reviewer", "京")
    add_user(ecert, "ministry", "admin")


# ---------------------------------------------------------------------------------------------- R-REN-1

# (day of the application, refusal code or None) for a specialty valid until 2021-09-30.
WINDOW_CASES = [
    ("2021-08-30", "outside_renewal_window"),  # end − 31 days
    ("2021-08-31", None),  # end − 30 days: the window opens
    ("2021-09-15", None),
    ("2021-09-30", None),  # the end itself: still valid and renewable (R-DATE-1)
    ("2021-10-01", "specialty_lapsed"),  # end + 1, after 2021-07-01: lapsed, nothing to renew (R-REN-3)
]


def test_renewal_window_is_end_minus_30_days_to_end__R_REN_1(ecert: Any, engine: Engine, tmp_path: Path) -> None:
    numbers = import_holders(
        ecert, tmp_path, [(date(1980, 5, 17), [("建筑工程", "2021-09-30"), ("公路工程", "2023-01-01")])] * 5
    )
    for reg_no, (today, code) in zip(numbers, WINDOW_CASES, strict=True):
        if code is not None:
            rule = "R-REN-1" if code == "outside_renewal_window" else "R-REN-3"
            err = refused(ecert, engine, apply_args(reg_no, "建筑工程"), today=today, code=code, rule=rule)
            assert err["message"], today
            continue
        app_id = apply(ecert, reg_no, "建筑工程", today=today)
        row = application(engine, app_id)
        assert (row.status, row.applied_on, row.committed, row.decided_by) == (
            "pending",
            date.fromisoformat(today),
            True,
            None,
        ), today
        item = items(engine, app_id)["建筑工程"]
        assert (item.status, item.previous_valid_until, item.new_valid_until) == ("pending", date(2021, 9, 30), None)
        # Applying changes no validity by itself.
        assert stored(engine, reg_no)["建筑工程"] == (date(2021, 9, 30), "valid", None), today


def test_a_specialty_far_from_its_end_cannot_apply__R_REN_1(ecert: Any, engine: Engine, tmp_path: Path) -> None:
    reg_no = import_holder(ecert, tmp_path, [("建筑工程", "2021-09-30"), ("公路工程", "2023-01-01")])
    # 建筑工程 is inside its window, 公路工程 is not: the joint application is refused whole.
    refused(
        ecert,
        engine,
        apply_args(reg_no, "建筑工程", "公路工程"),
        today="2021-09-10",
        code="outside_renewal_window",
        rule="R-REN-1",
    )


# ---------------------------------------------------------------------------------------------- R-REN-2

# (validity end, day of the application, refusal code or None)
TRANSITIONAL_CASES = [
    ("2020-11-30", "2021-01-05", None),
    ("2020-11-30", "2021-06-30", None),  # the transitional deadline itself
    ("2020-11-30", "2021-07-01", "specialty_lapsed"),  # from the lapse start nothing unheld is renewable
    ("2021-06-15", "2021-06-30", None),  # ended during 2021: still transitional
    ("2021-06-15", "2021-07-01", "specialty_lapsed"),
]


def test_already_expired_specialty_may_apply_until_2021_06_30__R_REN_2(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    numbers = import_holders(
        ecert, tmp_path, [(date(1980, 5, 17), [("市政公用工程", end)]) for end, _, _ in TRANSITIONAL_CASES]
    )
    for reg_no, (valid_until, today, code) in zip(numbers, TRANSITIONAL_CASES, strict=True):
        if code is not None:
            refused(ecert, engine, apply_args(reg_no, "市政公用工程"), today=today, code=code, rule="R-REN-3")
            continue
        assert show(ecert, reg_no, today)["市政公用工程"] == (valid_until, "expired")
        app_id = apply(ecert, reg_no, "市政公用工程", today=today)
        assert application(engine, app_id).status == "pending"
        # Applied in time: the application holds the lapse past 2021-07-01 (R-REN-3).
        assert show(ecert, reg_no, "2021-07-01")["市政公用工程"] == (valid_until, "expired")


# ---------------------------------------------------------------------------------------------- R-REN-3


def test_pending_application_holds_the_lapse_and_shows_expired__R_REN_3(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    reg_no = import_holder(ecert, tmp_path, [("建筑工程", "2021-07-10"), ("公路工程", "2021-07-10")])
    apply(ecert, reg_no, "建筑工程", today="2021-07-01")
    assert sweep(ecert, "2021-08-01") == 1  # only the one without an application
    assert stored(engine, reg_no) == {
        "建筑工程": (date(2021, 7, 10), "valid", None),
        "公路工程": (date(2021, 7, 10), "lapsed", "no_renewal"),
    }
    assert show(ecert, reg_no, "2021-08-01") == {
        "建筑工程": ("2021-07-10", "expired"),
        "公路工程": ("2021-07-10", "lapsed"),
    }
    assert sweep(ecert, "2021-12-31") == 0
    assert show(ecert, reg_no, "2021-12-31")["建筑工程"] == ("2021-07-10", "expired")


def test_rejection_after_the_end_lapses_the_specialty__R_REN_3(
    ecert: Any, engine: Engine, tmp_path: Path, reviewers: None
) -> None:
    reg_no = import_holder(ecert, tmp_path, [("建筑工程", "2021-07-10")])
    app_id = apply(ecert, reg_no, "建筑工程", today="2021-07-01")
    version = data_version(engine, reg_no)
    out = decide(ecert, app_id, today="2021-07-20", approve=False, reason="继续教育证明不实")
    assert out["specialties"] == [{"specialty": "建筑工程", "valid_until": "2021-07-10"}]
    assert stored(engine, reg_no) == {"建筑工程": (date(2021, 7, 10), "lapsed", "rejected")}
    assert show(ecert, reg_no, "2021-07-20") == {"建筑工程": ("2021-07-10", "lapsed")}
    assert items(engine, app_id)["建筑工程"].status == "rejected"
    assert data_version(engine, reg_no) == version  # nothing printed changed
    assert sweep(ecert, "2021-07-21") == 0  # already lapsed, nothing more to do
    refused(ecert, engine, apply_args(reg_no, "建筑工程"), today="2021-07-21", code="specialty_lapsed")


def test_rejection_on_the_last_valid_day_leaves_it_valid_and_renewable__R_REN_3_R_DATE_1(
    ecert: Any, engine: Engine, tmp_path: Path, reviewers: None
) -> None:
    reg_no, _ = rejected_but_kept(
        ecert, engine, tmp_path, "2021-07-10", applied_on="2021-07-01", rejected_on="2021-07-10", shown="renewable"
    )
    # Nothing holds it any more: without a new application it lapses from the day after its end.
    assert sweep(ecert, "2021-07-10") == 0
    assert sweep(ecert, "2021-07-11") == 1
    assert stored(engine, reg_no)["建筑工程"][1:] == ("lapsed", "no_renewal")


def test_rejection_before_the_end_lets_the_holder_apply_again__R_REN_3(
    ecert: Any, engine: Engine, tmp_path: Path, reviewers: None
) -> None:
    reg_no, first = rejected_but_kept(
        ecert, engine, tmp_path, "2021-07-10", applied_on="2021-06-20", rejected_on="2021-06-25", shown="renewable"
    )
    assert apply(ecert, reg_no, "建筑工程", today="2021-06-26") != first  # a new application
    assert sweep(ecert, "2021-07-20") == 0  # the new application holds it


def test_rejection_of_an_expired_specialty_before_the_lapse_start_lapses_it_from_2021_07_01__R_REN_2_R_REN_3(
    ecert: Any, engine: Engine, tmp_path: Path, reviewers: None
) -> None:
    reg_no, _ = rejected_but_kept(
        ecert, engine, tmp_path, "2020-12-31", applied_on="2021-05-01", rejected_on="2021-06-01", shown="expired"
    )
    # It may apply again until the transitional deadline …
    again = apply(ecert, reg_no, "建筑工程", today="2021-06-30")
    # … and a rejection after the lapse start lapses it at once.
    decide(ecert, again, today="2021-07-05", approve=False, reason="学时不足")
    assert stored(engine, reg_no) == {"建筑工程": (date(2020, 12, 31), "lapsed", "rejected")}


# ---------------------------------------------------------------------------------------------- R-REN-4

# (--commit-ce, --ce-hours, refusal code or None)
CE_CASES = [
    (False, None, "commitment_required"),
    (False, 200, "commitment_required"),  # hours are no substitute for the commitment
    (True, 100, "ce_requirement_not_met"),
    (True, 119, "ce_requirement_not_met"),
    (True, 0, "ce_requirement_not_met"),
    (True, 120, None),
    (True, 160, None),
    (True, None, None),  # hours not given: the commitment is what counts
]


def test_commitment_and_continuing_education_hours__R_REN_4(ecert: Any, engine: Engine, tmp_path: Path) -> None:
    numbers = import_holders(ecert, tmp_path, [(date(1980, 5, 17), [("水利水电工程", "2021-07-31")])] * len(CE_CASES))
    for reg_no, (commit, hours, code) in zip(numbers, CE_CASES, strict=True):
        args = apply_args(reg_no, "水利水电工程", commit=commit, hours=hours)
        if code is not None:
            refused(ecert, engine, args, today="2021-07-15", code=code, rule="R-REN-4")
            continue
        res = ecert(*args, today="2021-07-15")
        assert res.exit_code == 0, (hours, res.stdout)
        row = application(engine, res.json()["application_id"])
        assert (row.committed, row.ce_hours) == (True, hours)
    refused(
        ecert,
        engine,
        apply_args(numbers[0], "水利水电工程", hours=-1),
        today="2021-07-15",
        code="bad_input",
        exit_code=2,
    )


# ---------------------------------------------------------------------------------------------- R-REN-5


APPROVALS = [
    pytest.param(
        date(1980, 5, 17),
        "建筑工程",
        "2021-09-30",
        "2021-09-10",
        [
            ("2021-09-15", "2024-09-14"),
            ("2021-09-30", "2024-09-29"),  # approved on the last valid day: counted from the approval
            ("2021-10-20", "2024-10-19"),  # approved after the end (the application held it)
            ("2021-12-31", "2024-12-30"),
            ("2022-01-01", "2024-12-31"),
        ],
        id="three_years_from_the_approval_date",
    ),
    pytest.param(  # R-DATE-2
        date(1980, 5, 17),
        "铁路工程",
        "2024-03-10",
        "2024-02-20",
        [
            ("2024-02-28", "2027-02-27"),
            ("2024-02-29", "2027-02-28"),  # no 29 Feb in 2027: three full years end on 28 Feb
            ("2024-03-01", "2027-02-28"),
        ],
        id="on_29_february_ends_on_28_february__R_DATE_2",
    ),
    pytest.param(  # 65th birthday 2025-06-14; 2022-06-15 + 2 years = 2024-06-15, + 364 days = 2025-06-14.
        date(1960, 6, 14),
        "矿业工程",
        "2022-06-30",
        "2022-06-10",
        [
            ("2022-06-14", "2025-06-13"),  # 2 years 365 days before: three years end the day before the birthday
            ("2022-06-15", "2025-06-14"),  # 2 years 364 days before: three years end on the birthday itself
            ("2022-06-16", "2025-06-14"),  # 2 years 363 days before: capped at the birthday
        ],
        id="2_years_364_days_before_the_65th_birthday",
    ),
]


@pytest.mark.parametrize(("birth", "specialty", "valid_until", "applied_on", "cases"), APPROVALS)
def test_approval_gives_three_years_from_the_approval_date__R_REN_5(
    ecert: Any,
    engine: Engine,
    tmp_path: Path,
    reviewers: None,
    birth: date,
    specialty: str,
    valid_until: str,
    applied_on: str,
    cases: list[tuple[str, str]],
) -> None:
    """One holder per case: apply on ``applied_on``, approve on the case's day, expect its validity end."""
    numbers = import_holders(ecert, tmp_path, [(birth, [(specialty, valid_until)])] * len(cases))
    for reg_no, (approved_on, new_end) in zip(numbers, cases, strict=True):
        app_id = apply(ecert, reg_no, specialty, today=applied_on)
        version = data_version(engine, reg_no)
        out = decide(ecert, app_id, today=approved_on)
        assert out["specialties"] == [{"specialty": specialty, "valid_until": new_end}], approved_on
        assert stored(engine, reg_no)[specialty] == (date.fromisoformat(new_end), "valid", None), approved_on
        item = items(engine, app_id)[specialty]
        assert (item.status, item.previous_valid_until, item.new_valid_until) == (
            "approved",
            date.fromisoformat(valid_until),
            date.fromisoformat(new_end),
        )
        assert data_version(engine, reg_no) == version + 1
        assert show(ecert, reg_no, approved_on)[specialty][0] == new_end


def test_approval_leaves_other_specialties_alone__R_REN_5(
    ecert: Any, engine: Engine, tmp_path: Path, reviewers: None
) -> None:
    reg_no = import_holder(ecert, tmp_path, [("建筑工程", "2021-09-30"), ("公路工程", "2023-01-01")])
    app_id = apply(ecert, reg_no, "建筑工程", today="2021-09-10", hours=120)
    decide(ecert, app_id, today="2021-09-15")
    assert stored(engine, reg_no) == {
        "建筑工程": (date(2024, 9, 14), "valid", None),
        "公路工程": (date(2023, 1, 1), "valid", None),
    }


def test_approval_is_capped_at_the_65th_birthday__R_REN_5(
    ecert: Any, engine: Engine, tmp_path: Path, reviewers: None
) -> None:
    reg_no = import_holder(ecert, tmp_path, [("港口与航道工程", "2024-06-15")], birth=date(1962, 3, 20))
    app_id = apply(ecert, reg_no, "港口与航道工程", today="2024-06-01")
    out = decide(ecert, app_id, today="2024-06-01")
    assert out["specialties"] == [{"specialty": "港口与航道工程", "valid_until": "2027-03-20"}]
    assert show(ecert, reg_no, "2027-03-20")["港口与航道工程"] == ("2027-03-20", "renewable")
    assert show(ecert, reg_no, "2027-03-21")["港口与航道工程"] == ("2027-03-20", "lapsed")


def test_no_approval_on_or_after_the_65th_birthday__R_REN_5(
    ecert: Any, engine: Engine, tmp_path: Path, reviewers: None
) -> None:
    # 65th birthday 2021-08-15.
    numbers = import_holders(ecert, tmp_path, [(date(1956, 8, 15), [("机电工程", "2021-08-15")])] * 3)
    apps = [apply(ecert, reg_no, "机电工程", today="2021-08-01") for reg_no in numbers]
    for app_id, decided_on in zip(apps[1:], ("2021-08-15", "2021-08-16"), strict=True):
        refused(
            ecert,
            engine,
            decide_args(app_id, approve=True, reviewer="rev_zj"),
            today=decided_on,
            code="age_limit",
            rule="R-REN-5",
        )
        assert application(engine, app_id).status == "pending"
    # The day before the birthday: valid until the birthday itself.
    out = decide(ecert, apps[0], today="2021-08-14")
    assert out["specialties"] == [{"specialty": "机电工程", "valid_until": "2021-08-15"}]


def test_no_application_on_or_after_the_65th_birthday__R_REN_5(ecert: Any, engine: Engine, tmp_path: Path) -> None:
    reg_no = import_holder(ecert, tmp_path, [("机电工程", "2021-08-15")], birth=date(1956, 8, 15))
    refused(ecert, engine, apply_args(reg_no, "机电工程"), today="2021-08-15", code="age_limit", rule="R-REN-5")
    assert apply(ecert, reg_no, "机电工程", today="2021-08-14") > 0


def test_born_29_february_turns_65_on_28_february__R_REN_5_R_DATE_2(
    ecert: Any, engine: Engine, tmp_path: Path, reviewers: None
) -> None:
    reg_no = import_holder(ecert, tmp_path, [("通信与广电工程", "2025-03-15")], birth=date(1960, 2, 29))
    app_id = apply(ecert, reg_no, "通信与广电工程", today="2025-02-20")
    refused(ecert, engine, decide_args(app_id, approve=True, reviewer="rev_zj"), today="2025-02-28", code="age_limit")
    out = decide(ecert, app_id, today="2025-02-27")
    assert out["specialties"] == [{"specialty": "通信与广电工程", "valid_until": "2025-02-28"}]


# ---------------------------------------------------------------------------------------------- R-REN-6


def test_reviewer_of_another_province_is_forbidden_and_admin_may_decide__R_REN_6(
    ecert: Any, engine: Engine, tmp_path: Path, reviewers: None
) -> None:
    reg_no = import_holder(ecert, tmp_path, [("建筑工程", "2021-09-30")], abbr="浙")
    app_id = apply(ecert, reg_no, "建筑工程", today="2021-09-10")
    for approve in (True, False):
        refused(
            ecert,
            engine,
            decide_args(app_id, approve=approve, reviewer="rev_bj", reason="越权"),
            today="2021-09-12",
            code="forbidden",
            rule="R-REN-6",
        )
    out = decide(ecert, app_id, today="2021-09-12", reviewer="ministry")
    assert out["specialties"] == [{"specialty": "建筑工程", "valid_until": "2024-09-11"}]
    assert application(engine, app_id).decided_by == "ministry"


def test_holder_and_unknown_accounts_cannot_decide__R_REN_6_R_ACC_1(
    ecert: Any, engine: Engine, tmp_path: Path, reviewers: None
) -> None:
    reg_no = import_holder(ecert, tmp_path, [("建筑工程", "2021-09-30")])
    res = ecert(
        "user", "add", "holder_zj", "--role", "holder", "--registration-no", reg_no, "--password-stdin",
        today="2021-01-01", input=PASSWORD,
    )  # fmt: skip
    assert res.exit_code == 0, res.stdout + res.stderr
    app_id = apply(ecert, reg_no, "建筑工程", today="2021-09-10")
    refused(
        ecert, engine, decide_args(app_id, approve=True, reviewer="holder_zj"), today="2021-09-12", code="forbidden"
    )
    refused(ecert, engine, decide_args(app_id, approve=True, reviewer="nobody"), today="2021-09-12", code="not_found")


def test_decision_records_reviewer_time_and_reason_in_the_row_and_the_audit_log__R_REN_6(
    ecert: Any, engine: Engine, tmp_path: Path, reviewers: None
) -> None:
    reg_no = import_holder(ecert, tmp_path, [("建筑工程", "2021-09-30"), ("公路工程", "2021-09-30")])
    rejected = apply(ecert, reg_no, "建筑工程", today="2021-09-10")
    approved = apply(ecert, reg_no, "公路工程", today="2021-09-10")
    decide(ecert, rejected, today="2021-09-12", approve=False, reason="  继续教育学时证明缺失  ")
    decide(ecert, approved, today="2021-09-13", approve=True, reason="材料齐全")

    for app_id, status, day, reason in (
        (rejected, "rejected", date(2021, 9, 12), "继续教育学时证明缺失"),
        (approved, "approved", date(2021, 9, 13), "材料齐全"),
    ):
        row = application(engine, app_id)
        assert (row.status, row.decided_by, row.reason) == (status, "rev_zj", reason)
        assert row.decided_at is not None and cst_date_of(row.decided_at) == day

    with engine.connect() as conn:
        events = conn.execute(
            select(audit_events).where(audit_events.c.action.in_(["renewal.rejected", "renewal.approved"]))
        ).all()
        assert AuditLog(conn).verify() is None  # the chain is intact
    by_app = {json.loads(e.payload)["application_id"]: e for e in events}
    assert set(by_app) == {rejected, approved}
    rej, apr = by_app[rejected], by_app[approved]
    assert (rej.actor, rej.action, rej.subject) == ("rev_zj", "renewal.rejected", reg_no)
    assert (apr.actor, apr.action, apr.subject) == ("rev_zj", "renewal.approved", reg_no)
    assert json.loads(rej.payload)["reason"] == "继续教育学时证明缺失"
    assert json.loads(apr.payload)["reason"] == "材料齐全"
    assert cst_date_of(rej.at) == date(2021, 9, 12) and cst_date_of(apr.at) == date(2021, 9, 13)
    assert json.loads(apr.payload)["after"] == {"公路工程": "2024-09-12"}


def test_rejection_needs_a_reason__R_REN_6(ecert: Any, engine: Engine, tmp_path: Path, reviewers: None) -> None:
    reg_no = import_holder(ecert, tmp_path, [("建筑工程", "2021-09-30")])
    app_id = apply(ecert, reg_no, "建筑工程", today="2021-09-10")
    for reason in (None, "   "):
        refused(
            ecert,
            engine,
            decide_args(app_id, approve=False, reviewer="rev_zj", reason=reason),
            today="2021-09-12",
            code="bad_input",
            exit_code=2,
        )
    both = [*decide_args(app_id, approve=True, reviewer="rev_zj"), "--reject"]
    refused(ecert, engine, both, today="2021-09-12", code="bad_input", exit_code=2)


def test_a_second_decision_is_already_decided__R_REN_6(
    ecert: Any, engine: Engine, tmp_path: Path, reviewers: None
) -> None:
    combos = [(True, True), (True, False), (False, True), (False, False)]
    numbers = import_holders(ecert, tmp_path, [(date(1980, 5, 17), [("建筑工程", "2021-09-30")])] * len(combos))
    for reg_no, (first, second) in zip(numbers, combos, strict=True):
        app_id = apply(ecert, reg_no, "建筑工程", today="2021-09-10")
        decide(ecert, app_id, today="2021-09-12", approve=first, reason="第一次决定")
        for reviewer in ("rev_zj", "ministry"):
            refused(
                ecert,
                engine,
                decide_args(app_id, approve=second, reviewer=reviewer, reason="第二次决定"),
                today="2021-09-13",
                code="already_decided",
                rule="R-REN-6",
            )
        row = application(engine, app_id)
        assert (row.status, row.reason) == ("approved" if first else "rejected", "第一次决定")


def test_approval_supersedes_an_earlier_certificate__R_REN_6_R_CHG_1(
    ecert: Any, engine: Engine, tmp_path: Path, reviewers: None
) -> None:
    assert ecert("init", "--json").exit_code == 0
    reg_no = import_holder(ecert, tmp_path, [("建筑工程", "2021-03-20"), ("机电工程", "2023-05-01")])
    sig = tmp_path / "sig.png"
    sig.write_bytes(signature_png("王建国"))
    assert ecert("holder", "set-signature", reg_no, str(sig), "--json", today="2021-03-01").exit_code == 0
    old = tmp_path / "old.pdf"
    res = ecert("cert", "issue", reg_no, "--confirm", "--out", str(old), "--json", today="2021-03-01")
    assert res.exit_code == 0, res.stdout + res.stderr
    assert res.json()["usage_until"] == "2021-03-20"  # capped by the earliest specialty end (R-USE-2)

    app_id = apply(ecert, reg_no, "建筑工程", today="2021-03-02")
    assert ecert("verify", str(old), "--json", today="2021-03-05").json()["status"] == "valid"  # applying is no change
    decide(ecert, app_id, today="2021-03-05")
    v = ecert("verify", str(old), "--json", today="2021-03-05").json()
    assert v["status"] == "superseded", v
    current = {s["specialty"]: s["valid_until"] for s in v["current"]["specialties"]}
    assert current["建筑工程"] == "2024-03-04"  # R-CHG-3: the registry's current data

    new = tmp_path / "new.pdf"
    res = ecert("cert", "issue", reg_no, "--confirm", "--out", str(new), "--json", today="2021-03-05")
    assert res.exit_code == 0, res.stdout + res.stderr
    assert ecert("verify", str(new), "--json", today="2021-03-05").json()["status"] == "valid"


def test_rejection_does_not_supersede_certificates__R_REN_6(
    ecert: Any, engine: Engine, tmp_path: Path, reviewers: None
) -> None:
    reg_no = import_holder(ecert, tmp_path, [("建筑工程", "2021-09-30")])
    version = data_version(engine, reg_no)
    app_id = apply(ecert, reg_no, "建筑工程", today="2021-09-10")
    decide(ecert, app_id, today="2021-09-12", approve=False, reason="材料不全")
    assert data_version(engine, reg_no) == version


def test_one_pending_application_per_specialty__R_REN_1(
    ecert: Any, engine: Engine, tmp_path: Path, reviewers: None
) -> None:
    reg_no = import_holder(ecert, tmp_path, [("建筑工程", "2021-09-30"), ("公路工程", "2021-09-30")])
    first = apply(ecert, reg_no, "建筑工程", today="2021-09-10")
    refused(ecert, engine, apply_args(reg_no, "建筑工程"), today="2021-09-11", code="application_pending")
    # A multi-specialty application with one pending specialty is refused whole: 公路工程 not applied for.
    refused(ecert, engine, apply_args(reg_no, "公路工程", "建筑工程"), today="2021-09-11", code="application_pending")
    other = apply(ecert, reg_no, "公路工程", today="2021-09-11")  # another specialty is independent
    assert other != first
    decide(ecert, first, today="2021-09-12", approve=False, reason="材料不全")
    assert apply(ecert, reg_no, "建筑工程", today="2021-09-13") not in (first, other)  # decided: free again


def test_unknown_application_registration_or_specialty_is_refused__contract_renewal(
    ecert: Any, engine: Engine, tmp_path: Path, reviewers: None
) -> None:
    reg_no = import_holder(ecert, tmp_path, [("建筑工程", "2021-09-30")])
    refused(ecert, engine, decide_args(987654, approve=True, reviewer="rev_zj"), today="2021-09-12", code="not_found")
    unknown = make_registration_no("浙", "33", 2010, 2012, 4242)
    refused(ecert, engine, apply_args(unknown, "建筑工程"), today="2021-09-12", code="not_found")
    refused(
        ecert, engine, apply_args(reg_no, "公路工程"), today="2021-09-12", code="specialty_not_registered"
    )  # registered only for 建筑工程
    refused(
        ecert, engine, apply_args(reg_no, "建筑工程", "建筑工程"), today="2021-09-12", code="bad_input", exit_code=2
    )


def test_multi_specialty_application_approved_updates_both__R_REN_5(
    ecert: Any, engine: Engine, tmp_path: Path, reviewers: None
) -> None:
    reg_no = import_holder(
        ecert, tmp_path, [("建筑工程", "2021-09-30"), ("机电工程", "2021-10-05"), ("公路工程", "2023-01-01")]
    )
    app_id = apply(ecert, reg_no, "建筑工程", "机电工程", today="2021-09-10")
    assert set(items(engine, app_id)) == {"建筑工程", "机电工程"}
    out = decide(ecert, app_id, today="2021-09-20")
    assert sorted(out["specialties"], key=lambda s: s["specialty"]) == sorted(
        [
            {"specialty": "建筑工程", "valid_until": "2024-09-19"},
            {"specialty": "机电工程", "valid_until": "2024-09-19"},
        ],
        key=lambda s: s["specialty"],
    )
    assert stored(engine, reg_no) == {
        "建筑工程": (date(2024, 9, 19), "valid", None),
        "机电工程": (date(2024, 9, 19), "valid", None),
        "公路工程": (date(2023, 1, 1), "valid", None),
    }
    assert {s: i.status for s, i in items(engine, app_id).items()} == {"建筑工程": "approved", "机电工程": "approved"}


def test_multi_specialty_application_needs_every_specialty_in_its_window__R_REN_1(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    # 机电工程 opens on 2021-10-06: a joint application on 2021-10-05 is refused whole.
    reg_no = import_holder(ecert, tmp_path, [("建筑工程", "2021-10-20"), ("机电工程", "2021-11-05")])
    refused(
        ecert, engine, apply_args(reg_no, "建筑工程", "机电工程"), today="2021-10-05", code="outside_renewal_window"
    )
    app_id = apply(ecert, reg_no, "建筑工程", "机电工程", today="2021-10-06")
    assert set(items(engine, app_id)) == {"建筑工程", "机电工程"}
