"""The resident ID number, GB 11643: validation, the parts it encodes, generation (domain/ids/id_number.py)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ids_support import DIGITS, province_codes, refusal, rejects

from ecert.domain.errors import BadInput
from ecert.domain.ids.id_number import (
    IdNumber,
    check_id_matches,
    id_number_check_char,
    make_id_number,
    parse_id_number,
)
from ecert.domain.model import Gender

# The two examples printed in GB 11643-1999 itself.
GB11643_EXAMPLES = ("11010519491231002X", "440524188001010014")

area_codes = st.builds(lambda p, rest: p + rest, province_codes, st.text(DIGITS, min_size=4, max_size=4))
birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31))
genders = st.sampled_from(list(Gender))
valid_id_numbers = st.builds(make_id_number, area_codes, birth_dates, st.integers(0, 99), genders)


@pytest.mark.parametrize("value", GB11643_EXAMPLES)
def test_standard_examples_validate__GB11643(value: str) -> None:
    idn = parse_id_number(value)
    assert idn.value == value
    assert id_number_check_char(value[:17]) == value[17]


def test_parts_are_decoded__GB11643() -> None:
    assert parse_id_number("11010519491231002X") == IdNumber(
        value="11010519491231002X", area_code="110105", birth_date=date(1949, 12, 31), gender=Gender.FEMALE
    )
    assert parse_id_number("440524188001010014") == IdNumber(
        value="440524188001010014", area_code="440524", birth_date=date(1880, 1, 1), gender=Gender.MALE
    )


def test_lowercase_x_is_accepted_and_normalized__GB11643() -> None:
    assert parse_id_number("11010519491231002x").value == "11010519491231002X"


def test_surrounding_whitespace_is_ignored__GB11643() -> None:
    assert parse_id_number(" \t11010519491231002X \n").value == "11010519491231002X"


def test_wrong_check_digit_says_expected_and_actual__GB11643() -> None:
    assert refusal(parse_id_number, "110105194912310023") == (
        "身份证号校验位应为 X,实际为 3",
        "ID number check digit should be X, got 3",
        "id_number",
    )


@pytest.mark.parametrize("value", ["11010519491231002", "11010519491231002X0", ""])
def test_wrong_length_is_refused__GB11643(value: str) -> None:
    zh, en, column = refusal(parse_id_number, value)
    assert column == "id_number"
    assert f"实际为 {len(value)} 位" in zh
    assert "18 characters" in en and f"got {len(value)}" in en


@pytest.mark.parametrize(("value", "pos", "char"), [("1101A519491231002X", 5, "A"), ("11010519491231００2X", 15, "０")])
def test_bad_character_names_its_position__GB11643(value: str, pos: int, char: str) -> None:
    zh, en, _ = refusal(parse_id_number, value)
    assert f"第 {pos} 位" in zh and char in zh
    assert f"character {pos}" in en and repr(char) in en


def test_bad_check_character_is_refused__GB11643() -> None:
    zh, en, _ = refusal(parse_id_number, "11010519491231002Y")
    assert "第 18 位" in zh and "digit or X" in en


def test_unknown_province_code_is_refused__GB11643() -> None:
    first17 = "99010519491231002"
    zh, en, _ = refusal(parse_id_number, first17 + id_number_check_char(first17))
    assert "99" in zh and "省级行政区划代码" in zh
    assert "99" in en and "province code" in en


@pytest.mark.parametrize("birth", ["19490230", "19491301", "19490001", "17991231"])
def test_impossible_birth_date_is_refused__GB11643(birth: str) -> None:
    first17 = f"110105{birth}002"
    zh, en, _ = refusal(parse_id_number, first17 + id_number_check_char(first17))
    assert "出生" in zh and "birth" in en


def test_matching_record_passes__GB11643() -> None:
    check_id_matches(parse_id_number("11010519491231002X"), date(1949, 12, 31), Gender.FEMALE)


def test_birth_date_mismatch_names_both_values__GB11643() -> None:
    idn = parse_id_number("11010519491231002X")
    zh, en, column = refusal(check_id_matches, idn, date(1950, 1, 1), Gender.FEMALE)
    assert column == "id_number"
    assert "1949-12-31" in zh and "1950-01-01" in zh
    assert "1949-12-31" in en and "1950-01-01" in en


def test_gender_mismatch_names_both_values__GB11643() -> None:
    idn = parse_id_number("11010519491231002X")
    zh, en, _ = refusal(check_id_matches, idn, date(1949, 12, 31), Gender.MALE)
    assert "女" in zh and "男" in zh
    # English names both in words of the catalogue, with no Chinese left in it (issue 10).
    assert "Female" in en and "Male" in en.replace("Female", "")
    assert "女" not in en and "男" not in en


def test_both_mismatches_are_reported__GB11643() -> None:
    with pytest.raises(BadInput) as exc:
        check_id_matches(parse_id_number("440524188001010014"), date(1880, 1, 2), Gender.FEMALE)
    assert len(exc.value.problems) == 2


@given(area_codes, birth_dates, st.integers(0, 99), genders)
def test_make_then_parse_gives_back_the_parts__GB11643(area: str, born: date, seq: int, gender: Gender) -> None:
    value = make_id_number(area, born, seq, gender)
    assert parse_id_number(value) == IdNumber(value=value, area_code=area, birth_date=born, gender=gender)
    assert value[14:16] == f"{seq:02d}"


@given(valid_id_numbers)
def test_every_single_character_change_is_rejected__GB11643(value: str) -> None:
    for i in range(18):
        alphabet = DIGITS + ("X" if i == 17 else "")
        for c in alphabet:
            if c != value[i]:
                assert rejects(parse_id_number, value[:i] + c + value[i + 1 :]), (value, i, c)


@given(valid_id_numbers)
def test_adjacent_transposition_is_rejected__GB11643(value: str) -> None:
    for i in range(17):
        if value[i] != value[i + 1]:
            swapped = value[:i] + value[i + 1] + value[i] + value[i + 2 :]
            assert rejects(parse_id_number, swapped), (value, i)


def test_check_character_is_the_weighted_sum_mod_11__GB11643() -> None:
    """The check sum is computed in base 13 (domain/ids/id_number.py); it must be the standard's
    weighted sum, digit by digit."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)  # GB 11643: 2**(18 - i) mod 11
    for pos in range(17):
        for d in range(10):
            digits = "0" * pos + str(d) + "0" * (16 - pos)
            assert id_number_check_char(digits) == "10X98765432"[weights[pos] * d % 11]
