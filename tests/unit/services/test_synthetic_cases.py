"""The DEMO cases of the synthetic registry: rows the import accepts, dated relative to today, with
numbers that do not depend on the seed or the holder count, and the other holders unchanged."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from ecert.domain.dates import add_years
from ecert.services.registry_import import validate_row
from ecert.services.synthetic import (
    CASE_RARE_NAME,
    DEMO_CASES,
    HEADER,
    case_age_65_date,
    case_registration_no,
    generate_rows,
)

TODAY = date(2021, 9, 1)


def _by_holder(rows: list[list[str]]) -> dict[str, list[list[str]]]:
    out: dict[str, list[list[str]]] = {}
    for r in rows:
        out.setdefault(r[0], []).append(r)
    return out


def test_cases_replace_the_first_holders_and_leave_the_others_as_they_were() -> None:
    plain = _by_holder(list(generate_rows(50, today=TODAY)))
    with_cases = _by_holder(list(generate_rows(50, today=TODAY, cases=True)))
    assert list(with_cases)[: len(DEMO_CASES)] == [case_registration_no(c) for c in DEMO_CASES]
    others = {no: rows for no, rows in with_cases.items() if no not in {case_registration_no(c) for c in DEMO_CASES}}
    assert len(others) == 50 - len(DEMO_CASES)
    assert others == {no: rows for no, rows in plain.items() if no in others}


@pytest.mark.parametrize(("holders", "seed"), [(20, 1), (80, 2021)])
def test_case_rows_are_valid_import_rows_the_same_for_any_seed_and_holder_count(holders: int, seed: int) -> None:
    numbers = {case_registration_no(c) for c in DEMO_CASES}
    rows = [r for r in generate_rows(holders, today=TODAY, seed=seed, cases=True) if r[0] in numbers]
    reference = [r for r in generate_rows(40, today=TODAY, cases=True) if r[0] in numbers]
    assert rows == reference
    for n, row in enumerate(rows, start=2):
        staged, problems, _images = validate_row(n, dict(zip(HEADER, row, strict=True)), TODAY, Path("."))
        assert staged is not None and not problems, problems
    all_rows = list(generate_rows(2000, today=TODAY, cases=True))
    assert len({r[4] for r in all_rows}) == len({r[0] for r in all_rows})  # one ID number per holder


def test_case_dates_are_relative_to_today__R_REN_1_R_DATE_2() -> None:
    rows = _by_holder(list(generate_rows(20, today=TODAY, cases=True)))

    def until(case: str, specialty: str) -> date:
        (row,) = [r for r in rows[case_registration_no(case)] if r[7] == specialty]
        return date.fromisoformat(row[8])

    assert TODAY < until("renewal_pending", "建筑工程") <= TODAY + timedelta(days=30)  # inside the window
    assert until("specialty_expired", "公路工程") < TODAY < until("specialty_expired", "建筑工程")
    (age,) = rows[case_registration_no("age_65")]
    assert add_years(date.fromisoformat(age[3]), 65) == case_age_65_date(TODAY) == until("age_65", "建筑工程")
    assert rows[case_registration_no("rare_name")][0][1] == CASE_RARE_NAME


@pytest.mark.parametrize(
    ("today", "birthday"),
    [
        (date(2021, 9, 1), date(2021, 10, 31)),  # 60 days on, this year
        (date(2021, 12, 1), date(2021, 12, 31)),  # the year's last day
        (date(2021, 12, 20), date(2022, 1, 3)),  # too late in the year: two weeks on
    ],
)
def test_the_age_65_case_turns_65_this_year_when_it_can(today: date, birthday: date) -> None:
    assert case_age_65_date(today) == birthday
