"""Verification of a certificate PDF or a scanned QR text (R-DOC-2, R-DOC-4, R-USE-3, R-CHG-1, R-CHG-3).

Always returns a :class:`VerificationResult`; a bad, forged, truncated or hostile input is a verdict
with reasons, never an exception. The status is the first that applies in this order:

``indeterminate`` (cannot decide: not a PDF, no record) → ``tampered`` (signature broken, content
changed after signing, QR not bound to the document) → ``untrusted`` (not sealed by a trusted seal
root, unknown QR key) → ``revoked`` (registration revoked, cancelled or suspended) → ``superseded``
(printed data changed since issue) → ``not_yet_valid`` / ``expired`` (today outside the usage
window) → ``valid``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ecert.adapters.db.certificates import VerificationSnapshot
from ecert.adapters.pdf_inspect import signed_metadata
from ecert.adapters.qr_token import MAX_TEXT, TokenClaims, TokenError, decode, extract_token
from ecert.domain import messages
from ecert.domain.certificate import CertificateContent, mask_id_number
from ecert.domain.model import RegistrationStatus
from ecert.domain.policy import Policy
from ecert.services.registry import holder_view
from ecert.services.unit_of_work import AbstractUnitOfWork


@dataclass(frozen=True)
class Reason:
    code: str
    params: dict[str, str] = field(default_factory=dict)

    def text(self, lang: str) -> str:
        """In words, from the catalogue (``reason.<code>``, domain/messages.py)."""
        return messages.text(f"reason.{self.code}", lang, self.params)


@dataclass
class VerificationResult:
    """status: docs/cli.md ``verify.status``; reasons: why, in words; checks: each check's outcome
    (None = not reached); holder: the registry's current data (R-CHG-3), ID number masked; token:
    a PDF's QR token, read once the seal and the QR code's signature verified (pages link the
    signature image through it for a genuine verdict only, R-DOC-5; not in :meth:`as_dict`)."""

    status: str
    reasons: list[Reason]
    checks: dict[str, bool | None]
    serial: str | None = None
    registration_no: str | None = None
    usage_from: date | None = None
    usage_until: date | None = None
    holder: dict[str, Any] | None = None
    content: CertificateContent | None = None
    token: str | None = None

    def as_dict(self, lang: str = "zh") -> dict[str, Any]:
        return {
            "status": self.status,
            "reasons": [r.text(lang) for r in self.reasons],
            "serial": self.serial,
            "registration_no": self.registration_no,
            "usage_from": self.usage_from.isoformat() if self.usage_from else None,
            "usage_until": self.usage_until.isoformat() if self.usage_until else None,
            "checks": self.checks,
            "current": self.holder,
        }


@dataclass(frozen=True)
class SignatureVerdict:
    """What the PDF signature check found (adapter-neutral)."""

    readable: bool
    signed: bool
    intact: bool
    trusted: bool
    modified_after_signing: bool


PdfSignatureChecker = Callable[[bytes, datetime], SignatureVerdict]

CHECKS = ("signature", "unmodified", "trusted", "qr_token", "bound", "record", "current", "window")


def _checks() -> dict[str, bool | None]:
    return dict.fromkeys(CHECKS)


# What a verdict page lists as checked, per channel: (line code, the CHECKS it stands for); the words
# are the catalogue's ``check_line.<channel>.<code>`` terms.
CHECK_LINES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "pdf": (
        ("seal", ("signature",)),
        ("unchanged", ("unmodified",)),
        ("trusted", ("trusted",)),
        ("issued", ("qr_token", "bound", "record")),
        ("current", ("current",)),
        ("window", ("window",)),
    ),
    "qr": (
        ("seal", ("qr_token",)),
        ("issued", ("record",)),
        ("current", ("current",)),
        ("window", ("window",)),
    ),
}


@dataclass(frozen=True)
class CheckLine:
    """One line of a verdict page's list of checks: ``passed`` is True or False, or None when the
    check was not made (an earlier one failed, so the verdict was already decided)."""

    channel: str
    code: str
    passed: bool | None

    def text(self, lang: str) -> str:
        return messages.term(f"check_line.{self.channel}", self.code, lang)


def check_lines(checks: Mapping[str, bool | None], channel: str) -> list[CheckLine]:
    """A result's ``checks`` as the verdict page lists them (``channel``: ``pdf`` or ``qr``). A line made
    of several checks failed if any of them failed, else passed only if all of them were made."""
    out: list[CheckLine] = []
    for code, keys in CHECK_LINES[channel]:
        outcomes = [checks.get(k) for k in keys]
        passed = False if False in outcomes else None if None in outcomes else True
        out.append(CheckLine(channel, code, passed))
    return out


def _token_failure(exc: TokenError) -> tuple[str, Reason]:
    if exc.code == "bad_signature":
        return "tampered", Reason("qr_bad_signature")
    if exc.code == "unknown_key":
        return "untrusted", Reason("qr_unknown_key")
    return "indeterminate", Reason("qr_malformed")


def _online(
    uow: AbstractUnitOfWork,
    result: VerificationResult,
    claims: TokenClaims,
    full_digest: bytes | None,
    *,
    today: date,
    policy: Policy,
) -> VerificationResult:
    """Compare with the issuance record and the registry's current state (R-CHG-1, R-CHG-3)."""
    with uow:
        snapshot = uow.certificates.snapshot(claims.serial)
    return judge(result, claims, full_digest, snapshot, today=today, policy=policy)


