"""Specialty state and lapse: R-DATE-1 (validity end is the last valid day), R-REN-3, R-LAPSE-1."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecert.domain.model import LapseReason, SpecialtyRegistration, SpecialtyState
from ecert.domain.policy import Policy
from ecert.domain.rules.lapse import is_currently_valid, lapse_due, renewal_window_opens, specialty_state

Spec = Callable[..., SpecialtyRegistration]
D = timedelta(days=1)
YOUNG = date(1980, 5, 10)  # 65 on 2045-05-10
OLD = date(1960, 5, 10)  # 65 on 2025-05-10
LEAP = date(1960, 2, 29)  # 65 on 2025-02-28 (R-DATE-2)

V, R, E, L, C = (
    SpecialtyState.VALID,
    SpecialtyState.RENEWABLE,
    SpecialtyState.EXPIRED,
    SpecialtyState.LAPSED,
    SpecialtyState.CANCELLED,
)


def test_renewal_window_opens_30_days_before_the_end__R_REN_1(policy: Policy) -> None:
    assert renewal_window_opens(date(2021, 7, 10), policy) == date(2021, 6, 10)
    assert renewal_window_opens(date(2024, 3, 1), policy) == date(2024, 1, 31)


@pytest.mark.parametrize(
    ("today", "state"),
    [
        (date(2023, 6, 9), V),  # end − 31
        (date(2023, 6, 10), R),  # end − 30: the renewal window opens
        (date(2023, 6, 11), R),
        (date(2023, 7, 10), R),  # the end date itself is still valid (R-DATE-1)
        (date(2023, 7, 11), L),  # ended from the day after, and lapses then (R-REN-3)
    ],
)
def test_state_around_the_validity_end__R_DATE_1(policy: Policy, make_spec: Spec, today: date, state: Any) -> None:
    assert specialty_state(make_spec(date(2023, 7, 10)), YOUNG, today, policy) is state


# --- R-REN-3: from 2021-07-01 ended specialties with no pending application lapse ------------------


@pytest.mark.parametrize(
    ("valid_until", "today", "state"),
    [
        (date(2021, 6, 30), date(2021, 6, 30), R),
        (date(2021, 6, 30), date(2021, 7, 1), L),
        (date(2021, 7, 1), date(2021, 6, 30), R),
        (date(2021, 7, 1), date(2021, 7, 1), R),
        (date(2021, 7, 1), date(2021, 7, 2), L),
        (date(2021, 5, 31), date(2021, 6, 30), E),  # ended before the lapse start: expired, not lapsed
        (date(2021, 5, 31), date(2021, 7, 1), L),
        (date(2019, 1, 1), date(2021, 6, 30), E),
        (date(2019, 1, 1), date(2021, 7, 1), L),
    ],
)
def test_ended_specialty_lapses_from_2021_07_01__R_REN_3(
    policy: Policy, make_spec: Spec, valid_until: date, today: date, state: Any
) -> None:
    spec = make_spec(valid_until)
    assert specialty_state(spec, YOUNG, today, policy) is state
    assert lapse_due(spec, YOUNG, today, policy) == (LapseReason.NO_RENEWAL if state is L else None)


@pytest.mark.parametrize("valid_until", [date(2021, 5, 31), date(2021, 6, 30), date(2021, 7, 1), date(2023, 1, 1)])
def test_pending_application_holds_the_lapse__R_REN_3(policy: Policy, make_spec: Spec, valid_until: date) -> None:
    spec = make_spec(valid_until, pending=True)
    for today in (valid_until + D, max(valid_until + D, date(2021, 7, 1)), valid_until + timedelta(days=400)):
        assert lapse_due(spec, YOUNG, today, policy) is None
        assert specialty_state(spec, YOUNG, today, policy) is E
    # The same specialty without the application lapses.
    after = max(valid_until + D, date(2021, 7, 1))
    assert lapse_due(make_spec(valid_until), YOUNG, after, policy) is LapseReason.NO_RENEWAL


def test_pending_application_does_not_hold_the_age_lapse__R_LAPSE_1(policy: Policy, make_spec: Spec) -> None:
    spec = make_spec(date(2025, 5, 10), pending=True)
    assert lapse_due(spec, OLD, date(2025, 5, 11), policy) is LapseReason.AGE_LIMIT


def test_lapse_start_is_policy__R_REN_3(make_policy: Callable[[Any], Policy], make_spec: Spec) -> None:
    p = make_policy({"renewal": {"transitional_deadline": date(2021, 9, 30), "lapse_start": date(2021, 10, 1)}})
    spec = make_spec(date(2021, 6, 30))
    assert specialty_state(spec, YOUNG, date(2021, 9, 30), p) is E
    assert specialty_state(spec, YOUNG, date(2021, 10, 1), p) is L


# --- R-LAPSE-1: holder reached 65 ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "today", "reason"),
    [
        (OLD, date(2025, 5, 9), None),
        (OLD, date(2025, 5, 10), None),  # validity is capped at the birthday itself: still valid that day
        (OLD, date(2025, 5, 11), LapseReason.AGE_LIMIT),
        (LEAP, date(2025, 2, 28), None),
        (LEAP, date(2025, 3, 1), LapseReason.AGE_LIMIT),
    ],
)
def test_age_lapse_from_the_day_after_the_65th_birthday__R_LAPSE_1(
    policy: Policy, make_spec: Spec, birth: date, today: date, reason: LapseReason | None
) -> None:
    spec = make_spec(date(2026, 12, 31))  # validity running past the birthday (data not yet capped)
    assert lapse_due(spec, birth, today, policy) is reason
    assert (specialty_state(spec, birth, today, policy) is L) is (reason is not None)


def test_age_lapse_takes_precedence_over_no_renewal__R_LAPSE_1(policy: Policy, make_spec: Spec) -> None:
    spec = make_spec(date(2025, 5, 10))
    assert lapse_due(spec, OLD, date(2025, 5, 11), policy) is LapseReason.AGE_LIMIT


def test_age_lapse_applies_before_the_lapse_start_too__R_LAPSE_1(policy: Policy, make_spec: Spec) -> None:
    # R-LAPSE-1's age ground has no start date (only R-REN-3's no-renewal ground does).
    spec = make_spec(date(2022, 12, 31))
    assert lapse_due(spec, date(1955, 5, 10), date(2020, 5, 11), policy) is LapseReason.AGE_LIMIT


@pytest.mark.parametrize("stored", [L, C])
def test_stored_lapsed_or_cancelled_is_final_and_never_due_again__R_LAPSE_1(
    policy: Policy, make_spec: Spec, stored: SpecialtyState
) -> None:
    spec = make_spec(date(2030, 12, 31), stored_state=stored)
    for today in (date(2021, 1, 1), date(2030, 12, 31), date(2031, 1, 1)):
        assert specialty_state(spec, YOUNG, today, policy) is stored
        assert lapse_due(spec, YOUNG, today, policy) is None  # idempotent sweep: nothing to do twice


def test_specialty_state_values(policy: Policy, make_spec: Spec) -> None:
    end = date(2023, 7, 10)
    seen = {
        specialty_state(make_spec(end), YOUNG, date(2023, 1, 1), policy),
        specialty_state(make_spec(end), YOUNG, date(2023, 7, 1), policy),
        specialty_state(make_spec(end, pending=True), YOUNG, date(2023, 8, 1), policy),
        specialty_state(make_spec(end), YOUNG, date(2023, 8, 1), policy),
        specialty_state(make_spec(end, stored_state=C), YOUNG, date(2023, 1, 1), policy),
    }
    assert {s.value for s in seen} == {"valid", "renewable", "expired", "lapsed", "cancelled"}


@pytest.mark.parametrize(("state", "valid"), [(V, True), (R, True), (E, False), (L, False), (C, False)])
def test_only_valid_and_renewable_count_as_currently_valid__R_USE_4(state: SpecialtyState, valid: bool) -> None:
    assert is_currently_valid(state) is valid


# --- properties ------------------------------------------------------------------------------------

_dates = st.dates(min_value=date(2015, 1, 1), max_value=date(2040, 12, 31))


@given(
    valid_until=_dates,
    birth=st.dates(min_value=date(1940, 1, 1), max_value=date(2000, 12, 31)),
    days_after=st.integers(min_value=1, max_value=3000),
    pending=st.booleans(),
)
def test_never_valid_or_renewable_after_valid_until__R_DATE_1(
    policy: Policy, make_spec: Spec, valid_until: date, birth: date, days_after: int, pending: bool
) -> None:
    today = valid_until + timedelta(days=days_after)
    state = specialty_state(make_spec(valid_until, pending=pending), birth, today, policy)
    assert state not in (V, R)
    assert not is_currently_valid(state)


@given(
    valid_until=_dates,
    birth=st.dates(min_value=date(1940, 1, 1), max_value=date(2000, 12, 31)),
    today=_dates,
    pending=st.booleans(),
)
def test_state_and_lapse_due_agree(
    policy: Policy, make_spec: Spec, valid_until: date, birth: date, today: date, pending: bool
) -> None:
    spec = make_spec(valid_until, pending=pending)
    state = specialty_state(spec, birth, today, policy)
    due = lapse_due(spec, birth, today, policy)
    assert (state is L) is (due is not None)
    if due is LapseReason.NO_RENEWAL:
        assert today > valid_until and today >= policy.lapse_start and not pending
    if today <= valid_until and due is None:
        assert state in (V, R)
