"""``ecert holder show REG_NO --json`` (docs/cli.md): keys, specialty states over time (R-REN-1, R-REN-3,
R-DATE-1), rollout scope (R-SCOPE-1), 65th birthday (R-DATE-2), unknown numbers."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from ecert.domain.ids import make_id_number, make_registration_no, make_uscc
from ecert.domain.model import Gender
from helpers_cli import add_pending_application, holder_no, import_rows

USCC = make_uscc("140100", "MA0BC1D2E")
CONTRACT_KEYS = {"registration_no", "name", "province", "status", "age65_date", "in_rollout", "specialties"}
SPECIALTY_KEYS = {"specialty", "valid_until", "state"}


def import_holder(
    ecert: Any,
    tmp_path: Path,
    specialties: list[tuple[str, str]],
    *,
    abbr: str = "浙",
    serial: int = 1,
    name: str = "张伟",
    birth: date = date(1980, 5, 17),
    gender: Gender = Gender.MALE,
    today: str = "2021-01-01",
) -> str:
    reg_no = holder_no(serial, abbr)
    idn = make_id_number(f"{reg_no[2:4]}0102", birth, serial % 100, gender)  # born where first employed
    rows = [
        [reg_no, name, gender.value, birth.isoformat(), idn, "某某建设集团有限公司", USCC, specialty, valid_until]
        for specialty, valid_until in specialties
    ]
    import_rows(ecert, tmp_path / f"holder-{serial}.csv", rows, today=today)
    return reg_no


def show(ecert: Any, reg_no: str, today: str) -> dict[str, Any]:
    res = ecert("holder", "show", reg_no, "--json", today=today)
    assert res.exit_code == 0, res.stdout + res.stderr
    out: dict[str, Any] = res.json()
    return out


def states(ecert: Any, reg_no: str, today: str) -> dict[str, str]:
    return {s["specialty"]: s["state"] for s in show(ecert, reg_no, today)["specialties"]}


def test_holder_show_has_the_contract_keys__contract_holder_show(ecert: Any, engine: Engine, tmp_path: Path) -> None:
    reg_no = import_holder(
        ecert, tmp_path, [("建筑工程", "2023-06-30"), ("机电工程", "2022-12-31")], abbr="浙", name="李䶮"
    )
    res = ecert("holder", "show", reg_no, "--json", today="2021-03-01")
    assert res.exit_code == 0
    out = res.json()
    assert out.keys() >= CONTRACT_KEYS
    assert out["registration_no"] == reg_no
    assert out["name"] == "李䶮"
    assert out["province"] == "浙"
    assert out["status"] == "active"
    assert out["age65_date"] == "2045-05-17"
    assert out["in_rollout"] is True
    assert isinstance(out["specialties"], list) and len(out["specialties"]) == 2
    for s in out["specialties"]:
        assert s.keys() >= SPECIALTY_KEYS
    assert {(s["specialty"], s["valid_until"], s["state"]) for s in out["specialties"]} == {
        ("建筑工程", "2023-06-30", "valid"),
        ("机电工程", "2022-12-31", "valid"),
    }


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        ("2021-02-28", "valid"),  # 31 days before the end
        ("2021-03-01", "renewable"),  # end − 30 days: the window opens (R-REN-1)
        ("2021-03-31", "renewable"),  # the last valid day is still renewable (R-DATE-1)
        ("2021-04-01", "expired"),  # ended, but lapse only starts on 2021-07-01 (R-REN-2)
        ("2021-06-30", "expired"),
        ("2021-07-01", "lapsed"),  # R-REN-3, even before any sweep has run
        ("2022-01-01", "lapsed"),
    ],
)
def test_specialty_state_over_time__R_REN_1_R_REN_3_R_DATE_1(
    ecert: Any, engine: Engine, tmp_path: Path, today: str, expected: str
) -> None:
    reg_no = import_holder(ecert, tmp_path, [("建筑工程", "2021-03-31"), ("公路工程", "2025-01-01")])
    assert states(ecert, reg_no, today) == {"建筑工程": expected, "公路工程": "valid"}


def test_specialty_ending_after_lapse_start_lapses_the_day_after_its_end__R_DATE_1_R_REN_3(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    reg_no = import_holder(ecert, tmp_path, [("建筑工程", "2021-07-10")])
    assert [states(ecert, reg_no, d)["建筑工程"] for d in ("2021-06-09", "2021-06-10", "2021-07-10", "2021-07-11")] == [
        "valid",
        "renewable",
        "renewable",
        "lapsed",
    ]


def test_pending_renewal_shows_expired_instead_of_lapsed__R_REN_3(ecert: Any, engine: Engine, tmp_path: Path) -> None:
    reg_no = import_holder(ecert, tmp_path, [("建筑工程", "2021-07-10"), ("公路工程", "2021-07-10")])
    add_pending_application(engine, reg_no, "建筑工程", date(2021, 7, 1))
    assert states(ecert, reg_no, "2021-08-01") == {"建筑工程": "expired", "公路工程": "lapsed"}


@pytest.mark.parametrize(("today", "in_rollout"), [("2021-10-14", False), ("2021-10-15", True), ("2022-05-01", True)])
def test_in_rollout_for_a_non_pilot_province_from_nationwide_start__R_SCOPE_1(
    ecert: Any, engine: Engine, tmp_path: Path, today: str, in_rollout: bool
) -> None:
    reg_no = import_holder(ecert, tmp_path, [("矿业工程", "2024-01-01")], abbr="晋")
    out = show(ecert, reg_no, today)
    assert out["province"] == "晋"
    assert out["in_rollout"] is in_rollout


@pytest.mark.parametrize(("today", "in_rollout"), [("2021-01-31", False), ("2021-02-01", True)])
def test_in_rollout_for_a_pilot_province_from_pilot_start__R_SCOPE_1(
    ecert: Any, engine: Engine, tmp_path: Path, today: str, in_rollout: bool
) -> None:
    reg_no = import_holder(ecert, tmp_path, [("建筑工程", "2024-01-01")], abbr="琼", today="2021-01-01")
    assert show(ecert, reg_no, today)["in_rollout"] is in_rollout


def test_unknown_registration_number_is_not_found__contract_holder_show(ecert: Any, engine: Engine) -> None:
    unknown = make_registration_no("京", "11", 2010, 2012, 99999)
    res = ecert("holder", "show", unknown, "--json", today="2021-03-01")
    assert res.exit_code == 1
    err = res.json()["error"]
    assert err["code"] == "not_found"
    assert unknown in err["message"]
    text = ecert("holder", "show", unknown, today="2021-03-01")
    assert text.exit_code == 1
    assert "not_found" in text.stderr


def test_leap_day_birthday_gives_age65_date_on_28_february__R_DATE_2(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    reg_no = import_holder(ecert, tmp_path, [("建筑工程", "2025-02-28")], birth=date(1960, 2, 29))
    out = show(ecert, reg_no, "2021-03-01")
    assert out["age65_date"] == "2025-02-28"
    # Valid on the 65th birthday itself, lapsed (age) from the day after.
    assert states(ecert, reg_no, "2025-02-28") == {"建筑工程": "renewable"}
    assert states(ecert, reg_no, "2025-03-01") == {"建筑工程": "lapsed"}
