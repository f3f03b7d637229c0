"""The age limit: the 65th birthday (R-DATE-2) and "reached 65" from that day on (R-USE-4, R-REN-5)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecert.domain.policy import Policy
from ecert.domain.rules.age import age_limit_date, has_reached_age_limit, latest_birth_date_reaching_limit_by

# (birth date, 65th birthday)
BIRTHDAYS = [
    pytest.param(date(1960, 5, 10), date(2025, 5, 10), id="born_10_may"),
    pytest.param(date(1960, 2, 29), date(2025, 2, 28), id="born_29_february"),
]


@pytest.mark.parametrize(("birth", "limit"), BIRTHDAYS)
def test_age_limit_date_is_the_65th_birthday__R_DATE_2(policy: Policy, birth: date, limit: date) -> None:
    assert age_limit_date(birth, policy) == limit


@pytest.mark.parametrize(("birth", "limit"), BIRTHDAYS)
@pytest.mark.parametrize(
    ("days_after_limit", "reached"),
    [
        pytest.param(-1, False, id="day_before"),
        pytest.param(0, True, id="birthday"),
        pytest.param(1, True, id="day_after"),
    ],
)
def test_age_limit_reached_on_the_65th_birthday_itself__R_DATE_2(
    policy: Policy, birth: date, limit: date, days_after_limit: int, reached: bool
) -> None:
    assert has_reached_age_limit(birth, limit + timedelta(days=days_after_limit), policy) is reached


def test_age_limit_is_policy(make_policy: Callable[[Any], Policy]) -> None:
    p = make_policy({"age": {"limit_years": 60}})
    assert age_limit_date(date(1960, 2, 29), p) == date(2020, 2, 29)  # a leap year keeps 29 Feb
    assert not has_reached_age_limit(date(1960, 5, 10), date(2020, 5, 9), p)
    assert has_reached_age_limit(date(1960, 5, 10), date(2020, 5, 10), p)


@pytest.mark.parametrize(
    ("day", "cutoff"),
    [
        (date(2025, 5, 10), date(1960, 5, 10)),
        (date(2025, 2, 28), date(1960, 2, 29)),  # born 29 Feb 1960 turns 65 on 28 Feb 2025 (R-DATE-2)
        (date(2025, 2, 27), date(1960, 2, 27)),
        (date(2024, 2, 29), date(1959, 2, 28)),
        (date(2024, 2, 28), date(1959, 2, 28)),
    ],
)
def test_latest_birth_date_reaching_limit_by__R_LAPSE_1(policy: Policy, day: date, cutoff: date) -> None:
    assert latest_birth_date_reaching_limit_by(day, policy) == cutoff


@given(
    birth=st.dates(min_value=date(1900, 1, 1), max_value=date(2010, 12, 31)),
    day=st.dates(min_value=date(1950, 1, 1), max_value=date(2080, 12, 31)),
    limit=st.sampled_from([60, 65, 70]),
)
def test_birth_cutoff_agrees_with_age_limit_date__R_LAPSE_1(
    make_policy: Callable[[Any], Policy], birth: date, day: date, limit: int
) -> None:
    p = make_policy({"age": {"limit_years": limit}})
    assert (age_limit_date(birth, p) <= day) is (birth <= latest_birth_date_reaching_limit_by(day, p))
