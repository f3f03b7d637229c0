"""居民身份证号 (resident ID number) — GB 11643, check character ISO/IEC 7064 MOD 11-2: validation,
the bulk-import fast path, and (for synthetic data) generation. Pure, stdlib only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ecert.domain.errors import BadInput, problem
from ecert.domain.ids.shared import DIGITS, Msg, not_a_digit
from ecert.domain.messages import term
from ecert.domain.model import Gender
from ecert.domain.provinces import PROVINCE_CODES

_DIGIT_VALUE: dict[str, int] = {c: i for i, c in enumerate("0123456789")}

COL_ID_NUMBER = "id_number"
ID_NUMBER_LENGTH = 18
_ID_CHECK_CHARS = "10X98765432"  # indexed by (weighted sum mod 11)
_ID_MIN_BIRTH_YEAR = 1800  # a real person; GB 11643 itself uses 1880-01-01 in its example


@dataclass(frozen=True, slots=True)
class IdNumber:
    """A valid 18-character resident ID number and what it encodes."""

    value: str  # normalized: 17 digits + check character, upper-case X
    area_code: str  # 6-digit GB/T 2260 code of the place of first registration
    birth_date: date
    gender: Gender  # 17th digit: odd = 男, even = 女


def _id_mod11(first17: str) -> int:
    """Weighted sum of 17 ASCII digits (caller has checked them), mod 11. The weights are
    2**(18 - position) mod 11 and 13 = 2 (mod 11), so reading the digits in base 13 gives the sum
    (halved) in one C call: sum(w * d) = 2 * int(first17, 13) (mod 11)."""
    return 2 * int(first17, 13) % 11


def id_number_check_char(first17: str) -> str:
    """The MOD 11-2 check character (``0``–``9`` or ``X``) for the first 17 digits."""
    if len(first17) != 17 or not DIGITS.issuperset(first17):
        raise ValueError(f"need exactly 17 ASCII digits, got {first17!r}")
    return _ID_CHECK_CHARS[_id_mod11(first17)]


def _id_error(msg: Msg) -> BadInput:
    return BadInput([problem(msg[0], msg[1], column=COL_ID_NUMBER)])


def parse_id_number(s: str) -> IdNumber:
    """Validate a resident ID number (GB 11643). Surrounding whitespace is ignored; a lower-case
    ``x`` check character is accepted and normalized to ``X``."""
    v = s.strip()
    if len(v) != ID_NUMBER_LENGTH:
        raise _id_error(
            (
                f"身份证号应为 18 位,实际为 {len(v)} 位:{v}",
                f"ID number must be 18 characters long, got {len(v)}: {v}",
            )
        )
    first17 = v[:17]
    if not DIGITS.issuperset(first17):
        raise _id_error(not_a_digit("身份证号", "ID number", first17, 1))
    last = v[17]
    if last == "x":
        last = "X"
        v = first17 + "X"
    elif last not in DIGITS and last != "X":
        raise _id_error(
            (
                f"身份证号第 18 位(校验位)应为数字或 X,实际为“{last}”",
                f"ID number: character 18 (check character) must be a digit or X, got {last!r}",
            )
        )
    if first17[:2] not in PROVINCE_CODES:
        raise _id_error(
            (
                f"身份证号前两位 {first17[:2]} 不是已知的省级行政区划代码",
                f"ID number: the first two digits {first17[:2]} are not a known province code",
            )
        )
    year, month, day = int(first17[6:10]), int(first17[10:12]), int(first17[12:14])
    try:
        birth = date(year, month, day)
    except ValueError:
        raise _id_error(
            (
                f"身份证号中的出生日期 {first17[6:14]} 不是有效日期",
                f"ID number: the embedded birth date {first17[6:14]} is not a valid date",
            )
        ) from None
    if year < _ID_MIN_BIRTH_YEAR:
        raise _id_error(
            (
                f"身份证号中的出生年份 {year} 早于 {_ID_MIN_BIRTH_YEAR} 年,不可能",
                f"ID number: the embedded birth year {year} is before {_ID_MIN_BIRTH_YEAR}, which is impossible",
            )
        )
    expected = _ID_CHECK_CHARS[_id_mod11(first17)]
    if last != expected:
        raise _id_error(
            (
                f"身份证号校验位应为 {expected},实际为 {last}",
                f"ID number check digit should be {expected}, got {last}",
            )
        )
    gender = Gender.MALE if _DIGIT_VALUE[first17[16]] % 2 else Gender.FEMALE
    return IdNumber(value=v, area_code=first17[:6], birth_date=birth, gender=gender)


def check_id_matches(idn: IdNumber, birth_date: date, gender: Gender) -> None:
    """The birth date and gender encoded in the ID number must agree with the record.
    Raises BadInput (column ``id_number``) with one problem per disagreement, naming both values."""
    problems = []
    if idn.birth_date != birth_date:
        problems.append(
            problem(
                f"身份证号中的出生日期 {idn.birth_date.isoformat()} 与登记的出生日期 {birth_date.isoformat()} 不一致",
                f"ID number encodes birth date {idn.birth_date.isoformat()}, "
                f"but the record says {birth_date.isoformat()}",
                column=COL_ID_NUMBER,
            )
        )
    if idn.gender != gender:
        zh_id, zh_rec = term("gender", idn.gender.value, "zh"), term("gender", gender.value, "zh")
        en_id, en_rec = term("gender", idn.gender.value, "en"), term("gender", gender.value, "en")
        problems.append(
            problem(
                f"身份证号中的性别为{zh_id},与登记的性别{zh_rec}不一致",
                f"ID number encodes gender {en_id}, but the record says {en_rec}",
                column=COL_ID_NUMBER,
            )
        )
    if problems:
        raise BadInput(problems)


def id_number_if_matches(s: str, birth_date: date, birth_iso: str, gender: Gender) -> str | None:
    """Bulk-import fast path: the normalized ID number if ``parse_id_number(s)`` succeeds and
    ``check_id_matches`` finds nothing wrong with ``birth_date`` (``birth_iso`` its ISO form) and
    ``gender``; otherwise ``None``, and the caller asks the parse functions for the reasons.
    Accepts exactly what those two accept together."""
    v = s.strip()
    if len(v) != ID_NUMBER_LENGTH:
        return None
    first17 = v[:17]
    if not (first17.isascii() and first17.isdigit()):  # ASCII digits only, as DIGITS
        return None
    last = v[17]
    if last == "x":
        last = "X"
        v = first17 + "X"
    elif last not in DIGITS and last != "X":
        return None
    if first17[:2] not in PROVINCE_CODES or birth_date.year < _ID_MIN_BIRTH_YEAR:
        return None
    # Fixed-width digit fields: equal as strings exactly when the embedded date is the record's.
    if first17[6:10] != birth_iso[:4] or first17[10:12] != birth_iso[5:7] or first17[12:14] != birth_iso[8:10]:
        return None
    if last != _ID_CHECK_CHARS[_id_mod11(first17)]:
        return None
    if (Gender.MALE if _DIGIT_VALUE[first17[16]] % 2 else Gender.FEMALE) is not gender:
        return None
    return v


def make_id_number(area_code: str, birth_date: date, sequence: int, gender: Gender) -> str:
    """A valid ID number for synthetic data. ``sequence`` (0..99) gives digits 15–16; digit 17 has
    the parity of ``gender`` (and varies with ``sequence`` so numbers look less uniform)."""
    if len(area_code) != 6 or not DIGITS.issuperset(area_code) or area_code[:2] not in PROVINCE_CODES:
        raise ValueError(f"area_code must be 6 digits starting with a known province code, got {area_code!r}")
    if not 0 <= sequence <= 99:
        raise ValueError(f"sequence must be in 0..99, got {sequence}")
    if not _ID_MIN_BIRTH_YEAR <= birth_date.year <= 9999:
        raise ValueError(f"birth year must be at least {_ID_MIN_BIRTH_YEAR}, got {birth_date.year}")
    digit17 = 2 * (sequence % 5) + (1 if gender is Gender.MALE else 0)
    first17 = f"{area_code}{birth_date:%Y%m%d}{sequence:02d}{digit17}"
    return first17 + _ID_CHECK_CHARS[_id_mod11(first17)]
