"""Verification of a certificate file (PDF, or OFD: R-DOC-6) or a scanned QR text (R-DOC-2, R-DOC-4): the use cases.

Always returns a :class:`~ecert.domain.verification.VerificationResult`; a bad, forged, truncated or
hostile input is a verdict with reasons, never an exception. What a verdict is, the order in which
the statuses apply and the online :func:`~ecert.domain.verification.judge` are domain/verification.py.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date, datetime
from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ecert.adapters.pdf_inspect import signed_metadata
from ecert.adapters.qr_token import MAX_TEXT, TokenError, decode, extract_token
from ecert.domain.certificate import CertificateContent
from ecert.domain.policy import Policy
from ecert.domain.status_list import ListAnswer, OfflineVerdict, judge_offline

# The verdict types, imported from here by the entrypoints until they import them from the domain.
from ecert.domain.verification import (
    DocumentCheck,
    Reason,
    ReasonCode,
    SignatureVerdict,
    TokenClaims,
    VerificationResult,
    VerificationSnapshot,
    VerificationStatus,
    checks_made,
    judge,
    token_failure,
)
from ecert.services.unit_of_work import AbstractUnitOfWork

PdfSignatureChecker = Callable[[bytes, datetime], SignatureVerdict]
OfdSignatureChecker = Callable[[bytes, datetime], DocumentCheck]

ZIP_MAGIC = b"PK\x03\x04"  # an OFD is a zip package (GB/T 33190); a PDF starts with %PDF


def is_ofd(data: bytes) -> bool:
    """Whether ``data`` is to be read as an OFD package (R-DOC-6) rather than as a PDF."""
    return data[:4] == ZIP_MAGIC


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
        verdict = judge(result, claims, full_digest, snapshot, today=today, policy=policy)
        if verdict.status is VerificationStatus.SUPERSEDED:
            verdict = _superseded(uow, verdict)
    return verdict


def _superseded(uow: AbstractUnitOfWork, result: VerificationResult) -> VerificationResult:
    """Inside an open unit of work: a superseded verdict with the current serial and when (R-CHG-1)."""
    if result.serial is None:
        return result
    at, current = uow.history.supersession_of(result.serial)
    return replace(result, superseded_by=current, superseded_at=at)


def with_supersession(uow: AbstractUnitOfWork, result: VerificationResult) -> VerificationResult:
    """A superseded verdict reached without the unit of work (the QR page's async read), completed."""
    if result.status is not VerificationStatus.SUPERSEDED:
        return result
    with uow:
        return _superseded(uow, result)


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


_TOKEN_VERIFIED = checks_made(qr_token=True)  # read-only: one for every QR check


def _start_qr(text: str, decode_token: TokenDecoder) -> tuple[VerificationResult, TokenClaims | None]:
    """The offline part of a QR check: the token's layout and signature."""
    try:
        claims = decode_token(text)
    except TokenError as exc:
        return VerificationResult().concluded(*token_failure(exc.code), qr_token=False), None
    result = VerificationResult(
        checks=_TOKEN_VERIFIED,
        serial=claims.serial,
        registration_no=claims.registration_no,
        usage_from=claims.usage_from,
        usage_until=claims.usage_until,
    )
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
    check_ofd: OfdSignatureChecker | None = None,
) -> VerificationResult:
    """Offline checks on the document, then the online state (R-DOC-2, R-CHG-1). ``pdf`` may be an OFD
    package (R-DOC-6) when ``check_ofd`` is given: the same checks, statuses and reason codes."""
    if check_ofd is not None and is_ofd(pdf):
        check = check_ofd(pdf, now)
    else:
        verdict = check_signature(pdf, now)
        check = DocumentCheck(verdict, None, signed_metadata(pdf) if verdict.trusted else None)
    result = _verify_checked(uow, check, keys=keys, today=today, policy=policy)
    sig = check.verdict
    if sig.appended_after_signing and sig.intact and not sig.modified_after_signing:
        # Bytes after the sealed revision: the verdict stands on the sealed revision (the data shown
        # are read from it, adapters/pdf_inspect.py), and the reader is told (issue 16 §3).
        result = result.noted(Reason(ReasonCode.CONTENT_AFTER_SEAL))
    return result


# The OFD seal check's problems (adapters/signing/ofd_seal.py) that make a package unreadable, with the
# reason they are given (R-DOC-6); any other unreadable package is not a certificate file. A file that
# starts as a zip but does not read as one (``not_zip``: truncated, a broken directory) is a package
# that cannot be read, as the reason says, not a file of an unknown kind.
_PACKAGE_REASONS = {
    "too_large": ReasonCode.PACKAGE_TOO_LARGE,
    "zip_bomb": ReasonCode.PACKAGE_TOO_LARGE,
    "unsafe_path": ReasonCode.PACKAGE_UNSAFE_PATH,
    "not_zip": ReasonCode.PACKAGE_MALFORMED,
    "not_ofd": ReasonCode.PACKAGE_MALFORMED,
    "malformed": ReasonCode.PACKAGE_MALFORMED,
}