def judge(
    result: VerificationResult,
    claims: TokenClaims,
    full_digest: bytes | None,
    snapshot: VerificationSnapshot | None,
    *,
    today: date,
    policy: Policy,
) -> VerificationResult:
    """The online verdict from what the registry holds now (one read: :meth:`SqlCertificates.snapshot`)."""
    if snapshot is None:
        result.checks["record"] = False
        result.status, result.reasons = "indeterminate", [Reason("no_record")]
        return result
    record, reg = snapshot.record, snapshot.registration
    matches = (
        record.registration_no == claims.registration_no
        and (record.usage_from, record.usage_until) == (claims.usage_from, claims.usage_until)
        and bytes.fromhex(record.content_digest)[:16] == claims.digest16
        and (full_digest is None or record.content_digest == full_digest.hex())
    )
    result.checks["record"] = matches
    if not matches:
        result.status, result.reasons = "tampered", [Reason("record_mismatch")]
        return result
    current_version = reg.data_version
    view = holder_view(reg, today, policy)
    view["id_number"] = mask_id_number(reg.person.id_number)
    view.pop("has_signature", None)
    view.pop("age65_date", None)  # R-ACC-1: the public view shows no more than the certificate
    view["revocation"] = None  # set below for a revoked, cancelled or suspended registration
    result.holder = view
    if reg.status is not RegistrationStatus.ACTIVE:
        basis, effective = snapshot.status_basis, snapshot.status_effective
        result.checks["current"] = False
        s = reg.status.value
        eff = effective.isoformat() if effective else None
        view["revocation"] = {"status": s, "basis": basis, "effective": eff}
        params = {"status": s, "basis": basis or "", "effective": eff or ""}
        code = "revoked" if basis and eff else "revoked_no_basis" if eff else "revoked_no_details"
        result.status = "revoked"
        result.reasons = [Reason(code, params)]
        return result
    if record.data_version < current_version:
        result.checks["current"] = False
        result.status, result.reasons = "superseded", [Reason("superseded")]
        return result
    result.checks["current"] = True
    if today < record.usage_from:
        result.checks["window"] = False
        result.status, result.reasons = (
            "not_yet_valid",
            [Reason("not_yet_valid", {"since": record.usage_from.isoformat()})],
        )
        return result
    if today > record.usage_until:
        result.checks["window"] = False
        result.status, result.reasons = "expired", [Reason("expired", {"until": record.usage_until.isoformat()})]
        return result
    result.checks["window"] = True
    result.status, result.reasons = "valid", [Reason("valid")]
    return result


TokenDecoder = Callable[[str], TokenClaims]


class VerifiedTokens:
    """``decode`` with a bounded LRU of tokens already verified against ``keys``: the Ed25519 check is
    a pure function of the text and the keys, so a repeat scan skips it. Only tokens that verified
    are kept (a forged one is checked every time and cannot evict genuine ones)."""

    def __init__(self, keys: dict[str, Ed25519PublicKey], maxsize: int = 16_384) -> None:
        self.keys = keys
        self._decode = lru_cache(maxsize=maxsize)(self._verify)

    def _verify(self, text: str) -> TokenClaims:
        return decode(text, self.keys)

    def __call__(self, text: str) -> TokenClaims:
        if len(text) > MAX_TEXT:  # never let hostile long texts into the cache keys
            return decode(text, self.keys)
        return self._decode(text)


