"""The registration number (docs/rules.md "Registry data"): current and legacy forms, validation and
generation (domain/ids/registration_no.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ids_support import province_codes, refusal

from ecert.domain.ids.registration_no import RegistrationNo, make_registration_no, parse_registration_no
from ecert.domain.provinces import ALIASES, PROVINCES


@pytest.mark.parametrize(
    ("value", "parts"),
    [  # (province_code, legacy, first_employer_province, year_qualified, year_registered, serial)
        pytest.param("晋1142024202501467", ("14", False, "14", 2024, 2025, "01467"), id="current_form"),
        pytest.param(" 京111050700001 ", ("11", True, "11", 2005, 2007, "00001"), id="legacy_form"),
    ],
)
def test_example_parses__registry_data(value: str, parts: tuple[str, bool, str, int, int, str]) -> None:
    assert parse_registration_no(value) == RegistrationNo(value.strip(), *parts)


@pytest.mark.parametrize(
    ("value", "years"),
    [("沪131980500042", (1998, 2005)), ("沪131909100001", (1990, 1991)), ("沪131898900001", (2089, 2089))],
)
def test_legacy_two_digit_years_from_90_are_1900s__registry_data(value: str, years: tuple[int, int]) -> None:
    reg = parse_registration_no(value)
    assert (reg.year_qualified, reg.year_registered) == years


def test_province_comes_from_first_character_not_employer__registry_data() -> None:
    reg = parse_registration_no("浙1322019202000001")
    assert (reg.province_code, reg.first_employer_province) == ("33", "32")


@pytest.mark.parametrize(("alias", "canonical"), sorted(ALIASES.items()))
def test_alias_abbreviations_are_accepted__registry_data(alias: str, canonical: str) -> None:
    assert parse_registration_no(f"{alias}1112019202000001").province_code == PROVINCES[canonical][0]


def test_level_2_is_refused_as_second_class__registry_data() -> None:
    zh, en, column = refusal(parse_registration_no, "晋2142024202501467")
    assert column == "registration_no"
    assert "二级" in zh and "second-class" in en


def test_other_level_is_refused__registry_data() -> None:
    zh, en, _ = refusal(parse_registration_no, "晋3142024202501467")
    assert "应为 1" in zh and "must be 1" in en


@pytest.mark.parametrize("value", ["港1142024202501467", "X1142024202501467", "11142024202501467"])
def test_unknown_abbreviation_is_refused__registry_data(value: str) -> None:
    zh, en, _ = refusal(parse_registration_no, value)
    assert "省份简称" in zh and "abbreviation" in en


@pytest.mark.parametrize("value", ["晋114202420250146", "晋11420242025014670", "晋11105070000"])
def test_wrong_length_is_refused__registry_data(value: str) -> None:
    zh, en, _ = refusal(parse_registration_no, value)
    assert f"实际为 {len(value)} 位" in zh and f"got {len(value)}" in en


def test_non_digit_names_its_position__registry_data() -> None:
    zh, en, _ = refusal(parse_registration_no, "晋11420242O2501467")
    assert "第 10 位" in zh and "character 10" in en


def test_unknown_employer_province_is_refused__registry_data() -> None:
    zh, en, _ = refusal(parse_registration_no, "晋1992024202501467")
    assert "99" in zh and "99" in en and "first employer" in en


def test_registered_before_qualified_is_refused__registry_data() -> None:
    zh, en, _ = refusal(parse_registration_no, "晋1142025202401467")
    assert "2024" in zh and "2025" in zh and "before" in en


@pytest.mark.parametrize("value", ["晋1141989202501467", "晋1142024210101467"])
def test_year_out_of_range_is_refused__registry_data(value: str) -> None:
    zh, en, _ = refusal(parse_registration_no, value)
    assert "1990" in zh and "2100" in en


@given(
    st.sampled_from(sorted(PROVINCES)),
    province_codes,
    st.integers(1990, 2100),
    st.integers(0, 110),
    st.integers(0, 99999),
)
def test_make_then_parse_gives_back_the_parts__registry_data(
    abbr: str, employer: str, qualified: int, gap: int, serial: int
) -> None:
    registered = min(qualified + gap, 2100)
    value = make_registration_no(abbr, employer, qualified, registered, serial)
    assert parse_registration_no(value) == RegistrationNo(
        value=value,
        province_code=PROVINCES[abbr][0],
        legacy=False,
        first_employer_province=employer,
        year_qualified=qualified,
        year_registered=registered,
        serial=f"{serial:05d}",
    )
