"""The unified social credit code, GB 32100: validation and generation (domain/ids/uscc.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ids_support import DIGITS, REAL_USCCS, USCC_CHARSET, refusal, rejects

from ecert.domain.ids.uscc import make_uscc, parse_uscc, uscc_check_char

uscc_chars = st.sampled_from(USCC_CHARSET)
valid_usccs = st.builds(
    make_uscc,
    st.text(DIGITS, min_size=6, max_size=6),
    st.text(USCC_CHARSET, min_size=9, max_size=9),
    uscc_chars,
    uscc_chars,
)


@pytest.mark.parametrize("value", REAL_USCCS)
def test_published_codes_validate__GB32100(value: str) -> None:
    assert parse_uscc(value) == value
    assert uscc_check_char(value[:17]) == value[17]


def test_lowercase_is_normalized__GB32100() -> None:
    assert parse_uscc("  91350100m000100y43 ") == "91350100M000100Y43"


def test_wrong_check_character_says_expected_and_actual__GB32100() -> None:
    assert refusal(parse_uscc, "91350100M000100Y44") == (
        "统一社会信用代码校验位应为 3,实际为 4",
        "Unified social credit code check character should be 3, got 4",
        "employer_uscc",
    )


def test_wrong_length_is_refused__GB32100() -> None:
    zh, en, _ = refusal(parse_uscc, "91350100M000100Y4")
    assert "18 位" in zh and "实际为 17 位" in zh and "got 17" in en


@pytest.mark.parametrize(("value", "pos", "char"), [("91350100M000I00Y43", 13, "I"), ("913501O0M000100Y43", 7, "O")])
def test_bad_character_names_its_position__GB32100(value: str, pos: int, char: str) -> None:
    zh, en, _ = refusal(parse_uscc, value)
    assert f"第 {pos} 位" in zh and char in zh
    assert f"character {pos}" in en


def test_area_code_must_be_digits__GB32100() -> None:
    first17 = "9135A100M000100Y4"
    zh, en, _ = refusal(parse_uscc, first17 + uscc_check_char(first17))
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
                assert rejects(parse_uscc, value[:i] + c + value[i + 1 :]), (value, i, c)
