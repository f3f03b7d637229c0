"""The GB/T 36904 e-licence identifier (R-DOC-3): validation, the MOD 37,36 check character, generation
(domain/ids/elicence.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ids_support import DIGITS, REAL_USCCS, refusal, rejects

from ecert.domain.ids.elicence import (
    ELICENCE_ROOT,
    ElicenceId,
    elicence_check_char,
    make_elicence_id,
    parse_elicence_id,
)

EL_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

REAL_ELICENCE_IDS = (
    "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F",
    "1.2.156.3005.2.11100000000013338W087.11370800MB28559184.37080001202411010001.001.3",
    "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0",
)


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
                assert rejects(parse_elicence_id, value[:i] + c + value[i + 1 :]), (i, c)
                tried += 1
    assert tried == 35 * sum(1 for ch in value[start:] if ch != ".")


def test_wrong_check_character_says_expected_and_actual__R_DOC_3() -> None:
    assert refusal(parse_elicence_id, REAL_ELICENCE_IDS[0][:-1] + "G") == (
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
    zh, en, column = refusal(parse_elicence_id, value)
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
