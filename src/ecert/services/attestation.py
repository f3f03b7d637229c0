"""Attestation (issue 13 item 2): one signed answer to "was it valid on date T?".

The question names a registration, or a certificate (a file or a QR text, verified first exactly as
``verify`` does, then asked about by its serial). The answer is domain/history.py's
:func:`~ecert.domain.history.registration_on`, the facts behind it (no more personal data than the QR
page shows: the ID number masked), when it was known, the key id and the audit chain's head at the
time of the answer; signed as a compact JWS over its RFC 8785 form (adapters/signing/jws.py).

Refusals (nothing signed): a date after today or before the province's rollout
(``date_in_future``, ``date_before_rollout``), an unknown registration (``not_found``), a file or QR
text that does not verify as one of our certificates (``not_attestable``, with its verification reason).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from ecert.domain import history, provinces
from ecert.domain.dates import in_cst
from ecert.domain.errors import BadInput, NotFound, Problem, RuleRefusal
from ecert.domain.history import DateReason, RegistrationOnDate
from ecert.domain.policy import Policy
from ecert.domain.verification import VerificationResult, VerificationStatus
from ecert.services.changes import parse_date
from ecert.services.unit_of_work import AbstractUnitOfWork

SCHEMA = "ecert.attestation/1"
# Verdicts on a certificate that say it is ours (whatever its standing now): it can be asked about.
ATTESTABLE = frozenset(
    {
        VerificationStatus.VALID,
        VerificationStatus.EXPIRED,
        VerificationStatus.NOT_YET_VALID,
        VerificationStatus.SUPERSEDED,
        VerificationStatus.REVOKED,
    }
)
LANGS = ("zh", "en")


def parse_day(value: str, column: str = "date") -> date:
    """The date asked about, ``YYYY-MM-DD``, or ``bad_input`` naming the option or field (the same
    check and sentence as every other date the services read: changes.parse_date)."""
    probs: list[Problem] = []
    day = parse_date(value, column, probs)
    if day is None:
        raise BadInput(probs)
    return day


class DocumentSigner(Protocol):
    """Signs a JSON document as a compact JWS (adapters/signing/jws.py ``JwsSigner``)."""

    @property
    def kid(self) -> str: ...

    def sign(self, document: Mapping[str, Any]) -> str: ...


@dataclass(frozen=True)
class Attestation:
    """The signed answer: ``document`` (what is signed), ``jws`` (compact), and the answer it came from."""

    document: dict[str, Any]
    jws: str
    answer: RegistrationOnDate
    serial: str | None

    @property
    def valid_on_date(self) -> bool:
        return bool(self.document["answer"]["valid_on_date"])

    def as_dict(self, lang: str = "zh") -> dict[str, Any]:
        """The CLI/API JSON (docs/cli.md ``attest``)."""
        reasons = self.document["answer"]["reasons"]
        return {
            "valid_on_date": self.valid_on_date,
            "date": self.answer.on.isoformat(),
            "reasons": [r["en" if lang == "en" else "zh"] for r in reasons],
            "reason_codes": [r["code"] for r in reasons],
            "serials": list(self.answer.valid_serials),
            "attestation": self.jws,
            "document": self.document,
        }


def _iso(moment: datetime | None) -> str | None:
    return in_cst(moment).isoformat() if moment is not None else None


def _reasons(reasons: tuple[DateReason, ...]) -> list[dict[str, str]]:
    return [{"code": r.code.value, **{lang: r.text(lang) for lang in LANGS}} for r in reasons]


def document(
    answer: RegistrationOnDate,
    *,
    serial: str | None,
    asked_at: datetime,
    kid: str,
    audit_head: tuple[int, str] | None,
) -> dict[str, Any]:
    """The attestation's JSON (README "Attestations"), before signing."""
    reasons = answer.reasons
    valid = answer.valid_on_date
    certificate: dict[str, Any] | None = None
    if serial is not None:
        valid, about = history.certificate_on(answer, serial)
        reasons = (*reasons, *about)
        cert = answer.certificate(serial)
        if cert is not None:
            gone = cert.superseded_at is not None
            certificate = {
                "serial": cert.serial,
                "usage_from": cert.usage_from.isoformat(),
                "usage_until": cert.usage_until.isoformat(),
                "issued_at": _iso(cert.issued_at),
                "valid_on_date": cert.valid_on,
                "superseded_at": _iso(cert.superseded_at),
                # R-CHG-1: the current certificate's serial, never its file
                "superseded_by": answer.current_serial if gone and answer.current_serial != serial else None,
            }
    end = answer.end
    return {
        "schema": SCHEMA,
        "question": {
            "what": "certificate" if serial is not None else "registration",
            "registration_no": answer.registration_no,
            "serial": serial,
            "date": answer.on.isoformat(),
            "asked_at": _iso(asked_at),
        },
        "answer": {
            "valid_on_date": valid,
            "reason_codes": [r.code.value for r in reasons],
            "reasons": _reasons(reasons),
        },
        "facts": {
            "registration_no": answer.registration_no,
            "name": answer.name,
            "id_number": answer.id_number_masked,
            "province": provinces.abbreviation(answer.province_code) if answer.province_code else None,
            "status_on_date": answer.status,
            "employer": {"name": answer.employer_name, "uscc": answer.employer_uscc},
            "specialties": [
                {
                    "specialty": s.specialty,
                    "valid_from": s.valid_from.isoformat() if s.valid_from else None,
                    "valid_until": s.valid_until.isoformat(),
                    "valid_on_date": s.valid_on,
                    "state": s.state,
                }
                for s in answer.specialties
            ],
            "serials_valid_on_date": list(answer.valid_serials),
            "certificate": certificate,
            # public part only: the legal basis and dates, never the free-text reason (R-LAPSE-1)
            "end": None
            if end is None
            else {
                "status": end.status,
                "basis": end.basis,
                "effective": end.effective.isoformat() if end.effective else None,
                "decided_at": _iso(end.decided_at),
                "counts_on_date": end.counts_on_date,
            },
        },
        "known_at": _iso(answer.known_at),
        "key_id": kid,
        "audit": None if audit_head is None else {"head": audit_head[1], "event_id": audit_head[0]},
    }


