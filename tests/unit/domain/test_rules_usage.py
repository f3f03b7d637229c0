"""Usage window (R-USE-2) and download refusals (R-USE-4)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ecert.domain.dates import add_years
from ecert.domain.errors import RuleRefusal
from ecert.domain.model import Registration, RegistrationStatus, SpecialtyRegistration, SpecialtyState
from ecert.domain.policy import Policy
from ecert.domain.rules.usage import download_refusal, printable_specialties, usage_window

Reg = Callable[..., Registration]
Spec = Callable[..., SpecialtyRegistration]
D = timedelta(days=1)
TODAY = date(2023, 3, 1)  # + 180 days = 2023-08-28
FULL = date(2023, 8, 28)


# --- R-USE-2: the window ---------------------------------------------------------------------------


def test_usage_window_is_today_plus_180_days__R_USE_2(policy: Policy, make_reg: Reg) -> None:
    w = usage_window(make_reg(), TODAY, policy)
    assert (w.usage_from, w.usage_until) == (TODAY, FULL)
    assert w.contains(TODAY) and w.contains(FULL)
    assert not w.contains(TODAY - D) and not w.contains(FULL + D)


@pytest.mark.parametrize(
    ("spec_end", "until"),
    [(FULL - D, FULL - D), (FULL, FULL), (FULL + D, FULL), (TODAY, TODAY)],
)
def test_usage_window_capped_by_earliest_specialty_end__R_USE_2(
    policy: Policy, make_reg: Reg, make_spec: Spec, spec_end: date, until: date
) -> None:
    reg = make_reg(specialties=(make_spec(date(2030, 1, 1), "公路工程"), make_spec(spec_end)))
    assert usage_window(reg, TODAY, policy).usage_until == until


BIRTH = date(1958, 5, 10)
B65 = date(2023, 5, 10)


@pytest.mark.parametrize(
    ("today", "until"),
    [
        (B65 - timedelta(days=181), B65 - D),  # offset ends first
        (B65 - timedelta(days=180), B65),  # offset and birthday coincide
        (B65 - timedelta(days=179), B65),
        (B65 - D, B65),
    ],
)
def test_usage_window_capped_by_65th_birthday__R_USE_2(policy: Policy, make_reg: Reg, today: date, until: date) -> None:
    w = usage_window(make_reg(birth=BIRTH), today, policy)
    assert (w.usage_from, w.usage_until) == (today, until)


@pytest.mark.parametrize("today", [B65, B65 + D])
def test_no_window_on_or_after_the_65th_birthday__R_USE_2(policy: Policy, make_reg: Reg, today: date) -> None:
    with pytest.raises(RuleRefusal) as info:
        usage_window(make_reg(birth=BIRTH), today, policy)
    assert info.value.code == "age_limit"
    assert info.value.params == {"age65_date": "2023-05-10"}


@pytest.mark.parametrize(
    ("today", "until"), [(date(2025, 2, 26), date(2025, 2, 28)), (date(2025, 2, 27), date(2025, 2, 28))]
)
def test_usage_window_capped_by_28_feb_for_29_feb_birthday__R_USE_2(
    policy: Policy, make_reg: Reg, today: date, until: date
) -> None:
    assert usage_window(make_reg(birth=date(1960, 2, 29)), today, policy).usage_until == until


def test_no_window_on_28_feb_for_29_feb_birthday__R_DATE_2(policy: Policy, make_reg: Reg) -> None:
    err = download_refusal(make_reg(birth=date(1960, 2, 29)), date(2025, 2, 28), policy)
    assert err is not None and err.code == "age_limit" and err.params == {"age65_date": "2025-02-28"}


@pytest.mark.parametrize("key", ["浙", "33"])
def test_province_offset_179__R_USE_2(make_policy: Callable[[Any], Policy], make_reg: Reg, key: str) -> None:
    p = make_policy({"usage": {"province_offset_days": {key: 179}}})
    assert usage_window(make_reg(province="33"), TODAY, p).usage_until == FULL - D
    assert usage_window(make_reg(province="11"), TODAY, p).usage_until == FULL


def test_offset_179_everywhere__R_USE_2(make_policy: Callable[[Any], Policy], make_reg: Reg) -> None:
    p = make_policy({"usage": {"offset_days": 179}})
    assert usage_window(make_reg(), TODAY, p).usage_until == FULL - D


def test_specialty_cap_latest__R_USE_2(make_policy: Callable[[Any], Policy], make_reg: Reg, make_spec: Spec) -> None:
    p = make_policy({"usage": {"specialty_cap": "latest"}})
    reg = make_reg(specialties=(make_spec(date(2023, 4, 1)), make_spec(date(2023, 6, 1), "公路工程")))
    assert usage_window(reg, TODAY, p).usage_until == date(2023, 6, 1)
    assert usage_window(reg, TODAY, p).specialties == reg.specialties
    # The default caps by the earliest.
    assert usage_window(reg, TODAY, make_policy({})).usage_until == date(2023, 4, 1)


def test_specialty_cap_latest_still_capped_by_offset_and_birthday__R_USE_2(
    make_policy: Callable[[Any], Policy], make_reg: Reg, make_spec: Spec
) -> None:
    p = make_policy({"usage": {"specialty_cap": "latest"}})
    specs = (make_spec(date(2023, 4, 1)), make_spec(date(2030, 1, 1), "公路工程"))
    assert usage_window(make_reg(specialties=specs), TODAY, p).usage_until == FULL
    assert usage_window(make_reg(birth=BIRTH, specialties=specs), TODAY, p).usage_until == B65


def test_lapsed_specialties_are_not_printed_nor_cap_the_window__R_USE_4(
    policy: Policy, make_reg: Reg, make_spec: Spec
) -> None:
    valid = make_spec(date(2030, 1, 1))
    lapsed = make_spec(date(2023, 4, 1), "公路工程", stored_state=SpecialtyState.LAPSED)
    cancelled = make_spec(date(2023, 4, 2), "铁路工程", stored_state=SpecialtyState.CANCELLED)
    ended = make_spec(date(2023, 2, 28), "机电工程")  # lapses from 2023-03-01 (R-REN-3)
    reg = make_reg(specialties=(lapsed, valid, cancelled, ended))
    assert printable_specialties(reg, TODAY, policy) == (valid,)
    w = usage_window(reg, TODAY, policy)
    assert w.specialties == (valid,)
    assert w.usage_until == FULL


def test_expired_but_not_lapsed_specialty_is_not_printed__R_USE_4(
    policy: Policy, make_reg: Reg, make_spec: Spec
) -> None:
    held = make_spec(date(2023, 2, 1), "公路工程", pending=True)  # ended, lapse held by a pending renewal
    valid = make_spec(date(2030, 1, 1))
    reg = make_reg(specialties=(held, valid))
    assert printable_specialties(reg, TODAY, policy) == (valid,)
    only_held = make_reg(specialties=(held,))
    err = download_refusal(only_held, TODAY, policy)
    assert err is not None and err.code == "no_valid_specialty"


@pytest.mark.parametrize(("today", "printed"), [(date(2023, 4, 1), True), (date(2023, 4, 2), False)])
def test_specialty_printed_up_to_its_last_valid_day__R_USE_4(
    policy: Policy, make_reg: Reg, make_spec: Spec, today: date, printed: bool
) -> None:
    spec = make_spec(date(2023, 4, 1), "公路工程")
    reg = make_reg(specialties=(make_spec(date(2030, 1, 1)), spec))
    assert (spec in printable_specialties(reg, today, policy)) is printed


def test_renewable_specialty_is_printed__R_USE_4(policy: Policy, make_reg: Reg, make_spec: Spec) -> None:
    spec = make_spec(TODAY + timedelta(days=10))
    w = usage_window(make_reg(specialties=(spec,)), TODAY, policy)
    assert w.specialties == (spec,) and w.usage_until == TODAY + timedelta(days=10)


# --- R-USE-4: refusals and their order ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("province", "today", "refused"),
    [
        ("14", date(2021, 10, 14), True),  # 晋 before nationwide
        ("14", date(2021, 10, 15), False),
        ("33", date(2021, 1, 31), True),  # 浙 before the pilot
        ("33", date(2021, 2, 1), False),
    ],
)
def test_not_in_rollout_refused__R_SCOPE_1(
    policy: Policy, make_reg: Reg, make_spec: Spec, province: str, today: date, refused: bool
) -> None:
    err = download_refusal(make_reg(province=province), today, policy)
    if refused:
        assert err is not None and (err.code, err.rule) == ("not_in_rollout", "R-SCOPE-1")
        assert err.params == {"province": province, "today": today.isoformat()}
        with pytest.raises(RuleRefusal):
            usage_window(make_reg(province=province), today, policy)
    else:
        assert err is None
        assert usage_window(make_reg(province=province), today, policy).usage_from == today


@pytest.mark.parametrize(
    "status", [RegistrationStatus.CANCELLED, RegistrationStatus.REVOKED, RegistrationStatus.SUSPENDED]
)
def test_inactive_registration_refused__R_USE_4(policy: Policy, make_reg: Reg, status: RegistrationStatus) -> None:
    err = download_refusal(make_reg(status=status), TODAY, policy)
    assert err is not None and (err.code, err.rule) == ("registration_inactive", "R-USE-4")
    assert err.params == {"status": status.value}


def test_signature_missing_refused__R_USE_4(policy: Policy, make_reg: Reg) -> None:
    err = download_refusal(make_reg(signature=False), TODAY, policy)
    assert err is not None and (err.code, err.rule) == ("signature_missing", "R-USE-4")


def test_no_specialty_at_all_refused__R_USE_4(policy: Policy, make_reg: Reg) -> None:
    err = download_refusal(make_reg(specialties=()), TODAY, policy)
    assert err is not None and (err.code, err.rule) == ("no_valid_specialty", "R-USE-4")


def _order_case(level: int, make_reg: Reg, make_spec: Spec) -> Registration:
    """Every refusal from ``level`` on applies; those before it are cured."""
    return make_reg(
        province="14" if level <= 0 else "11",  # 晋: not in rollout before 2021-10-15
        status=RegistrationStatus.SUSPENDED if level <= 1 else RegistrationStatus.ACTIVE,
        birth=date(1956, 2, 29) if level <= 2 else date(1980, 5, 10),  # 65 on 2021-02-28
        specialties=(make_spec(date(2021, 1, 31), stored_state=SpecialtyState.LAPSED),)
        if level <= 3
        else (make_spec(date(2025, 1, 1)),),
        signature=level > 4,
    )


ORDER = ["not_in_rollout", "registration_inactive", "age_limit", "no_valid_specialty", "signature_missing", None]


@pytest.mark.parametrize("level", range(len(ORDER)))
def test_refusal_order_when_several_apply__R_USE_4(policy: Policy, make_reg: Reg, make_spec: Spec, level: int) -> None:
    err = download_refusal(_order_case(level, make_reg, make_spec), date(2021, 3, 1), policy)
    assert (err.code if err else None) == ORDER[level]


def test_refusal_order_each_pair__R_USE_4(policy: Policy, make_reg: Reg, make_spec: Spec) -> None:
    # Only two refusals at a time: the earlier in the order wins whichever pair applies.
    cures: dict[str, dict[str, Any]] = {
        "not_in_rollout": {"province": "14"},
        "registration_inactive": {"status": RegistrationStatus.REVOKED},
        "age_limit": {"birth": date(1956, 2, 29)},
        "no_valid_specialty": {"specialties": ()},
        "signature_missing": {"signature": False},
    }
    codes = list(cures)
    for i, first in enumerate(codes):
        for second in codes[i + 1 :]:
            reg = make_reg(**cures[first], **cures[second])
            err = download_refusal(reg, date(2021, 3, 1), policy)
            assert err is not None and err.code == first, (first, second)


# --- properties -----------------------------------------------------------------------------------

_days = st.dates(min_value=date(2021, 10, 15), max_value=date(2040, 12, 31))


@given(
    today=_days,
    days_to_65=st.one_of(st.integers(min_value=-30, max_value=450), st.integers(min_value=-20000, max_value=20000)),
    ends=st.lists(st.integers(min_value=-400, max_value=2000), min_size=1, max_size=4),
    offset=st.integers(min_value=1, max_value=400),
    zhejiang_offset=st.none() | st.integers(min_value=1, max_value=400),
    province=st.sampled_from(["11", "33"]),
    cap=st.sampled_from(["earliest", "latest"]),
    lapsed_first=st.booleans(),
)
def test_usage_window_bounds__R_USE_2(
    make_policy: Callable[[Any], Policy],
    make_reg: Reg,
    make_spec: Spec,
    today: date,
    days_to_65: int,
    ends: list[int],
    offset: int,
    zhejiang_offset: int | None,
    province: str,
    cap: str,
    lapsed_first: bool,
) -> None:
    usage: dict[str, Any] = {"offset_days": offset, "specialty_cap": cap}
    if zhejiang_offset is not None:
        usage["province_offset_days"] = {"浙": zhejiang_offset}
        if province == "33":
            offset = zhejiang_offset
    p = make_policy({"usage": usage})
    birth = add_years(today + timedelta(days=days_to_65), -65)  # 65th birthday near today + days_to_65
    specs = [make_spec(today + timedelta(days=d), f"s{i}") for i, d in enumerate(ends)]
    if lapsed_first:
        specs[0] = make_spec(specs[0].valid_until, "s0", stored_state=SpecialtyState.LAPSED)
    reg = make_reg(province=province, birth=birth, specialties=tuple(specs))
    refusal = download_refusal(reg, today, p)
    assume(refusal is None)
    w = usage_window(reg, today, p)
    printed_ends = [s.valid_until for s in w.specialties]
    capping = min(printed_ends) if cap == "earliest" else max(printed_ends)
    age65 = add_years(birth, 65)
    assert w.usage_from == today
    assert w.usage_until >= w.usage_from
    assert w.usage_until <= age65
    assert w.usage_until <= capping
    assert (w.usage_until - w.usage_from).days <= offset
    assert all(s.stored_state is SpecialtyState.VALID and s.valid_until >= today for s in w.specialties)
    # The window is the largest allowed: it ends exactly at the first cap.
    assert w.usage_until == min(today + timedelta(days=offset), capping, age65)
