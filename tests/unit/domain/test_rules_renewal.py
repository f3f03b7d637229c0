"""Renewal registration 延续注册: R-REN-1, R-REN-2, R-REN-3, R-REN-4, R-REN-5."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecert.domain.dates import add_years
from ecert.domain.errors import RuleRefusal
from ecert.domain.model import Registration, RegistrationStatus, SpecialtyRegistration, SpecialtyState
from ecert.domain.policy import Policy
from ecert.domain.rules.renewal import check_renewal_application, renewed_validity_end

Reg = Callable[..., Registration]
Spec = Callable[..., SpecialtyRegistration]
D = timedelta(days=1)
END = date(2023, 7, 10)  # validity end used for the R-REN-1 window (opens 2023-06-10)
YOUNG = date(1980, 5, 10)


def _refusal(reg: Registration, today: date, policy: Policy, specialties: tuple[str, ...] = ("建筑工程",), **kw: Any):
    kw.setdefault("committed", True)
    try:
        check_renewal_application(reg, specialties, today, policy, **kw)
    except RuleRefusal as e:
        return e
    return None


# --- R-REN-1: window end − 30 … end, inclusive ------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "ok"),
    [
        (END - timedelta(days=31), False),
        (END - timedelta(days=30), True),
        (END - timedelta(days=29), True),
        (END - D, True),
        (END, True),
    ],
)
def test_renewal_window_is_end_minus_30_to_end_inclusive__R_REN_1(
    policy: Policy, make_reg: Reg, make_spec: Spec, today: date, ok: bool
) -> None:
    reg = make_reg(specialties=(make_spec(END),))
    err = _refusal(reg, today, policy)
    if ok:
        assert err is None
    else:
        assert err is not None
        assert (err.code, err.rule) == ("outside_renewal_window", "R-REN-1")
        assert err.params == {"specialty": "建筑工程", "valid_until": "2023-07-10", "opens": "2023-06-10"}


def test_renewal_the_day_after_the_end_is_refused_after_the_transition__R_REN_1(
    policy: Policy, make_reg: Reg, make_spec: Spec
) -> None:
    err = _refusal(make_reg(specialties=(make_spec(END),)), END + D, policy)
    assert err is not None and (err.code, err.rule) == ("specialty_lapsed", "R-REN-3")


def test_renewal_window_days_is_policy__R_REN_1(
    make_policy: Callable[[Any], Policy], make_reg: Reg, make_spec: Spec
) -> None:
    p = make_policy({"renewal": {"window_days": 60}})
    reg = make_reg(specialties=(make_spec(END),))
    assert _refusal(reg, END - timedelta(days=60), p) is None
    err = _refusal(reg, END - timedelta(days=61), p)
    assert err is not None and err.code == "outside_renewal_window"


def test_every_requested_specialty_must_be_in_its_window__R_REN_1(
    policy: Policy, make_reg: Reg, make_spec: Spec
) -> None:
    reg = make_reg(specialties=(make_spec(END), make_spec(date(2024, 1, 31), "公路工程")))
    assert _refusal(reg, END, policy, ("建筑工程",)) is None
    err = _refusal(reg, END, policy, ("建筑工程", "公路工程"))
    assert err is not None and err.code == "outside_renewal_window" and err.params["specialty"] == "公路工程"


@pytest.mark.parametrize(
    ("specialties", "code"),
    [(("机电工程",), "specialty_not_registered"), ((), "specialty_not_registered")],
)
def test_unregistered_or_no_specialty_refused__R_REN_1(
    policy: Policy, make_reg: Reg, make_spec: Spec, specialties: tuple[str, ...], code: str
) -> None:
    err = _refusal(make_reg(specialties=(make_spec(END),)), END, policy, specialties)
    assert err is not None and err.code == code


def test_pending_application_refuses_a_second_one__R_REN_1(policy: Policy, make_reg: Reg, make_spec: Spec) -> None:
    err = _refusal(make_reg(specialties=(make_spec(END, pending=True),)), END, policy)
    assert err is not None and err.code == "application_pending"


@pytest.mark.parametrize(
    "status", [RegistrationStatus.CANCELLED, RegistrationStatus.REVOKED, RegistrationStatus.SUSPENDED]
)
def test_inactive_registration_refused__R_REN_1(
    policy: Policy, make_reg: Reg, make_spec: Spec, status: RegistrationStatus
) -> None:
    err = _refusal(make_reg(status=status, specialties=(make_spec(END),)), END, policy, committed=False)
    assert err is not None and err.code == "registration_inactive" and err.params["status"] == status.value


# --- R-REN-2: transitional, already expired may apply until 2021-06-30 inclusive --------------------


@pytest.mark.parametrize("valid_until", [date(2018, 3, 1), date(2021, 5, 31), date(2021, 6, 29)])
def test_expired_specialty_may_apply_until_2021_06_30_inclusive__R_REN_2(
    policy: Policy, make_reg: Reg, make_spec: Spec, valid_until: date
) -> None:
    reg = make_reg(specialties=(make_spec(valid_until),))
    assert _refusal(reg, date(2021, 6, 30), policy) is None
    err = _refusal(reg, date(2021, 7, 1), policy)
    assert err is not None and (err.code, err.rule) == ("specialty_lapsed", "R-REN-3")


@pytest.mark.parametrize(
    ("valid_until", "today", "code"),
    [
        (date(2021, 6, 30), date(2021, 6, 30), None),  # still valid, last day of its window
        (date(2021, 6, 30), date(2021, 7, 1), "specialty_lapsed"),
        (date(2021, 7, 1), date(2021, 7, 1), None),
        (date(2021, 7, 1), date(2021, 7, 2), "specialty_lapsed"),
        (date(2021, 7, 1), date(2021, 5, 31), "outside_renewal_window"),  # window opens 2021-06-01
        (date(2021, 7, 1), date(2021, 6, 1), None),
    ],
)
def test_specialties_ending_around_the_transition__R_REN_2(
    policy: Policy, make_reg: Reg, make_spec: Spec, valid_until: date, today: date, code: str | None
) -> None:
    err = _refusal(make_reg(specialties=(make_spec(valid_until),)), today, policy)
    assert (err.code if err else None) == code


def test_gap_between_deadline_and_lapse_start_refuses_expired__R_REN_2(
    make_policy: Callable[[Any], Policy], make_reg: Reg, make_spec: Spec
) -> None:
    p = make_policy({"renewal": {"transitional_deadline": date(2021, 6, 15)}})
    reg = make_reg(specialties=(make_spec(date(2021, 5, 31)),))
    assert _refusal(reg, date(2021, 6, 15), p) is None
    err = _refusal(reg, date(2021, 6, 16), p)
    assert err is not None and (err.code, err.rule) == ("outside_renewal_window", "R-REN-2")


# --- R-REN-3 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("stored", [SpecialtyState.LAPSED, SpecialtyState.CANCELLED])
def test_lapsed_or_cancelled_specialty_cannot_be_renewed__R_REN_3(
    policy: Policy, make_reg: Reg, make_spec: Spec, stored: SpecialtyState
) -> None:
    err = _refusal(make_reg(specialties=(make_spec(END, stored_state=stored),)), END, policy)
    assert err is not None and (err.code, err.rule) == ("specialty_lapsed", "R-REN-3")


# --- R-REN-4: commitment and continuing education -----------------------------------------------


def test_commitment_required__R_REN_4(policy: Policy, make_reg: Reg, make_spec: Spec) -> None:
    reg = make_reg(specialties=(make_spec(END),))
    err = _refusal(reg, END, policy, committed=False, ce_hours=200)
    assert err is not None and (err.code, err.rule) == ("commitment_required", "R-REN-4")


@pytest.mark.parametrize(("hours", "ok"), [(0, False), (119, False), (120, True), (121, True), (None, True)])
def test_ce_hours_below_120_refused__R_REN_4(
    policy: Policy, make_reg: Reg, make_spec: Spec, hours: int | None, ok: bool
) -> None:
    err = _refusal(make_reg(specialties=(make_spec(END),)), END, policy, ce_hours=hours)
    if ok:
        assert err is None
    else:
        assert err is not None and (err.code, err.rule) == ("ce_requirement_not_met", "R-REN-4")
        assert err.params == {"hours": hours, "required": 120}


def test_ce_hours_required_is_policy__R_REN_4(
    make_policy: Callable[[Any], Policy], make_reg: Reg, make_spec: Spec
) -> None:
    p = make_policy({"renewal": {"ce_hours_required": 90}})
    reg = make_reg(specialties=(make_spec(END),))
    assert _refusal(reg, END, p, ce_hours=90) is None
    err = _refusal(reg, END, p, ce_hours=89)
    assert err is not None and err.code == "ce_requirement_not_met"


def test_commitment_checked_before_hours__R_REN_4(policy: Policy, make_reg: Reg, make_spec: Spec) -> None:
    err = _refusal(make_reg(specialties=(make_spec(END),)), END, policy, committed=False, ce_hours=10)
    assert err is not None and err.code == "commitment_required"


# --- R-REN-5: new validity end ----------------------------------------------------------------------

BIRTH = date(1960, 5, 10)  # 65th birthday 2025-05-10
B65 = date(2025, 5, 10)


@pytest.mark.parametrize(
    ("approval", "end"),
    [
        (date(2021, 7, 1), date(2024, 6, 30)),
        (date(2022, 5, 10), date(2025, 5, 9)),  # 3 years before the birthday: the full term
        (date(2022, 5, 11), B65),  # 2 years 364 days before: term and birthday coincide
        (date(2022, 5, 12), B65),  # 2 years 363 days before: capped at the birthday
        (B65 - D, B65),
    ],
)
def test_new_end_is_approval_plus_3y_minus_1d_or_65th_birthday__R_REN_5(
    policy: Policy, approval: date, end: date
) -> None:
    assert renewed_validity_end(approval, BIRTH, policy) == end


@pytest.mark.parametrize("approval", [B65, B65 + D, date(2030, 1, 1)])
def test_no_approval_on_or_after_the_65th_birthday__R_REN_5(policy: Policy, approval: date) -> None:
    with pytest.raises(RuleRefusal) as info:
        renewed_validity_end(approval, BIRTH, policy)
    assert (info.value.code, info.value.rule) == ("age_limit", "R-REN-5")
    assert info.value.params == {"age65_date": "2025-05-10"}


@pytest.mark.parametrize(
    ("approval", "end"),
    [
        (date(2022, 2, 28), date(2025, 2, 27)),
        (date(2022, 3, 1), date(2025, 2, 28)),
        (date(2025, 2, 27), date(2025, 2, 28)),
    ],
)
def test_29_feb_birthday_caps_at_28_feb__R_REN_5(policy: Policy, approval: date, end: date) -> None:
    assert renewed_validity_end(approval, date(1960, 2, 29), policy) == end


def test_29_feb_birthday_refused_on_28_feb__R_REN_5(policy: Policy) -> None:
    with pytest.raises(RuleRefusal):
        renewed_validity_end(date(2025, 2, 28), date(1960, 2, 29), policy)


def test_approval_on_29_feb_gets_three_full_years__R_REN_5(policy: Policy) -> None:
    # A 29 Feb approval: the third anniversary is 2027-03-01 (no 29 Feb that year), so the last day
    # is 2027-02-28 — three full years, not a day short.
    assert renewed_validity_end(date(2024, 2, 29), YOUNG, policy) == date(2027, 2, 28)


def test_approval_on_1_mar_ends_on_29_feb_of_a_leap_year__R_REN_5(policy: Policy) -> None:
    assert renewed_validity_end(date(2025, 3, 1), YOUNG, policy) == date(2028, 2, 29)


def test_validity_years_is_policy__R_REN_5(make_policy: Callable[[Any], Policy]) -> None:
    p = make_policy({"renewal": {"validity_years": 5}})
    assert renewed_validity_end(date(2021, 7, 1), YOUNG, p) == date(2026, 6, 30)


@pytest.mark.parametrize(
    ("today", "code"), [(B65 - timedelta(days=31), "outside_renewal_window"), (B65 - D, None), (B65, "age_limit")]
)
def test_application_refused_on_the_65th_birthday__R_REN_5(
    policy: Policy, make_reg: Reg, make_spec: Spec, today: date, code: str | None
) -> None:
    reg = make_reg(birth=BIRTH, specialties=(make_spec(B65),))
    err = _refusal(reg, today, policy)
    assert (err.code if err else None) == code
    if err is not None and err.code == "age_limit":
        assert err.rule == "R-REN-5" and err.params == {"age65_date": "2025-05-10"}


def test_refusal_order_inactive_then_age_then_specialty_then_commitment(
    policy: Policy, make_reg: Reg, make_spec: Spec
) -> None:
    bad = {"committed": False, "ce_hours": 0}
    out = (make_spec(date(2030, 1, 1)),)  # outside its window
    assert _refusal(
        make_reg(birth=BIRTH, status=RegistrationStatus.REVOKED, specialties=out), B65, policy, **bad
    ).code == ("registration_inactive")
    assert _refusal(make_reg(birth=BIRTH, specialties=out), B65, policy, **bad).code == "age_limit"
    assert _refusal(make_reg(specialties=out), B65, policy, **bad).code == "outside_renewal_window"
    assert _refusal(make_reg(specialties=(make_spec(B65),)), B65, policy, **bad).code == "commitment_required"


# --- properties -----------------------------------------------------------------------------------


@given(
    approval=st.dates(min_value=date(2015, 1, 1), max_value=date(2045, 12, 31)),
    birth=st.dates(min_value=date(1945, 1, 1), max_value=date(2000, 12, 31)),
)
def test_renewed_end_never_after_65th_birthday_nor_beyond_3_years__R_REN_5(
    policy: Policy, approval: date, birth: date
) -> None:
    limit = add_years(birth, 65)
    if approval >= limit:
        with pytest.raises(RuleRefusal):
            renewed_validity_end(approval, birth, policy)
        return
    end = renewed_validity_end(approval, birth, policy)
    # Three full years: the last day is the day before the third anniversary, and the anniversary
    # of 29 February in a common year is 1 March (written out here, not taken from the code).
    try:
        anniversary = approval.replace(year=approval.year + 3)
    except ValueError:
        anniversary = date(approval.year + 3, 3, 1)
    assert approval <= end <= limit
    assert end <= anniversary - D
    assert (end - approval).days < 3 * 366
    assert end == limit or end == anniversary - D