def attest(
    uow: AbstractUnitOfWork,
    registration_no: str,
    on: date,
    *,
    now: datetime,
    policy: Policy,
    signer: DocumentSigner,
    serial: str | None = None,
) -> Attestation:
    """The signed answer for a registration (or one of its certificates, ``serial``) on ``on``."""
    with uow:
        records = uow.history.records([registration_no])
        head = uow.audit.head()
    if not records:
        raise NotFound("registration_no", registration_no)
    answer = history.registration_on(records[0], on, now=now, policy=policy)
    refusal = answer.refused
    if refusal is not None:
        raise RuleRefusal(refusal.code.value, rule="R-SCOPE-1", params=dict(refusal.params))
    doc = document(answer, serial=serial, asked_at=now, kid=signer.kid, audit_head=head)
    return Attestation(doc, signer.sign(doc), answer, serial)


def attest_verified(
    uow: AbstractUnitOfWork,
    verdict: VerificationResult,
    on: date,
    *,
    now: datetime,
    policy: Policy,
    signer: DocumentSigner,
    lang: str = "zh",
) -> Attestation:
    """The signed answer for the certificate a file or QR text is, once ``verify`` found it ours;
    otherwise ``not_attestable`` with the verification's reason."""
    if verdict.status not in ATTESTABLE or verdict.serial is None or verdict.registration_no is None:
        first = verdict.reasons[0] if verdict.reasons else None
        params = {
            "status": verdict.status.value,
            "reason_code": first.code.value if first else "",
            "reason": first.text(lang) if first else "",
        }
        raise RuleRefusal("not_attestable", rule="R-DOC-2", params=params)
    return attest(uow, verdict.registration_no, on, now=now, policy=policy, signer=signer, serial=verdict.serial)
