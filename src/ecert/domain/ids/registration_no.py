"""注册编号 — the registration number of a first-class constructor, current 17-character form and
legacy 13-character form (docs/rules.md "Registry data"): validation, the bulk-import fast path, and
(for synthetic data) generation. Pure, stdlib only."""

from __future__ import annotations

from dataclasses import dataclass

from ecert.domain.errors import BadInput, problem
from ecert.domain.ids.shared import DIGITS, Msg, not_a_digit
from ecert.domain.provinces import ALIASES, PROVINCE_CODES, PROVINCES

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


def _reg_error(msg: Msg) -> BadInput:
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
    if not DIGITS.issuperset(rest):
        raise _reg_error(not_a_digit("注册编号", "Registration number", rest, 2))
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
