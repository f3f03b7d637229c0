"""Verification without the registry (issue 14 item 2): the signed status list as a value, and the verdict
a verifier reaches from a certificate's own signed data and that list alone.

Offline, the signature (the seal, the QR token) and the usage window come from the certificate; whether
it is superseded or revoked comes from the newest signed status list the verifier holds
(adapters/status_list.py reads it). What only the registry knows is not checked, and the verdict says
so (:data:`NOT_CHECKED`, reason ``offline_unchecked``): the issuance record, the holder's current data
(R-CHG-3), a revocation's legal basis and date, the serial of the certificate that superseded this one.

A list past its ``next_update`` is stale: the certificate may have been revoked since, so the status is
``indeterminate`` ("status unknown"), never ``valid``. A list that is truncated, signed with a key the
verifier does not trust, or whose signature does not verify is refused: ``indeterminate`` with its
reason code. Order as online (domain/verification.py): revoked → superseded → window → valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Any

from ecert.domain.dates import in_cst
from ecert.domain.verification import Reason, ReasonCode, VerificationResult, VerificationStatus

# A list is current for a day after it is built (its ``next_update``); a new one is built every hour
# (the ``status_list`` job, and on demand by /.well-known/ecert-status-list when the newest is older).
VALIDITY = timedelta(hours=24)
REFRESH = timedelta(hours=1)

# What an offline verdict could not check (the verdict's ``not_checked``).
NOT_CHECKED = ("issuance_record", "registry_data", "revocation_details", "superseding_certificate")

# The status list's flags (adapters/status_list.py).
CURRENT, SUPERSEDED, REVOKED = 0, 1, 2


@dataclass(frozen=True)
class StoredStatusList:
    """One build of the signed status list: its compact JWS and what its header and payload say."""

    jws: str
    issued_at: datetime
    next_update: datetime
    kid: str
    listed: int
    covered: int


@dataclass(frozen=True)
class ListAnswer:
    """What the verifier's status list says about one certificate: its ``flag``, the list's dates, or
    the reason code (``problem``) for which the list was refused."""

    flag: int | None = None
    issued_at: datetime | None = None
    next_update: datetime | None = None
    problem: ReasonCode | None = None


@dataclass(frozen=True)
class OfflineVerdict:
    """A verdict reached offline, with what could not be checked and how old the list was."""

    result: VerificationResult
    answer: ListAnswer
    now: datetime

    def as_dict(self, lang: str = "zh") -> dict[str, Any]:
        out = self.result.as_dict(lang)
        a = self.answer
        out["offline"] = True
        out["not_checked"] = list(NOT_CHECKED)
        out["status_list_issued_at"] = in_cst(a.issued_at).isoformat() if a.issued_at else None
        out["status_list_next_update"] = in_cst(a.next_update).isoformat() if a.next_update else None
        out["status_list_age_seconds"] = int((self.now - a.issued_at).total_seconds()) if a.issued_at else None
        out["status_list_problem"] = a.problem.value if a.problem else None
        return out


def _when(t: datetime | None) -> str:
    return in_cst(t).strftime("%Y-%m-%d %H:%M") if t else ""


def judge_offline(result: VerificationResult, answer: ListAnswer, *, today: date, now: datetime) -> VerificationResult:
    """The offline verdict on a certificate whose signature and token verified (``result``, with the
    token's serial and window), given the list's ``answer``."""
    S, R = VerificationStatus, ReasonCode
    unchecked = Reason(R.OFFLINE_UNCHECKED, {"issued_at": _when(answer.issued_at)})
    if answer.problem is not None:  # no list to go by: the status is unknown, and that is the reason
        return _conclude(result, S.INDETERMINATE, (Reason(answer.problem),), {})
    assert answer.issued_at is not None and answer.next_update is not None
    if now >= answer.next_update:
        stale = Reason(
            R.STATUS_LIST_STALE, {"issued_at": _when(answer.issued_at), "next_update": _when(answer.next_update)}
        )
        return _conclude(result, S.INDETERMINATE, (stale, unchecked), {})
    if answer.flag == REVOKED:
        return _conclude(result, S.REVOKED, (Reason(R.REVOKED_LISTED), unchecked), {"current": False})
    if answer.flag == SUPERSEDED:
        return _conclude(result, S.SUPERSEDED, (Reason(R.SUPERSEDED), unchecked), {"current": False})
    assert result.usage_from is not None and result.usage_until is not None
    if today < result.usage_from:
        reason = Reason(R.NOT_YET_VALID, {"since": result.usage_from.isoformat()})
        return _conclude(result, S.NOT_YET_VALID, (reason, unchecked), {"current": True, "window": False})
    if today > result.usage_until:
        reason = Reason(R.EXPIRED, {"until": result.usage_until.isoformat()})
        return _conclude(result, S.EXPIRED, (reason, unchecked), {"current": True, "window": False})
    return _conclude(result, S.VALID, (Reason(R.VALID), unchecked), {"current": True, "window": True})


def _conclude(
    result: VerificationResult, status: VerificationStatus, reasons: tuple[Reason, ...], outcomes: dict[str, bool]
) -> VerificationResult:
    return result._next(status, reasons, MappingProxyType({**result.checks, **outcomes}), None)
