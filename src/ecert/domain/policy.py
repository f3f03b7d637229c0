"""Policy as data: rollout batches, offsets, deadlines (R-SCOPE-1, R-USE-2, R-REN-*).

``parse_policy`` validates a mapping (from TOML) and returns a frozen :class:`Policy`; a bad value
raises ``EcertError("bad_policy")`` naming the key. Reading files is the caller's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from ecert.domain import provinces
from ecert.domain.errors import EcertError

ALL_PROVINCES = "*"


class SpecialtyCap(StrEnum):
    EARLIEST = "earliest"
    LATEST = "latest"


@dataclass(frozen=True, slots=True)
class RolloutBatch:
    name: str
    starts: date
    provinces: frozenset[str] | None  # GB/T 2260 codes; None = every province
    ends: date | None = None  # last day covered, if the batch ends

    def covers(self, province_code: str, today: date) -> bool:
        if today < self.starts or (self.ends is not None and today > self.ends):
            return False
        return self.provinces is None or province_code in self.provinces


@dataclass(frozen=True, slots=True)
class Policy:
    batches: tuple[RolloutBatch, ...]
    paper_void_from: date
    usage_offset_days: int
    specialty_cap: SpecialtyCap
    renewal_window_days: int
    transitional_deadline: date
    lapse_start: date
    validity_years: int
    ce_hours_required: int
    age_limit_years: int
    province_offset_days: Mapping[str, int] = field(default_factory=dict)
    certificate_type_code: str = "11100000000013338W000"
    issuer_uscc: str = "11100000000013338W"
    identifier_version: str = "001"

    def offset_days_for(self, province_code: str) -> int:
        return self.province_offset_days.get(province_code, self.usage_offset_days)


def _bad(key: str, why: str) -> EcertError:
    return EcertError("bad_policy", params={"reason": f"{key}: {why}"})


def _date(section: Mapping[str, Any], key: str, where: str) -> date:
    v = section.get(key)
    if isinstance(v, date) and not isinstance(v, datetime):  # a TOML datetime is not a calendar date
        return v
    if isinstance(v, str):
        try:
            return date.fromisoformat(v)
        except ValueError:
            pass
    raise _bad(f"{where}.{key}", f"expected a date YYYY-MM-DD, got {v!r}")


def _int(section: Mapping[str, Any], key: str, where: str, lo: int, hi: int) -> int:
    v = section.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise _bad(f"{where}.{key}", f"expected an integer in {lo}..{hi}, got {v!r}")
    return v


def _code(section: Mapping[str, Any], key: str, default: str) -> str:
    v = section.get(key, default)
    if not isinstance(v, str) or not v or not all(c.isdigit() or "A" <= c <= "Z" for c in v):
        raise _bad(f"certificate.{key}", f"expected upper-case letters and digits, got {v!r}")
    return v


def _province_codes(value: Any, where: str) -> frozenset[str] | None:
    if value == ALL_PROVINCES:
        return None
    if not isinstance(value, list) or not value:
        raise _bad(where, 'expected "*" or a non-empty list of provinces')
    codes = set()
    for p in value:
        if not isinstance(p, str):
            raise _bad(where, f"expected province names, got {p!r}")
        code = p if p in provinces.PROVINCE_CODES else provinces.code_of_abbreviation(str(p))
        if code is None:
            raise _bad(where, f"unknown province {p!r}")
        codes.add(code)
    return frozenset(codes)


def _section(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    sec = data.get(name, {})
    if not isinstance(sec, Mapping):
        raise _bad(name, "expected a table")
    return sec


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge two TOML mappings: an override file only needs the keys it changes."""
    out = dict(base)
    for k, v in override.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def parse_policy(data: Mapping[str, Any]) -> Policy:
    rollout = _section(data, "rollout")
    usage = _section(data, "usage")
    renewal = _section(data, "renewal")
    age = _section(data, "age")

    raw_batches = rollout.get("batches")
    if not isinstance(raw_batches, list) or not raw_batches:
        raise _bad("rollout.batches", "expected a non-empty list")
    batches = []
    for i, b in enumerate(raw_batches):
        where = f"rollout.batches[{i}]"
        if not isinstance(b, Mapping):
            raise _bad(where, "expected a table")
        ends = _date(b, "until", where) if "until" in b else None
        starts = _date(b, "from", where)
        if ends is not None and ends < starts:
            raise _bad(where, "until is before from")
        batches.append(
            RolloutBatch(
                name=str(b.get("name", f"batch{i + 1}")),
                starts=starts,
                provinces=_province_codes(b.get("provinces"), where + ".provinces"),
                ends=ends,
            )
        )

    cap = usage.get("specialty_cap", "earliest")
    if not isinstance(cap, str) or cap not in {c.value for c in SpecialtyCap}:
        raise _bad("usage.specialty_cap", f'expected "earliest" or "latest", got {cap!r}')

    raw_offsets = usage.get("province_offset_days", {})
    if not isinstance(raw_offsets, Mapping):
        raise _bad("usage.province_offset_days", "expected a table")
    offsets: dict[str, int] = {}
    for key in raw_offsets:
        codes = _province_codes([key], f"usage.province_offset_days.{key}")
        assert codes is not None
        offsets[next(iter(codes))] = _int(raw_offsets, key, "usage.province_offset_days", 1, 3660)

    cert = _section(data, "certificate")
    type_code = _code(cert, "type_code", "11100000000013338W000")
    issuer = _code(cert, "issuer_uscc", "11100000000013338W")
    version = _code(cert, "identifier_version", "001")
    if len(version) != 3 or not version.isdigit():
        raise _bad("certificate.identifier_version", "expected 3 digits")

    policy = Policy(
        batches=tuple(batches),
        paper_void_from=_date(rollout, "paper_void_from", "rollout"),
        usage_offset_days=_int(usage, "offset_days", "usage", 1, 3660),
        specialty_cap=SpecialtyCap(cap),
        renewal_window_days=_int(renewal, "window_days", "renewal", 0, 3660),
        transitional_deadline=_date(renewal, "transitional_deadline", "renewal"),
        lapse_start=_date(renewal, "lapse_start", "renewal"),
        validity_years=_int(renewal, "validity_years", "renewal", 1, 50),
        ce_hours_required=_int(renewal, "ce_hours_required", "renewal", 0, 10000),
        age_limit_years=_int(age, "limit_years", "age", 18, 120),
        province_offset_days=offsets,
        certificate_type_code=type_code,
        issuer_uscc=issuer,
        identifier_version=version,
    )
    if policy.lapse_start <= policy.transitional_deadline:
        # R-REN-2/R-REN-3: lapsing starts only once the transitional period for expired ones is over.
        raise _bad("renewal.lapse_start", "must be after renewal.transitional_deadline")
    return policy
