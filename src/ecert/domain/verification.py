"""What a verification concluded (R-DOC-2, R-DOC-4, R-USE-3, R-CHG-1, R-CHG-3): the verdict as a frozen
value, its status and stable reason codes, and the pure :func:`judge` of the online part.

The status is the first that applies in this order:

``indeterminate`` (cannot decide: not a PDF, no record) → ``tampered`` (signature broken, content
changed after signing, QR not bound to the document) → ``untrusted`` (not sealed by a trusted seal
root, unknown QR key) → ``revoked`` (registration revoked, cancelled or suspended) → ``superseded``
(printed data changed since issue) → ``not_yet_valid`` / ``expired`` (today outside the usage
window) → ``valid``.

The reason codes travel in the JSON (``reason_codes``); the sentence is the catalogue's
``reason.<code>`` (domain/messages.py), in the reader's language. The use cases that read a PDF or a
QR text and the registry are services/verification.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from ecert.domain import messages
from ecert.domain.certificate import CertificateContent, CertificateRecord, mask_id_number
from ecert.domain.dates import in_cst
from ecert.domain.holder import holder_view
from ecert.domain.model import Registration, RegistrationStatus
from ecert.domain.policy import Policy

# The largest certificate file (PDF or OFD) any entrypoint reads for a check, web or command line:
# an issued certificate is under 1 MB; a bigger file is refused before it is read whole.
MAX_CERTIFICATE_FILE = 5 * 1024 * 1024


class VerificationStatus(StrEnum):
    """docs/cli.md ``verify.status``; the catalogue's ``status.certificate.<status>``."""

    VALID = "valid"
    TAMPERED = "tampered"
    UNTRUSTED = "untrusted"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    SUPERSEDED = "superseded"
    REVOKED = "revoked"
    INDETERMINATE = "indeterminate"


class ReasonCode(StrEnum):
    """Why, as a stable code (docs/cli.md "Verification reasons"); the catalogue's ``reason.<code>``."""

    NOT_PDF = "not_pdf"
    PACKAGE_MALFORMED = "package_malformed"
    PACKAGE_TOO_LARGE = "package_too_large"
    PACKAGE_UNSAFE_PATH = "package_unsafe_path"
    NOT_SIGNED = "not_signed"
    SIGNATURE_BROKEN = "signature_broken"
    MODIFIED_AFTER_SIGNING = "modified_after_signing"
    UNTRUSTED_SIGNER = "untrusted_signer"
    NO_CONTENT = "no_content"
    QR_MALFORMED = "qr_malformed"
    QR_BAD_SIGNATURE = "qr_bad_signature"
    QR_UNKNOWN_KEY = "qr_unknown_key"
    QR_NOT_BOUND = "qr_not_bound"
    NO_RECORD = "no_record"
    RECORD_MISMATCH = "record_mismatch"
    REVOKED = "revoked"
    REVOKED_NO_BASIS = "revoked_no_basis"
    REVOKED_NO_DETAILS = "revoked_no_details"
    SUPERSEDED = "superseded"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    VALID = "valid"
    # offline (domain/status_list.py): the signed status list and what was not checked
    REVOKED_LISTED = "revoked_listed"
    STATUS_LIST_STALE = "status_list_stale"
    STATUS_LIST_MISSING = "status_list_missing"
    STATUS_LIST_MALFORMED = "status_list_malformed"
    STATUS_LIST_UNKNOWN_KEY = "status_list_unknown_key"
    STATUS_LIST_BAD_SIGNATURE = "status_list_bad_signature"
    OFFLINE_UNCHECKED = "offline_unchecked"
    # A note beside the verdict, never a verdict's reason: the file goes on after the sealed revision
    # (bytes or unsigned updates that change nothing the seal covers); the verdict and the data shown
    # are the sealed revision's (issue 16 §3).
    CONTENT_AFTER_SEAL = "content_after_seal"


@dataclass(frozen=True)
class Reason:
    code: ReasonCode
    params: Mapping[str, str] = field(default_factory=dict)

    def text(self, lang: str) -> str:
        """In words, from the catalogue (``reason.<code>``, domain/messages.py)."""
        return messages.text(f"reason.{self.code.value}", lang, self.params)


# Each check a verification makes, in order; a result's ``checks`` maps each to True or False, or
# None when it was not reached (an earlier one failed).
CHECKS = ("signature", "unmodified", "trusted", "qr_token", "bound", "record", "current", "window")

_NONE_CHECKED: Mapping[str, bool | None] = MappingProxyType(dict.fromkeys(CHECKS))