def _start_qr(text: str, decode_token: TokenDecoder) -> tuple[VerificationResult, TokenClaims | None]:
    """The offline part of a QR check: the token's layout and signature."""
    result = VerificationResult(status="indeterminate", reasons=[], checks=_checks())
    try:
        claims = decode_token(text)
    except TokenError as exc:
        result.checks["qr_token"] = False
        result.status, reason = _token_failure(exc)
        result.reasons = [reason]
        return result, None
    result.checks["qr_token"] = True
    result.serial, result.registration_no = claims.serial, claims.registration_no
    result.usage_from, result.usage_until = claims.usage_from, claims.usage_until
    return result, claims


def verify_qr(
    uow: AbstractUnitOfWork,
    text: str,
    *,
    keys: dict[str, Ed25519PublicKey],
    today: date,
    policy: Policy,
    decode_token: TokenDecoder | None = None,
) -> VerificationResult:
    """What a scanner read from the QR code → the verdict (R-DOC-4)."""
    result, claims = _start_qr(text, decode_token or (lambda t: decode(t, keys)))
    if claims is None:
        return result
    return _online(uow, result, claims, None, today=today, policy=policy)


SnapshotLoader = Callable[[str], Awaitable["VerificationSnapshot | None"]]


async def verify_qr_async(
    load: SnapshotLoader, text: str, *, decode_token: TokenDecoder, today: date, policy: Policy
) -> VerificationResult:
    """:func:`verify_qr` for an event loop: the same checks and the same :func:`judge`, the registry
    read through ``load`` (serial → :class:`VerificationSnapshot`, one statement)."""
    result, claims = _start_qr(text, decode_token)
    if claims is None:
        return result
    return judge(result, claims, None, await load(claims.serial), today=today, policy=policy)


def verify_pdf(
    uow: AbstractUnitOfWork,
    pdf: bytes,
    *,
    check_signature: PdfSignatureChecker,
    keys: dict[str, Ed25519PublicKey],
    today: date,
    now: datetime,
    policy: Policy,
) -> VerificationResult:
    """Offline checks on the document, then the online state (R-DOC-2, R-CHG-1)."""
    result = VerificationResult(status="indeterminate", reasons=[], checks=_checks())
    sig = check_signature(pdf, now)
    if not sig.readable:
        result.status, result.reasons = "indeterminate", [Reason("not_pdf")]
        return result
    if not sig.signed:
        result.checks["signature"] = False
        result.status, result.reasons = "untrusted", [Reason("not_signed")]
        return result
    result.checks["signature"] = sig.intact
    if not sig.intact:
        result.status, result.reasons = "tampered", [Reason("signature_broken")]
        return result
    result.checks["unmodified"] = not sig.modified_after_signing
    if sig.modified_after_signing:
        result.status, result.reasons = "tampered", [Reason("modified_after_signing")]
        return result
    result.checks["trusted"] = sig.trusted
    if not sig.trusted:
        result.status, result.reasons = "untrusted", [Reason("untrusted_signer")]
        return result
    meta = signed_metadata(pdf)
    content: CertificateContent | None = None
    try:
        if meta is not None:
            content = CertificateContent.from_dict(json.loads(meta["EcertContent"]))
    except (KeyError, ValueError, TypeError):
        content = None
    if meta is None or content is None or "EcertQR" not in meta:
        result.status, result.reasons = "indeterminate", [Reason("no_content")]
        return result
    result.content = content
    result.serial, result.registration_no = content.serial, content.registration_no
    result.usage_from, result.usage_until = content.usage_from, content.usage_until
    try:
        claims = decode(meta["EcertQR"], keys)
    except TokenError as exc:
        result.checks["qr_token"] = False
        result.status, reason = _token_failure(exc)
        result.reasons = [reason]
        return result
    result.checks["qr_token"] = True
    result.token = extract_token(meta["EcertQR"])
    digest = hashlib.sha256(content.canonical_json()).digest()
    bound = (
        claims.digest16 == digest[:16]
        and claims.serial == content.serial
        and claims.registration_no == content.registration_no
        and (claims.usage_from, claims.usage_until) == (content.usage_from, content.usage_until)
    )
    result.checks["bound"] = bound
    if not bound:
        result.status, result.reasons = "tampered", [Reason("qr_not_bound")]
        return result
    return _online(uow, result, claims, digest, today=today, policy=policy)
