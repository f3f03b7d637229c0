"""Identifiers of the registry: validation and (for synthetic data) generation. Pure, stdlib only.

* 居民身份证号 — GB 11643, check character ISO/IEC 7064 MOD 11-2.
* 统一社会信用代码 — GB 32100, check character MOD 31 over a 31-character alphabet.
* 注册编号 — the registration number of a first-class constructor, current 17-character form and
  legacy 13-character form (docs/rules.md "Registry data").
* 电子证照标识 — GB/T 36904 e-licence identifier, check character ISO/IEC 7064 MOD 37,36 (R-DOC-3).

Every ``parse_*`` raises :class:`~ecert.domain.errors.BadInput` with one problem naming the import
column and saying, in Chinese and English, exactly what is wrong. These run on every row of a bulk
import, so tables are built once here and the happy path raises nothing.

The internal ``_check_*`` helpers return ``None`` when the value is fine and ``(zh, en)`` otherwise;
the public functions turn that into a :class:`BadInput` for their column.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ecert.domain.errors import BadInput, problem
from ecert.domain.messages import term
from ecert.domain.model import Gender
from ecert.domain.provinces import ALIASES, PROVINCE_CODES, PROVINCES

__all__ = [
    "ELICENCE_ROOT",
    "ElicenceId",
    "IdNumber",
    "RegistrationNo",
    "check_id_matches",
    "elicence_check_char",
    "id_number_check_char",
    "id_number_if_matches",
    "make_elicence_id",
    "make_id_number",
    "make_registration_no",
    "make_uscc",
    "parse_elicence_id",
    "parse_id_number",
    "parse_registration_no",
    "parse_uscc",
    "registration_no_province",
    "uscc_check_char",
]

_Msg = tuple[str, str]  # (zh, en)

_DIGITS = frozenset("0123456789")
_DIGIT_VALUE: dict[str, int] = {c: i for i, c in enumerate("0123456789")}

# --------------------------------------------------------------------------------------------------
# 居民身份证号, GB 11643 (ISO/IEC 7064 MOD 11-2)
# --------------------------------------------------------------------------------------------------

COL_ID_NUMBER = "id_number"
ID_NUMBER_LENGTH = 18
_ID_WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"  # indexed by (weighted sum mod 11)
_ID_MIN_BIRTH_YEAR = 1800  # a real person; GB 11643 itself uses 1880-01-01 in its example


@dataclass(frozen=True, slots=True)
class IdNumber:
    """A valid 18-character resident ID number and what it encodes."""

    value: str  # normalized: 17 digits + check character, upper-case X
    area_code: str  # 6-digit GB/T 2260 code of the place of first registration
    birth_date: date
    gender: Gender  # 17th digit: odd = 男, even = 女


_getitem = dict.__getitem__


def _id_mod11(first17: str) -> int:
    """Weighted sum of 17 ASCII digits (caller has checked them), mod 11. The weights are
    2**(18 - position) mod 11 and 13 = 2 (mod 11), so reading the digits in base 13 gives the sum
    (halved) in one C call: sum(w * d) = 2 * int(first17, 13) (mod 11)."""
    return 2 * int(first17, 13) % 11


def id_number_check_char(first17: str) -> str:
    """The MOD 11-2 check character (``0``–``9`` or ``X``) for the first 17 digits."""
    if len(first17) != 17 or not _DIGITS.issuperset(first17):
        raise ValueError(f"need exactly 17 ASCII digits, got {first17!r}")
    return _ID_CHECK_CHARS[_id_mod11(first17)]


def _id_error(msg: _Msg) -> BadInput:
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
    if not _DIGITS.issuperset(first17):
        pos, ch = next((i + 1, c) for i, c in enumerate(first17) if c not in _DIGITS)
        raise _id_error(
            (
                f"身份证号第 {pos} 位应为数字,实际为“{ch}”",
                f"ID number: character {pos} must be a digit, got {ch!r}",
            )
        )
    last = v[17]
    if last == "x":
        last = "X"
        v = first17 + "X"
    elif last not in _DIGITS and last != "X":
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
    if not (first17.isascii() and first17.isdigit()):  # ASCII digits only, as _DIGITS
        return None
    last = v[17]
    if last == "x":
        last = "X"
        v = first17 + "X"
    elif last not in _DIGITS and last != "X":
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
    if len(area_code) != 6 or not _DIGITS.issuperset(area_code) or area_code[:2] not in PROVINCE_CODES:
        raise ValueError(f"area_code must be 6 digits starting with a known province code, got {area_code!r}")
    if not 0 <= sequence <= 99:
        raise ValueError(f"sequence must be in 0..99, got {sequence}")
    if not _ID_MIN_BIRTH_YEAR <= birth_date.year <= 9999:
        raise ValueError(f"birth year must be at least {_ID_MIN_BIRTH_YEAR}, got {birth_date.year}")
    digit17 = 2 * (sequence % 5) + (1 if gender is Gender.MALE else 0)
    first17 = f"{area_code}{birth_date:%Y%m%d}{sequence:02d}{digit17}"
    return first17 + _ID_CHECK_CHARS[_id_mod11(first17)]


# --------------------------------------------------------------------------------------------------
# 统一社会信用代码, GB 32100
# --------------------------------------------------------------------------------------------------

COL_EMPLOYER_USCC = "employer_uscc"
USCC_LENGTH = 18
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, S, V, Z
_USCC_VALUE: dict[str, int] = {c: i for i, c in enumerate(USCC_CHARSET)}
_USCC_CHARS = frozenset(USCC_CHARSET)
_USCC_WEIGHTS: tuple[int, ...] = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


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


def _check_uscc(v: str, label_zh: str, label_en: str) -> _Msg | None:
    """``v`` already stripped and upper-cased. ``None`` when valid."""
    if len(v) != USCC_LENGTH:
        return (
            f"{label_zh}应为 18 位,实际为 {len(v)} 位:{v}",
            f"{label_en} must be 18 characters long, got {len(v)}: {v}",
        )
    if _USCC_CHARS.issuperset(v) and _DIGITS.issuperset(v[2:8]):
        expected = _uscc_check(v[:17])
        if v[17] == expected:
            return None
        return (
            f"{label_zh}校验位应为 {expected},实际为 {v[17]}",
            f"{label_en} check character should be {expected}, got {v[17]}",
        )
    for i, ch in enumerate(v):
        if 2 <= i <= 7 and ch not in _DIGITS:
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
    err = _check_uscc(v, "统一社会信用代码", "Unified social credit code")
    if err is not None:
        raise BadInput([problem(err[0], err[1], column=COL_EMPLOYER_USCC)])
    return v


def make_uscc(area_code6: str, org_id9: str, reg_dept: str = "9", org_type: str = "1") -> str:
    """A valid USCC for synthetic data: registration department + organization type + 6-digit area
    code + 9-character organization id + check character."""
    if len(area_code6) != 6 or not _DIGITS.issuperset(area_code6):
        raise ValueError(f"area_code6 must be 6 digits, got {area_code6!r}")
    body = f"{reg_dept}{org_type}{area_code6}{org_id9}"
    if len(reg_dept) != 1 or len(org_type) != 1 or len(org_id9) != 9 or not _USCC_CHARS.issuperset(body):
        raise ValueError(
            f"reg_dept and org_type must be 1 character, org_id9 9 characters, all from {USCC_CHARSET}: {body!r}"
        )
    return body + _uscc_check(body)


# --------------------------------------------------------------------------------------------------
# 注册编号 (registration number)
# --------------------------------------------------------------------------------------------------

COL_REGISTRATION_NO = "registration_no"
REGISTRATION_NO_LENGTH = 17
REGISTRATION_NO_LEGACY_LENGTH = 13
_REG_MIN_YEAR = 1990
_REG_MAX_YEAR = 2100
_REG_MIN_YEAR_S, _REG_MAX_YEAR_S = f"{_REG_MIN_YEAR:04d}", f"{_REG_MAX_YEAR:04d}"
# Every abbreviation (canonical and alias) -> two-digit province code.
_ABBR_TO_CODE: dict[str, str] = {abbr: code for abbr, (code, _n) in PROVINCES.items()}
_ABBR_TO_CODE.update({alias: _ABBR_TO_CODE[canon] for alias, canon in ALIASES.items()})


@dataclass(frozen=True, slots=True)
class RegistrationNo:
    value: str  # as given (surrounding whitespace removed)
    province_code: str  # registering province: code of the first character
    legacy: bool  # 13-character form with 2-digit years
    first_employer_province: str  # two-digit code of the province of the first employer
    year_qualified: int
    year_registered: int  # year of first registration
    serial: str  # 5 digits


def _reg_error(msg: _Msg) -> BadInput:
    return BadInput([problem(msg[0], msg[1], column=COL_REGISTRATION_NO)])


def parse_registration_no(s: str) -> RegistrationNo:
    """Validate a registration number: ``晋1142024202501467`` (17 characters) or the legacy
    ``京111050700001`` (13 characters, 2-digit years: YY ≥ 90 means 19YY, otherwise 20YY)."""
    v = s.strip()
    n = len(v)
    if n != REGISTRATION_NO_LENGTH and n != REGISTRATION_NO_LEGACY_LENGTH:
        raise _reg_error(
            (
                f"注册编号应为 17 位(旧版为 13 位),实际为 {n} 位:{v}",
                f"Registration number must be 17 characters long (legacy form: 13), got {n}: {v}",
            )
        )
    province = _ABBR_TO_CODE.get(v[0])
    if province is None:
        raise _reg_error(
            (
                f"注册编号第 1 位“{v[0]}”不是已知的省份简称",
                f"Registration number: the first character {v[0]!r} is not a known province abbreviation",
            )
        )
    rest = v[1:]
    if not _DIGITS.issuperset(rest):
        pos, ch = next((i + 2, c) for i, c in enumerate(rest) if c not in _DIGITS)
        raise _reg_error(
            (
                f"注册编号第 {pos} 位应为数字,实际为“{ch}”",
                f"Registration number: character {pos} must be a digit, got {ch!r}",
            )
        )
    level = rest[0]
    if level != "1":
        if level == "2":
            raise _reg_error(
                (
                    "注册编号第 2 位为 2,表示二级建造师;本系统只处理一级建造师(第 2 位应为 1)",
                    "Registration number: character 2 is 2, which denotes a second-class constructor (二级); "
                    "only first-class registrations (1) are handled",
                )
            )
        raise _reg_error(
            (
                f"注册编号第 2 位(级别)应为 1,实际为 {level}",
                f"Registration number: character 2 (level) must be 1, got {level}",
            )
        )
    employer_province = rest[1:3]
    if employer_province not in PROVINCE_CODES:
        raise _reg_error(
            (
                f"注册编号第 3–4 位 {employer_province} 不是已知的省级行政区划代码(首次聘用企业所在省份)",
                f"Registration number: characters 3-4 ({employer_province}) are not a known province code "
                f"(province of the first employer)",
            )
        )
    legacy = n == REGISTRATION_NO_LEGACY_LENGTH
    if legacy:
        yq, yr = int(rest[3:5]), int(rest[5:7])
        year_qualified = yq + (1900 if yq >= 90 else 2000)
        year_registered = yr + (1900 if yr >= 90 else 2000)
        serial = rest[7:12]
    else:
        year_qualified, year_registered = int(rest[3:7]), int(rest[7:11])
        serial = rest[11:16]
        for label_zh, label_en, y in (
            ("取得资格", "qualified", year_qualified),
            ("首次注册", "registered", year_registered),
        ):
            if not _REG_MIN_YEAR <= y <= _REG_MAX_YEAR:
                raise _reg_error(
                    (
                        f"注册编号中的{label_zh}年份 {y} 不在 {_REG_MIN_YEAR}–{_REG_MAX_YEAR} 之间",
                        f"Registration number: year {label_en} {y} is not within {_REG_MIN_YEAR}-{_REG_MAX_YEAR}",
                    )
                )
    if year_registered < year_qualified:
        raise _reg_error(
            (
                f"注册编号中的首次注册年份 {year_registered} 早于取得资格年份 {year_qualified}",
                f"Registration number: year first registered {year_registered} is before year qualified "
                f"{year_qualified}",
            )
        )
    return RegistrationNo(
        value=v,
        province_code=province,
        legacy=legacy,
        first_employer_province=employer_province,
        year_qualified=year_qualified,
        year_registered=year_registered,
        serial=serial,
    )


def registration_no_province(v: str) -> str | None:
    """Bulk-import fast path: the registering province's code if ``v`` (already stripped) is a
    registration number :func:`parse_registration_no` accepts, else ``None`` (ask it for the reason)."""
    n = len(v)
    if n != REGISTRATION_NO_LENGTH and n != REGISTRATION_NO_LEGACY_LENGTH:
        return None
    province = _ABBR_TO_CODE.get(v[0])
    rest = v[1:]
    if province is None or not (rest.isascii() and rest.isdigit()) or rest[0] != "1" or rest[1:3] not in PROVINCE_CODES:
        return None
    if n == REGISTRATION_NO_LEGACY_LENGTH:
        yq, yr = int(rest[3:5]), int(rest[5:7])
        return province if yr + (1900 if yr >= 90 else 2000) >= yq + (1900 if yq >= 90 else 2000) else None
    # Four ASCII digits each: string order is number order.
    qualified, registered = rest[3:7], rest[7:11]
    if _REG_MIN_YEAR_S <= qualified <= registered <= _REG_MAX_YEAR_S:
        return province
    return None


def make_registration_no(
    abbr: str, employer_province: str, year_qualified: int, year_registered: int, serial: int
) -> str:
    """A current-form (17-character) registration number. ``employer_province`` is a two-digit code
    or an abbreviation."""
    if abbr not in _ABBR_TO_CODE:
        raise ValueError(f"unknown province abbreviation {abbr!r}")
    emp = employer_province if employer_province in PROVINCE_CODES else _ABBR_TO_CODE.get(employer_province)
    if emp is None:
        raise ValueError(f"unknown employer province {employer_province!r}")
    if not _REG_MIN_YEAR <= year_qualified <= year_registered <= _REG_MAX_YEAR:
        raise ValueError(
            f"need {_REG_MIN_YEAR} <= year_qualified <= year_registered <= {_REG_MAX_YEAR}, "
            f"got {year_qualified}, {year_registered}"
        )
    if not 0 <= serial <= 99999:
        raise ValueError(f"serial must be in 0..99999, got {serial}")
    return f"{abbr}1{emp}{year_qualified:04d}{year_registered:04d}{serial:05d}"


# --------------------------------------------------------------------------------------------------
# 电子证照标识, GB/T 36904 (ISO/IEC 7064 MOD 37,36) — R-DOC-3
# --------------------------------------------------------------------------------------------------

COL_IDENTIFIER = "identifier"
ELICENCE_ROOT = "1.2.156.3005.2"
_ELICENCE_PREFIX = ELICENCE_ROOT + "."
ELICENCE_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_EL_VALUE: dict[str, int] = {c: i for i, c in enumerate(ELICENCE_ALPHABET)}
_EL_CHARS = frozenset(ELICENCE_ALPHABET)
# Hybrid MOD 37,36: state p -> value a -> next p. Precomputed: NEXT[p][a] = (2 * s) mod 37 with
# s = (p + a) mod 36, and 36 in place of 0.
_EL_NEXT: tuple[tuple[int, ...], ...] = tuple(
    tuple((2 * (((p + a) % 36) or 36)) % 37 for a in range(36)) for p in range(37)
)


def _el_check(body: str) -> str:
    p = 36
    nxt = _EL_NEXT
    val = _EL_VALUE
    for ch in body:
        p = nxt[p][val[ch]]
    return ELICENCE_ALPHABET[(37 - p) % 36]


def elicence_check_char(body: str) -> str:
    """ISO/IEC 7064 MOD 37,36 check character over ``body``: type code + issuer USCC + serial +
    version, dots removed (R-DOC-3)."""
    if not _EL_CHARS.issuperset(body):
        raise ValueError(f"body must consist of 0-9 and A-Z only, got {body!r}")
    return _el_check(body)


@dataclass(frozen=True, slots=True)
class ElicenceId:
    value: str
    type_code: str  # 证照类型代码
    issuer_uscc: str  # 颁证单位统一社会信用代码
    serial: str  # 顺序号
    version: str  # 3 digits
    check: str  # MOD 37,36 check character


def make_elicence_id(type_code: str, issuer_uscc: str, serial: str, version: str = "001") -> str:
    for name, part in (("type_code", type_code), ("issuer_uscc", issuer_uscc), ("serial", serial)):
        if not part or not _EL_CHARS.issuperset(part):
            raise ValueError(f"{name} must be non-empty 0-9/A-Z, got {part!r}")
    if len(version) != 3 or not _DIGITS.issuperset(version):
        raise ValueError(f"version must be 3 digits, got {version!r}")
    err = _check_uscc(issuer_uscc, "颁证单位统一社会信用代码", "Issuer USCC")
    if err is not None:
        raise ValueError(err[1])
    check = _el_check(type_code + issuer_uscc + serial + version)
    return f"{_ELICENCE_PREFIX}{type_code}.{issuer_uscc}.{serial}.{version}.{check}"


def _el_error(msg: _Msg) -> BadInput:
    return BadInput([problem(msg[0], msg[1], column=COL_IDENTIFIER)])


_EL_PART_NAMES: tuple[tuple[str, str], ...] = (
    ("证照类型代码", "type code"),
    ("颁证单位代码", "issuer USCC"),
    ("顺序号", "serial"),
    ("版本号", "version"),
    ("校验位", "check character"),
)


def parse_elicence_id(s: str) -> ElicenceId:
    """Validate an e-licence identifier (GB/T 36904, R-DOC-3):
    ``1.2.156.3005.2.<type code>.<issuer USCC>.<serial>.<version>.<check>``."""
    v = s.strip()
    if not v.startswith(_ELICENCE_PREFIX):
        raise _el_error(
            (
                f"电子证照标识应以 {_ELICENCE_PREFIX} 开头:{v}",
                f"E-licence identifier must start with {_ELICENCE_PREFIX}: {v}",
            )
        )
    parts = v[len(_ELICENCE_PREFIX) :].split(".")
    if len(parts) != 5:
        raise _el_error(
            (
                f"电子证照标识在根 {ELICENCE_ROOT} 之后应有 5 段(类型代码.颁证单位代码.顺序号.版本号.校验位),"
                f"实际为 {len(parts)} 段",
                f"E-licence identifier must have 5 dot-separated parts after the root {ELICENCE_ROOT} "
                f"(type code.issuer USCC.serial.version.check), got {len(parts)}",
            )
        )
    for (zh, en), part in zip(_EL_PART_NAMES, parts, strict=True):
        if not part:
            raise _el_error((f"电子证照标识的{zh}为空", f"E-licence identifier: the {en} is empty"))
        if not _EL_CHARS.issuperset(part):
            ch = next(c for c in part if c not in _EL_CHARS)
            raise _el_error(
                (
                    f"电子证照标识的{zh}含有不允许的字符“{ch}”(只允许数字和大写字母)",
                    f"E-licence identifier: the {en} contains {ch!r} (only digits and upper-case letters are allowed)",
                )
            )
    type_code, issuer, serial, version, check = parts
    err = _check_uscc(issuer, "电子证照标识的颁证单位统一社会信用代码", "E-licence identifier: the issuer USCC")
    if err is not None:
        raise _el_error(err)
    if len(version) != 3 or not _DIGITS.issuperset(version):
        raise _el_error(
            (
                f"电子证照标识的版本号应为 3 位数字,实际为 {version}",
                f"E-licence identifier: the version must be 3 digits, got {version}",
            )
        )
    if len(check) != 1:
        raise _el_error(
            (
                f"电子证照标识的校验位应为 1 个字符,实际为 {check}",
                f"E-licence identifier: the check character must be a single character, got {check}",
            )
        )
    expected = _el_check(type_code + issuer + serial + version)
    if check != expected:
        raise _el_error(
            (
                f"电子证照标识校验位应为 {expected},实际为 {check}",
                f"E-licence identifier check character should be {expected}, got {check}",
            )
        )
    return ElicenceId(value=v, type_code=type_code, issuer_uscc=issuer, serial=serial, version=version, check=check)