def checks_made(**outcomes: bool) -> Mapping[str, bool | None]:
    """Every check of :data:`CHECKS`, read-only: those named with their outcome, the others None."""
    return MappingProxyType({**_NONE_CHECKED, **outcomes}) if outcomes else _NONE_CHECKED


@dataclass(frozen=True)
class VerificationResult:
    """status: docs/cli.md ``verify.status``; reasons: why, as codes rendered in words; checks: each
    check's outcome (None = not reached); holder: the registry's current data (R-CHG-3), ID number
    masked; token: a PDF's QR token, read once the seal and the QR code's signature verified (pages
    link the signature image through it for a genuine verdict only, R-DOC-5; not in :meth:`as_dict`).

    A frozen value: each step of a verification makes a new one (:meth:`checked`, :meth:`concluded`,
    :func:`dataclasses.replace`); ``checks`` and ``holder`` are read-only mappings."""

    status: VerificationStatus = VerificationStatus.INDETERMINATE
    reasons: tuple[Reason, ...] = ()
    checks: Mapping[str, bool | None] = field(default_factory=checks_made)
    serial: str | None = None
    registration_no: str | None = None
    usage_from: date | None = None
    usage_until: date | None = None
    holder: Mapping[str, Any] | None = None
    content: CertificateContent | None = None
    token: str | None = None
    # R-CHG-1: for a superseded certificate, the current certificate's serial (never its file) and when
    # this one was superseded (services/verification.py ``with_supersession``).
    superseded_by: str | None = None
    superseded_at: datetime | None = None

    def checked(self, **outcomes: bool) -> VerificationResult:
        """This result with the outcomes of the checks named (keys of :data:`CHECKS`) recorded."""
        return self._next(self.status, self.reasons, MappingProxyType({**self.checks, **outcomes}), self.holder)

    def noted(self, reason: Reason) -> VerificationResult:
        """This result with ``reason`` added after the verdict's own (a note: the status is unchanged)."""
        return self._next(self.status, (*self.reasons, reason), self.checks, self.holder)

    def concluded(self, status: VerificationStatus, reason: Reason, **outcomes: bool) -> VerificationResult:
        """The verdict: ``status`` because of ``reason``, with the last checks' outcomes."""
        checks = MappingProxyType({**self.checks, **outcomes}) if outcomes else self.checks
        return self._next(status, (reason,), checks, self.holder)

    def _next(
        self,
        status: VerificationStatus,
        reasons: tuple[Reason, ...],
        checks: Mapping[str, bool | None],
        holder: Mapping[str, Any] | None,
    ) -> VerificationResult:
        # dataclasses.replace, without its generic cost on the QR page's hot path
        return VerificationResult(
            status, reasons, checks, self.serial, self.registration_no, self.usage_from, self.usage_until, holder,
            self.content, self.token, self.superseded_by, self.superseded_at,
        )  # fmt: skip

    @property
    def reason_codes(self) -> list[str]:
        return [r.code.value for r in self.reasons]

    def as_dict(self, lang: str = "zh") -> dict[str, Any]:
        out = self._as_dict(lang)
        if self.status is VerificationStatus.SUPERSEDED:  # docs/cli.md: a superseded certificate adds them
            out["superseded_by"] = self.superseded_by
            out["superseded_at"] = in_cst(self.superseded_at).isoformat() if self.superseded_at else None
        return out

    def _as_dict(self, lang: str) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "reasons": [r.text(lang) for r in self.reasons],
            "reason_codes": self.reason_codes,
            "serial": self.serial,
            "registration_no": self.registration_no,
            "usage_from": self.usage_from.isoformat() if self.usage_from else None,
            "usage_until": self.usage_until.isoformat() if self.usage_until else None,
            "checks": dict(self.checks),
            "current": None if self.holder is None else dict(self.holder),
        }


@dataclass(frozen=True)
class SignatureVerdict:
    """What the seal check of a PDF or an OFD found (adapter-neutral)."""

    readable: bool
    signed: bool
    intact: bool
    trusted: bool
    modified_after_signing: bool
    # The file goes on after the sealed revision, with nothing the seal covers changed (PDF: trailing
    # bytes, unsigned incremental updates within the allowed ones): reported, the verdict unchanged.
    appended_after_signing: bool = False


@dataclass(frozen=True)
class DocumentCheck:
    """What the seal check of a document file found (R-DOC-2, R-DOC-6): the verdict, for an OFD which
    of its checks failed (``problem``, a stable code of adapters/signing/ofd_seal.py), and the
    certificate data the sealed file carries when its seal verified (``EcertContent``, ``EcertQR``)."""

    verdict: SignatureVerdict
    problem: str | None = None
    metadata: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a QR token says (adapters/qr_token.py encodes and verifies it)."""

    serial: str  # Base32 of the 10 serial bytes, 16 characters
    registration_no: str
    usage_from: date
    usage_until: date
    digest16: bytes
    kid: str


@dataclass(frozen=True)
class VerificationSnapshot:
    """Everything the online part of a verification reads, from one statement: the issuance record,
    the registry's current state of its registration and, for a revocation, its public part."""

    record: CertificateRecord
    registration: Registration
    status_basis: str | None
    status_effective: date | None


