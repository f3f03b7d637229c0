"""Identifier validation and generation: GB 11643 (ID number), GB 32100 (USCC), the registration
number (docs/rules.md "Registry data") and the GB/T 36904 e-licence identifier (R-DOC-3)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecert.domain.errors import BadInput
from ecert.domain.ids import (
    ELICENCE_ROOT,
    ElicenceId,
    IdNumber,
    RegistrationNo,
    check_id_matches,
    elicence_check_char,
    id_number_check_char,
    make_elicence_id,
    make_id_number,
    make_registration_no,
    make_uscc,
    parse_elicence_id,
    parse_id_number,
    parse_registration_no,
    parse_uscc,
    uscc_check_char,
)
from ecert.domain.model import Gender
from ecert.domain.provinces import ALIASES, PROVINCE_CODES, PROVINCES

DIGITS = "0123456789"
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
EL_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

REAL_ELICENCE_IDS = (
    "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F",
    "1.2.156.3005.2.11100000000013338W087.11370800MB28559184.37080001202411010001.001.3",
    "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0",
)
# The two examples printed in GB 11643-1999 itself.
GB11643_EXAMPLES = ("11010519491231002X", "440524188001010014")
# Published USCCs: the documented example, 住房和城乡建设部 (inside the type codes above) and the
# three issuers of the real e-licence identifiers.
REAL_USCCS = (
    "91350100M000100Y43",
    "11100000000013338W",
    "11220000013544541J",
    "11370800MB28559184",
    "11330105002500287C",
)


def _bad(exc: pytest.ExceptionInfo[BadInput]) -> tuple[str, str, str | None]:
    """(zh, en, column) of the single problem carried by a BadInput."""
    assert len(exc.value.problems) == 1
    p = exc.value.problems[0]
    return p.message_zh, p.message_en, p.column


def _rejects(parse: Callable[[str], object], value: str) -> bool:
    try:
        parse(value)
    except BadInput:
        return True
    return False


# ---------------------------------------------------------------------------------------------- strategies

province_codes = st.sampled_from(sorted(PROVINCE_CODES))
area_codes = st.builds(lambda p, rest: p + rest, province_codes, st.text(DIGITS, min_size=4, max_size=4))
birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31))
genders = st.sampled_from(list(Gender))
valid_id_numbers = st.builds(make_id_number, area_codes, birth_dates, st.integers(0, 99), genders)

uscc_chars = st.sampled_from(USCC_CHARSET)
valid_usccs = st.builds(
    make_uscc,
    st.text(DIGITS, min_size=6, max_size=6),
    st.text(USCC_CHARSET, min_size=9, max_size=9),
    uscc_chars,
    uscc_chars,
)


# ---------------------------------------------------------------------------------------------- ID number


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
    with pytest.raises(BadInput) as exc:
        parse_id_number("110105194912310023")
    assert _bad(exc) == (
        "身份证号校验位应为 X,实际为 3",
        "ID number check digit should be X, got 3",
        "id_number",
    )


@pytest.mark.parametrize("value", ["11010519491231002", "11010519491231002X0", ""])
def test_wrong_length_is_refused__GB11643(value: str) -> None:
    with pytest.raises(BadInput) as exc:
        parse_id_number(value)
    zh, en, column = _bad(exc)
    assert column == "id_number"
    assert f"实际为 {len(value)} 位" in zh
    assert "18 characters" in en and f"got {len(value)}" in en


@pytest.mark.parametrize(("value", "pos", "char"), [("1101A519491231002X", 5, "A"), ("11010519491231００2X", 15, "０")])
def test_bad_character_names_its_position__GB11643(value: str, pos: int, char: str) -> None:
    with pytest.raises(BadInput) as exc:
        parse_id_number(value)
    zh, en, _ = _bad(exc)
    assert f"第 {pos} 位" in zh and char in zh
    assert f"character {pos}" in en and repr(char) in en


def test_bad_check_character_is_refused__GB11643() -> None:
    with pytest.raises(BadInput) as exc:
        parse_id_number("11010519491231002Y")
    zh, en, _ = _bad(exc)
    assert "第 18 位" in zh and "digit or X" in en


def test_unknown_province_code_is_refused__GB11643() -> None:
    first17 = "99010519491231002"
    with pytest.raises(BadInput) as exc:
        parse_id_number(first17 + id_number_check_char(first17))
    zh, en, _ = _bad(exc)
    assert "99" in zh and "省级行政区划代码" in zh
    assert "99" in en and "province code" in en


@pytest.mark.parametrize("birth", ["19490230", "19491301", "19490001", "17991231"])
def test_impossible_birth_date_is_refused__GB11643(birth: str) -> None:
    first17 = f"110105{birth}002"
    with pytest.raises(BadInput) as exc:
        parse_id_number(first17 + id_number_check_char(first17))
    zh, en, _ = _bad(exc)
    assert "出生" in zh and "birth" in en


def test_matching_record_passes__GB11643() -> None:
    check_id_matches(parse_id_number("11010519491231002X"), date(1949, 12, 31), Gender.FEMALE)


def test_birth_date_mismatch_names_both_values__GB11643() -> None:
    idn = parse_id_number("11010519491231002X")
    with pytest.raises(BadInput) as exc:
        check_id_matches(idn, date(1950, 1, 1), Gender.FEMALE)
    zh, en, column = _bad(exc)
    assert column == "id_number"
    assert "1949-12-31" in zh and "1950-01-01" in zh
    assert "1949-12-31" in en and "1950-01-01" in en


def test_gender_mismatch_names_both_values__GB11643() -> None:
    idn = parse_id_number("11010519491231002X")
    with pytest.raises(BadInput) as exc:
        check_id_matches(idn, date(1949, 12, 31), Gender.MALE)
    zh, en, _ = _bad(exc)
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
                assert _rejects(parse_id_number, value[:i] + c + value[i + 1 :]), (value, i, c)


@given(valid_id_numbers)
def test_adjacent_transposition_is_rejected__GB11643(value: str) -> None:
    for i in range(17):
        if value[i] != value[i + 1]:
            swapped = value[:i] + value[i + 1] + value[i] + value[i + 2 :]
            assert _rejects(parse_id_number, swapped), (value, i)


# ---------------------------------------------------------------------------------------------- USCC


@pytest.mark.parametrize("value", REAL_USCCS)
def test_published_codes_validate__GB32100(value: str) -> None:
    assert parse_uscc(value) == value
    assert uscc_check_char(value[:17]) == value[17]


def test_lowercase_is_normalized__GB32100() -> None:
    assert parse_uscc("  91350100m000100y43 ") == "91350100M000100Y43"


def test_wrong_check_character_says_expected_and_actual__GB32100() -> None:
    with pytest.raises(BadInput) as exc:
        parse_uscc("91350100M000100Y44")
    assert _bad(exc) == (
        "统一社会信用代码校验位应为 3,实际为 4",
        "Unified social credit code check character should be 3, got 4",
        "employer_uscc",
    )


def test_wrong_length_is_refused__GB32100() -> None:
    with pytest.raises(BadInput) as exc:
        parse_uscc("91350100M000100Y4")
    zh, en, _ = _bad(exc)
    assert "18 位" in zh and "实际为 17 位" in zh and "got 17" in en


@pytest.mark.parametrize(("value", "pos", "char"), [("91350100M000I00Y43", 13, "I"), ("913501O0M000100Y43", 7, "O")])
def test_bad_character_names_its_position__GB32100(value: str, pos: int, char: str) -> None:
    with pytest.raises(BadInput) as exc:
        parse_uscc(value)
    zh, en, _ = _bad(exc)
    assert f"第 {pos} 位" in zh and char in zh
    assert f"character {pos}" in en


def test_area_code_must_be_digits__GB32100() -> None:
    first17 = "9135A100M000100Y4"
    with pytest.raises(BadInput) as exc:
        parse_uscc(first17 + uscc_check_char(first17))
    zh, en, _ = _bad(exc)
    assert "第 5 位" in zh and "行政区划代码" in zh and "administrative area code" in en


@given(st.text(DIGITS, min_size=6, max_size=6), st.text(USCC_CHARSET, min_size=9, max_size=9), uscc_chars, uscc_chars)
def test_make_then_parse_gives_back_the_parts__GB32100(area: str, org: str, dept: str, kind: str) -> None:
    value = make_uscc(area, org, dept, kind)
    assert parse_uscc(value) == value
    assert value[:17] == dept + kind + area + org


@given(valid_usccs)
def test_every_single_character_change_is_rejected__GB32100(value: str) -> None:
    for i in range(18):
        for c in USCC_CHARSET:
            if c != value[i]:
                assert _rejects(parse_uscc, value[:i] + c + value[i + 1 :]), (value, i, c)


# ---------------------------------------------------------------------------------------------- registration number


def test_current_form_example_parses__registry_data() -> None:
    assert parse_registration_no("晋1142024202501467") == RegistrationNo(
        value="晋1142024202501467",
        province_code="14",
        legacy=False,
        first_employer_province="14",
        year_qualified=2024,
        year_registered=2025,
        serial="01467",
    )


def test_legacy_form_example_parses__registry_data() -> None:
    assert parse_registration_no(" 京111050700001 ") == RegistrationNo(
        value="京111050700001",
        province_code="11",
        legacy=True,
        first_employer_province="11",
        year_qualified=2005,
        year_registered=2007,
        serial="00001",
    )


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
    with pytest.raises(BadInput) as exc:
        parse_registration_no("晋2142024202501467")
    zh, en, column = _bad(exc)
    assert column == "registration_no"
    assert "二级" in zh and "second-class" in en


def test_other_level_is_refused__registry_data() -> None:
    with pytest.raises(BadInput) as exc:
        parse_registration_no("晋3142024202501467")
    zh, en, _ = _bad(exc)
    assert "应为 1" in zh and "must be 1" in en


@pytest.mark.parametrize("value", ["港1142024202501467", "X1142024202501467", "11142024202501467"])
def test_unknown_abbreviation_is_refused__registry_data(value: str) -> None:
    with pytest.raises(BadInput) as exc:
        parse_registration_no(value)
    zh, en, _ = _bad(exc)
    assert "省份简称" in zh and "abbreviation" in en


@pytest.mark.parametrize("value", ["晋114202420250146", "晋11420242025014670", "晋11105070000"])
def test_wrong_length_is_refused__registry_data(value: str) -> None:
    with pytest.raises(BadInput) as exc:
        parse_registration_no(value)
    zh, en, _ = _bad(exc)
    assert f"实际为 {len(value)} 位" in zh and f"got {len(value)}" in en


def test_non_digit_names_its_position__registry_data() -> None:
    with pytest.raises(BadInput) as exc:
        parse_registration_no("晋11420242O2501467")
    zh, en, _ = _bad(exc)
    assert "第 10 位" in zh and "character 10" in en


def test_unknown_employer_province_is_refused__registry_data() -> None:
    with pytest.raises(BadInput) as exc:
        parse_registration_no("晋1992024202501467")
    zh, en, _ = _bad(exc)
    assert "99" in zh and "99" in en and "first employer" in en


def test_registered_before_qualified_is_refused__registry_data() -> None:
    with pytest.raises(BadInput) as exc:
        parse_registration_no("晋1142025202401467")
    zh, en, _ = _bad(exc)
    assert "2024" in zh and "2025" in zh and "before" in en


@pytest.mark.parametrize("value", ["晋1141989202501467", "晋1142024210101467"])
def test_year_out_of_range_is_refused__registry_data(value: str) -> None:
    with pytest.raises(BadInput) as exc:
        parse_registration_no(value)
    zh, en, _ = _bad(exc)
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


# ---------------------------------------------------------------------------------------------- e-licence identifier


def test_three_real_elicence_ids_validate__R_DOC_3() -> None:
    parsed = [parse_elicence_id(v) for v in REAL_ELICENCE_IDS]
    assert parsed[0] == ElicenceId(
        value=REAL_ELICENCE_IDS[0],
        type_code="11100000000013338W032",
        issuer_uscc="11220000013544541J",
        serial="2430599",
        version="001",
        check="F",
    )
    assert [(p.serial, p.version, p.check) for p in parsed[1:]] == [
        ("37080001202411010001", "001", "3"),
        ("2025052201", "002", "0"),
    ]


@pytest.mark.parametrize("value", REAL_ELICENCE_IDS)
def test_check_character_of_real_ids__R_DOC_3(value: str) -> None:
    body = "".join(value[len(ELICENCE_ROOT) + 1 :].split(".")[:-1])
    assert elicence_check_char(body) == value[-1]


@pytest.mark.parametrize("value", REAL_ELICENCE_IDS)
def test_make_reproduces_real_ids__R_DOC_3(value: str) -> None:
    type_code, issuer, serial, version, _check = value[len(ELICENCE_ROOT) + 1 :].split(".")
    assert make_elicence_id(type_code, issuer, serial, version) == value


@pytest.mark.parametrize("value", REAL_ELICENCE_IDS)
def test_every_single_character_change_is_detected__R_DOC_3(value: str) -> None:
    start = len(ELICENCE_ROOT) + 1
    tried = 0
    for i in range(start, len(value)):
        if value[i] == ".":
            continue
        for c in EL_ALPHABET:
            if c != value[i]:
                assert _rejects(parse_elicence_id, value[:i] + c + value[i + 1 :]), (i, c)
                tried += 1
    assert tried == 35 * sum(1 for ch in value[start:] if ch != ".")


def test_wrong_check_character_says_expected_and_actual__R_DOC_3() -> None:
    with pytest.raises(BadInput) as exc:
        parse_elicence_id(REAL_ELICENCE_IDS[0][:-1] + "G")
    assert _bad(exc) == (
        "电子证照标识校验位应为 F,实际为 G",
        "E-licence identifier check character should be F, got G",
        "identifier",
    )


@pytest.mark.parametrize(
    ("value", "zh_part", "en_part"),
    [
        ("1.2.156.3005.1.11100000000013338W032.11220000013544541J.2430599.001.F", "开头", "must start with"),
        ("1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001", "5 段", "got 4"),
        ("1.2.156.3005.2.11100000000013338W032.11220000013544541J.24.30599.001.F", "5 段", "got 6"),
        ("1.2.156.3005.2.11100000000013338W032.11220000013544541J..001.F", "顺序号为空", "serial is empty"),
        ("1.2.156.3005.2.11100000000013338w032.11220000013544541J.2430599.001.F", "“w”", "'w'"),
        ("1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.01.F", "版本号", "version"),
        ("1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.FF", "校验位", "single character"),
        ("1.2.156.3005.2.11100000000013338W032.11220000013544541K.2430599.001.F", "颁证单位", "issuer USCC"),
        ("1.2.156.3005.2.11100000000013338W032.1122000001354454J.2430599.001.F", "颁证单位", "issuer USCC"),
    ],
)
def test_malformed_identifier_says_what_is_wrong__R_DOC_3(value: str, zh_part: str, en_part: str) -> None:
    with pytest.raises(BadInput) as exc:
        parse_elicence_id(value)
    zh, en, column = _bad(exc)
    assert column == "identifier"
    assert zh_part in zh, zh
    assert en_part in en, en


@given(
    st.text(EL_ALPHABET, min_size=1, max_size=24),
    st.sampled_from(REAL_USCCS),
    st.text(EL_ALPHABET, min_size=1, max_size=24),
    st.text(DIGITS, min_size=3, max_size=3),
)
def test_make_then_parse_gives_back_the_parts__R_DOC_3(type_code: str, issuer: str, serial: str, version: str) -> None:
    value = make_elicence_id(type_code, issuer, serial, version)
    parsed = parse_elicence_id(value)
    assert parsed.value == value
    assert (parsed.type_code, parsed.issuer_uscc, parsed.serial, parsed.version) == (type_code, issuer, serial, version)
    assert parsed.check == elicence_check_char(type_code + issuer + serial + version)


@given(st.text(EL_ALPHABET, min_size=1, max_size=40), st.integers(0, 39), st.sampled_from(EL_ALPHABET))
def test_check_character_detects_any_single_substitution__R_DOC_3(body: str, pos: int, c: str) -> None:
    i = pos % len(body)
    if body[i] != c:
        changed = body[:i] + c + body[i + 1 :]
        assert elicence_check_char(changed) != elicence_check_char(body)
