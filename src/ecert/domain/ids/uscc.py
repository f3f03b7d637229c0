"""统一社会信用代码 (unified social credit code) — GB 32100, check character MOD 31 over a
31-character alphabet: validation and (for synthetic data) generation. Pure, stdlib only.

:func:`check_uscc` returns ``None`` when a code is fine and ``(zh, en)`` otherwise, so that each
caller (the import column, the e-licence issuer) says which code it means."""

from __future__ import annotations

from ecert.domain.errors import BadInput, problem
from ecert.domain.ids.shared import DIGITS, Msg

COL_EMPLOYER_USCC = "employer_uscc"
USCC_LENGTH = 18
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, S, V, Z
_USCC_VALUE: dict[str, int] = {c: i for i, c in enumerate(USCC_CHARSET)}
_USCC_CHARS = frozenset(USCC_CHARSET)
_USCC_WEIGHTS: tuple[int, ...] = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_getitem = dict.__getitem__


_USCC_TERMS: tuple[dict[str, int], ...] = tuple({c: w * v for c, v in _USCC_VALUE.items()} for w in _USCC_WEIGHTS)


def _uscc_check(first17: str) -> str:
    """Check character for 17 characters of the charset (caller has checked them)."""
    r = 31 - sum(map(_getitem, _USCC_TERMS, first17)) % 31
    return USCC_CHARSET[0 if r == 31 else r]


def uscc_check_char(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters (upper case)."""
    if len(first17) != 17 or not _USCC_CHARS.issuperset(first17):
        raise ValueError(f"need exactly 17 characters of {USCC_CHARSET}, got {first17!r}")
    return _uscc_check(first17)


def check_uscc(v: str, label_zh: str, label_en: str) -> Msg | None:
    """``v`` already stripped and upper-cased. ``None`` when valid."""
    if len(v) != USCC_LENGTH:
        return (
            f"{label_zh}应为 18 位,实际为 {len(v)} 位:{v}",
            f"{label_en} must be 18 characters long, got {len(v)}: {v}",
        )
    if _USCC_CHARS.issuperset(v) and DIGITS.issuperset(v[2:8]):
        expected = _uscc_check(v[:17])
        if v[17] == expected:
            return None
        return (
            f"{label_zh}校验位应为 {expected},实际为 {v[17]}",
            f"{label_en} check character should be {expected}, got {v[17]}",
        )
    for i, ch in enumerate(v):
        if 2 <= i <= 7 and ch not in DIGITS:
            return (
                f"{label_zh}第 {i + 1} 位应为数字(第 3–8 位是行政区划代码),实际为“{ch}”",
                f"{label_en}: character {i + 1} must be a digit (characters 3-8 are the "
                f"administrative area code), got {ch!r}",
            )
        if ch not in _USCC_CHARS:
            return (
                f"{label_zh}第 {i + 1} 位“{ch}”不是允许的字符(允许 0-9 及除 I、O、S、V、Z 外的大写字母)",
                f"{label_en}: character {i + 1} {ch!r} is not allowed (allowed: 0-9 and upper-case "
                f"letters except I, O, S, V, Z)",
            )
    raise AssertionError("unreachable")  # pragma: no cover


def parse_uscc(s: str) -> str:
    """Validate a unified social credit code (GB 32100); returns it stripped and upper-cased."""
    v = s.strip().upper()
    err = check_uscc(v, "统一社会信用代码", "Unified social credit code")
    if err is not None:
        raise BadInput([problem(err[0], err[1], column=COL_EMPLOYER_USCC)])
    return v


def make_uscc(area_code6: str, org_id9: str, reg_dept: str = "9", org_type: str = "1") -> str:
    """A valid USCC for synthetic data: registration department + organization type + 6-digit area
    code + 9-character organization id + check character."""
    if len(area_code6) != 6 or not DIGITS.issuperset(area_code6):
        raise ValueError(f"area_code6 must be 6 digits, got {area_code6!r}")
    body = f"{reg_dept}{org_type}{area_code6}{org_id9}"
    if len(reg_dept) != 1 or len(org_type) != 1 or len(org_id9) != 9 or not _USCC_CHARS.issuperset(body):
        raise ValueError(
            f"reg_dept and org_type must be 1 character, org_id9 9 characters, all from {USCC_CHARSET}: {body!r}"
        )
    return body + _uscc_check(body)