def _verify_checked(
    uow: AbstractUnitOfWork,
    check: DocumentCheck,
    *,
    keys: dict[str, Ed25519PublicKey],
    today: date,
    policy: Policy,
) -> VerificationResult:
    def online(result: VerificationResult, claims: TokenClaims, digest: bytes) -> VerificationResult:
        return _online(uow, result, claims, digest, today=today, policy=policy)

    return _check_document(check, keys=keys, decide=online)


# What follows the document's own checks (seal, content, QR token, binding): the registry's verdict
# online (:func:`_online`), the status list's offline (:func:`verify_pdf_offline`).
Decide = Callable[[VerificationResult, TokenClaims, bytes], VerificationResult]


def _check_document(check: DocumentCheck, *, keys: dict[str, Ed25519PublicKey], decide: Decide) -> VerificationResult:
    S, R = VerificationStatus, ReasonCode
    result = VerificationResult()
    sig = check.verdict
    if not sig.readable:
        return result.concluded(S.INDETERMINATE, Reason(_PACKAGE_REASONS.get(check.problem or "", R.NOT_PDF)))
    if not sig.signed:
        return result.concluded(S.UNTRUSTED, Reason(R.NOT_SIGNED), signature=False)
    if not sig.intact:
        return result.concluded(S.TAMPERED, Reason(R.SIGNATURE_BROKEN), signature=False)
    if sig.modified_after_signing:
        return result.concluded(S.TAMPERED, Reason(R.MODIFIED_AFTER_SIGNING), signature=True, unmodified=False)
    if not sig.trusted:
        reason = Reason(R.UNTRUSTED_SIGNER)
        return result.concluded(S.UNTRUSTED, reason, signature=True, unmodified=True, trusted=False)
    result = result.checked(signature=True, unmodified=True, trusted=True)
    meta = check.metadata
    content: CertificateContent | None = None
    try:
        if meta is not None:
            content = CertificateContent.from_dict(json.loads(meta["EcertContent"]))
    except (KeyError, ValueError, TypeError):
        content = None
    if meta is None or content is None or "EcertQR" not in meta:
        return result.concluded(S.INDETERMINATE, Reason(R.NO_CONTENT))
    result = replace(
        result,
        content=content,
        serial=content.serial,
        registration_no=content.registration_no,
        usage_from=content.usage_from,
        usage_until=content.usage_until,
    )
    try:
        claims = decode(meta["EcertQR"], keys)
    except TokenError as exc:
        return result.concluded(*token_failure(exc.code), qr_token=False)
    digest = hashlib.sha256(content.canonical_json()).digest()
    bound = (
        claims.digest16 == digest[:16]
        and claims.serial == content.serial
        and claims.registration_no == content.registration_no
        and (claims.usage_from, claims.usage_until) == (content.usage_from, content.usage_until)
    )
    result = replace(result, token=extract_token(meta["EcertQR"]))
    if not bound:
        return result.concluded(S.TAMPERED, Reason(R.QR_NOT_BOUND), qr_token=True, bound=False)
    return decide(result.checked(qr_token=True, bound=True), claims, digest)


# --------------------------------------------------------------------------------- offline (issue 14)

ListLookup = Callable[[str], ListAnswer]


def verify_qr_offline(
    text: str, *, keys: dict[str, Ed25519PublicKey], lookup: ListLookup, unreached: ListAnswer, today: date,
    now: datetime,
) -> OfflineVerdict:  # fmt: skip
    """What a scanner read → the verdict without the registry (domain/status_list.py): the token's
    signature and window, the status from the signed list (``lookup``: serial → its answer;
    ``unreached``: the list's dates, for a token that did not verify)."""
    result, claims = _start_qr(text, lambda t: decode(t, keys))
    if claims is None:
        return OfflineVerdict(result, unreached, now)
    answer = lookup(claims.serial)
    return OfflineVerdict(judge_offline(result, answer, today=today, now=now), answer, now)


def verify_pdf_offline(
    data: bytes, *, check_signature: PdfSignatureChecker, check_ofd: OfdSignatureChecker | None,
    keys: dict[str, Ed25519PublicKey], lookup: ListLookup, unreached: ListAnswer, today: date, now: datetime,
) -> OfflineVerdict:  # fmt: skip
    """A certificate file (PDF or OFD) → the verdict without the registry: the seal against the kit's
    roots, the content bound to the QR token, the token's signature and window, the status from the list."""
    if check_ofd is not None and is_ofd(data):
        check = check_ofd(data, now)
    else:
        verdict = check_signature(data, now)
        check = DocumentCheck(verdict, None, signed_metadata(data) if verdict.trusted else None)
    answers: list[ListAnswer] = []

    def offline(result: VerificationResult, claims: TokenClaims, digest: bytes) -> VerificationResult:
        answers.append(lookup(claims.serial))
        return judge_offline(result, answers[0], today=today, now=now)

    result = _check_document(check, keys=keys, decide=offline)
    return OfflineVerdict(result, answers[0] if answers else unreached, now)