def token_failure(error_code: str) -> tuple[VerificationStatus, Reason]:
    """The verdict on a QR token that did not verify, from the token error's code."""
    if error_code == "bad_signature":
        return VerificationStatus.TAMPERED, Reason(ReasonCode.QR_BAD_SIGNATURE)
    if error_code == "unknown_key":
        return VerificationStatus.UNTRUSTED, Reason(ReasonCode.QR_UNKNOWN_KEY)
    return VerificationStatus.INDETERMINATE, Reason(ReasonCode.QR_MALFORMED)


def judge(
    result: VerificationResult,
    claims: TokenClaims,
    full_digest: bytes | None,
    snapshot: VerificationSnapshot | None,
    *,
    today: date,
    policy: Policy,
) -> VerificationResult:
    """The online verdict from what the registry holds now (R-CHG-1, R-CHG-3): ``result`` with the
    record, current and window checks and its status, given the registry's ``snapshot``."""
    if snapshot is None:
        return result.concluded(VerificationStatus.INDETERMINATE, Reason(ReasonCode.NO_RECORD), record=False)
    record = snapshot.record
    matches = (
        record.registration_no == claims.registration_no
        and (record.usage_from, record.usage_until) == (claims.usage_from, claims.usage_until)
        and bytes.fromhex(record.content_digest)[:16] == claims.digest16
        and (full_digest is None or record.content_digest == full_digest.hex())
    )
    if not matches:
        return result.concluded(VerificationStatus.TAMPERED, Reason(ReasonCode.RECORD_MISMATCH), record=False)
    status, reason, outcomes = _standing(snapshot, today)
    checks = MappingProxyType({**result.checks, "record": True, **outcomes})
    return result._next(status, (reason,), checks, MappingProxyType(_public_view(snapshot, today, policy)))


def _standing(snapshot: VerificationSnapshot, today: date) -> tuple[VerificationStatus, Reason, dict[str, bool]]:
    """The status of a certificate that matches its issuance record, and the outcomes of the current
    and window checks: revoked → superseded (R-CHG-1) → not yet valid / expired (R-USE-3) → valid."""
    record, reg = snapshot.record, snapshot.registration
    if reg.status is not RegistrationStatus.ACTIVE:
        basis, eff = snapshot.status_basis, snapshot.status_effective
        params = {"status": reg.status.value, "basis": basis or "", "effective": eff.isoformat() if eff else ""}
        code = (
            ReasonCode.REVOKED
            if basis and eff
            else ReasonCode.REVOKED_NO_BASIS
            if eff
            else ReasonCode.REVOKED_NO_DETAILS
        )
        return VerificationStatus.REVOKED, Reason(code, params), {"current": False}
    if record.data_version < reg.data_version:
        return VerificationStatus.SUPERSEDED, Reason(ReasonCode.SUPERSEDED), {"current": False}
    if today < record.usage_from:
        reason = Reason(ReasonCode.NOT_YET_VALID, {"since": record.usage_from.isoformat()})
        return VerificationStatus.NOT_YET_VALID, reason, {"current": True, "window": False}
    if today > record.usage_until:
        reason = Reason(ReasonCode.EXPIRED, {"until": record.usage_until.isoformat()})
        return VerificationStatus.EXPIRED, reason, {"current": True, "window": False}
    return VerificationStatus.VALID, Reason(ReasonCode.VALID), {"current": True, "window": True}


def _public_view(snapshot: VerificationSnapshot, today: date, policy: Policy) -> dict[str, Any]:
    """The registry's current data as a verdict shows them (R-CHG-3): the ID number masked, and for a
    revoked, cancelled or suspended registration its status, legal basis and effective date."""
    reg = snapshot.registration
    view = holder_view(reg, today, policy)
    view["id_number"] = mask_id_number(reg.person.id_number)
    view.pop("has_signature", None)
    view.pop("age65_date", None)  # R-ACC-1: the public view shows no more than the certificate
    view["revocation"] = None
    if reg.status is not RegistrationStatus.ACTIVE:
        eff = snapshot.status_effective
        view["revocation"] = {
            "status": reg.status.value,
            "basis": snapshot.status_basis,
            "effective": eff.isoformat() if eff else None,
        }
    return view


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
