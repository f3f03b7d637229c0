"""电子证照标识 — GB/T 36904 e-licence identifier, check character ISO/IEC 7064 MOD 37,36 (R-DOC-3):
validation and generation. Pure, stdlib only."""

from __future__ import annotations

from dataclasses import dataclass

from ecert.domain.errors import BadInput, problem
from ecert.domain.ids.shared import DIGITS, Msg
from ecert.domain.ids.uscc import check_uscc

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
    if len(version) != 3 or not DIGITS.issuperset(version):
        raise ValueError(f"version must be 3 digits, got {version!r}")
    err = check_uscc(issuer_uscc, "颁证单位统一社会信用代码", "Issuer USCC")
    if err is not None:
        raise ValueError(err[1])
    check = _el_check(type_code + issuer_uscc + serial + version)
    return f"{_ELICENCE_PREFIX}{type_code}.{issuer_uscc}.{serial}.{version}.{check}"


def _el_error(msg: Msg) -> BadInput:
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
    err = check_uscc(issuer, "电子证照标识的颁证单位统一社会信用代码", "E-licence identifier: the issuer USCC")
    if err is not None:
        raise _el_error(err)
    if len(version) != 3 or not DIGITS.issuperset(version):
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
