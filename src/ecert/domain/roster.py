"""The roster report (issue 13 item 3): what an employer learns about each row of its list of
registration numbers, or of its zip of certificate files, on one date. Pure: the registry's facts on
that date come in (services/history.py answers "valid on date T" — the one place that rule lives),
and each row goes out as a frozen :class:`RosterRow` with stable reason codes.

R-ACC-1: a row naming someone the employer did not employ on that date says only
``not_employed_by_you`` — no name, no specialty, no certificate status, nothing that tells one
registration from another.

A cell a spreadsheet would run as a formula (``=HYPERLINK(…)``, ``+``, ``-``, ``@``, a leading tab or
carriage return, their full-width forms) is never looked up: the row says ``formula_cell``, and every
output shows the cell neutralised (domain/spreadsheet.py, the one rule: a leading apostrophe), so
opening the CSV report runs nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from typing import Any

from ecert.domain import messages
from ecert.domain.errors import BadInput, coded_problem
from ecert.domain.history import RegistrationOnDate
from ecert.domain.ids.registration_no import parse_registration_no
from ecert.domain.model import SPECIALTIES, RegistrationStatus
from ecert.domain.policy import Policy
from ecert.domain.spreadsheet import is_formula, neutralise

SCHEMA = "ecert.roster/1"


class RosterReason(StrEnum):
    """Why a row reads as it does: stable codes (README "Roster reports"); words: ``roster_reason.<code>``."""

    OK = "ok"
    FORMULA_CELL = "formula_cell"
    REGISTRATION_NO_MALFORMED = "registration_no_malformed"
    NOT_FOUND = "not_found"
    DATE_BEFORE_ROLLOUT = "date_before_rollout"
    NOT_EMPLOYED_BY_YOU = "not_employed_by_you"
    REGISTRATION_INACTIVE = "registration_inactive"
    SPECIALTY_UNKNOWN = "specialty_unknown"
    SPECIALTY_NOT_REGISTERED = "specialty_not_registered"
    SPECIALTY_NOT_VALID_ON_DATE = "specialty_not_valid_on_date"
    NO_VALID_SPECIALTY_ON_DATE = "no_valid_specialty_on_date"
    NO_VALID_CERTIFICATE = "no_valid_certificate"
    CERTIFICATE_NOT_VALID = "certificate_not_valid"


@dataclass(frozen=True)
class RosterInput:
    """One row of the roster as read: where it is (the spreadsheet row, or the zip entry's name), the
    registration number and the specialty asked for (both as given, stripped)."""

    row: int
    registration_no: str
    specialty: str = ""
    file: str | None = None  # a zip of certificates: the entry's name


@dataclass(frozen=True)
class CertificateVerdict:
    """A certificate file of a zip, verified exactly as a single upload (services/verification.py)."""

    status: str  # docs/cli.md verify.status
    reason_codes: tuple[str, ...]
    reasons: Mapping[str, tuple[str, ...]]  # lang -> the verdict's sentences
    serial: str | None
    registration_no: str | None  # None unless the document's seal and QR code verified

    @property
    def genuine(self) -> bool:
        """Sealed by us and bound to its QR code: whose certificate it is can be believed."""
        return self.registration_no is not None and self.status not in ("tampered", "untrusted", "indeterminate")


@dataclass(frozen=True)
class RosterRow:
    """One row of the report. ``None`` is "not said": a row not employed by the asker says nothing
    but that (R-ACC-1); a row that was never looked up (a formula, a malformed number) says no more."""

    row: int
    registration_no: str  # neutralised
    specialty: str  # neutralised; "" when none was asked for
    reasons: tuple[RosterReason, ...]
    file: str | None = None
    found: bool | None = None
    employed: bool | None = None
    name: str | None = None
    registration_status: str | None = None
    specialty_valid: bool | None = None
    valid_specialties: tuple[str, ...] | None = None
    certificate_status: str | None = None
    serials: tuple[str, ...] | None = None
    verdict: CertificateVerdict | None = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        return self.reasons == (RosterReason.OK,)

    @property
    def _with_verdict(self) -> bool:
        """A certificate file's verdict reasons follow the row's own, when it did not verify as valid
        (never for a row not employed by the asker, R-ACC-1)."""
        return self.verdict is not None and self.employed is not False and not self.ok

    @property
    def reason_codes(self) -> list[str]:
        codes = [r.value for r in self.reasons]
        if self.verdict is not None and self._with_verdict:
            codes += [c for c in self.verdict.reason_codes if c not in codes]
        return codes

    def reason_texts(self, lang: str) -> list[str]:
        texts = [messages.term("roster_reason", r.value, lang) for r in self.reasons]
        if self.verdict is not None and self._with_verdict:
            texts += list(self.verdict.reasons.get(lang, ()))
        return texts

    def as_dict(self, lang: str = "zh") -> dict[str, Any]:
        out: dict[str, Any] = {"row": self.row}
        if self.file is not None:
            out["file"] = self.file
        out.update(
            registration_no=self.registration_no,
            specialty=self.specialty or None,
            found=self.found,
            employed=self.employed,
            name=self.name,
            registration_status=self.registration_status,
            specialty_valid=self.specialty_valid,
            valid_specialties=None if self.valid_specialties is None else list(self.valid_specialties),
            certificate_status=self.certificate_status,
            serials=None if self.serials is None else list(self.serials),
            ok=self.ok,
            reason_codes=self.reason_codes,
            reasons=self.reason_texts(lang),
        )
        return out


def check_date(on: date, *, today: date, policy: Policy) -> None:
    """Date T is a day the registry can answer for: not after today, not before the first rollout batch."""
    first = min(b.starts for b in policy.batches)
    if on > today:
        raise BadInput([coded_problem("roster_date_future", column="date", date=on.isoformat(), today=today)])
    if on < first:
        raise BadInput([coded_problem("roster_date_before_rollout", column="date", date=on.isoformat(), first=first)])


def _not_looked_up(item: RosterInput) -> RosterReason | None:
    if is_formula(item.registration_no) or is_formula(item.specialty):
        return RosterReason.FORMULA_CELL
    try:
        parse_registration_no(item.registration_no)
    except BadInput:
        return RosterReason.REGISTRATION_NO_MALFORMED
    return None


def lookup_numbers(items: Iterable[RosterInput]) -> list[str]:
    """The registration numbers to read from the registry: those of rows that are looked up."""
    return [i.registration_no for i in items if _not_looked_up(i) is None]


def _status_code(status: Any) -> str:
    return status.value if isinstance(status, RegistrationStatus) else str(status)


def judge_row(
    item: RosterInput, facts: RegistrationOnDate | None, uscc: str, verdict: CertificateVerdict | None = None
) -> RosterRow:
    """The row for ``item`` as employer ``uscc`` may see it, from the registry's ``facts`` on date T
    (None: no such registration) and, for a certificate file, its ``verdict``."""
    shown = RosterRow(
        item.row,
        neutralise(item.registration_no),
        neutralise(item.specialty),
        (),
        file=None if item.file is None else neutralise(item.file),
    )
    if verdict is not None and not verdict.genuine:
        # Not a certificate we can believe: its verdict, as a single upload gives it, and nothing more.
        cert = verdict.status
        return replace(shown, reasons=(RosterReason.CERTIFICATE_NOT_VALID,), certificate_status=cert, verdict=verdict)
    stop = _not_looked_up(item) if verdict is None else None
    if stop is not None:
        return replace(shown, reasons=(stop,))
    if facts is None:
        return replace(shown, reasons=(RosterReason.NOT_FOUND,), found=False)
    if facts.refused is not None:  # before the rollout in its province: the registry has no answer
        return replace(shown, reasons=(RosterReason.DATE_BEFORE_ROLLOUT,), found=True)
    if facts.employer_uscc != uscc:
        return replace(shown, reasons=(RosterReason.NOT_EMPLOYED_BY_YOU,), employed=False)  # R-ACC-1
    reasons: list[RosterReason] = []
    status = _status_code(facts.status)
    if status != RegistrationStatus.ACTIVE.value:
        reasons.append(RosterReason.REGISTRATION_INACTIVE)
    valid = tuple(s.specialty for s in facts.specialties if s.valid_on)
    held = {s.specialty for s in facts.specialties}
    if item.specialty:
        specialty_valid = item.specialty in valid
        if item.specialty not in SPECIALTIES:
            reasons.append(RosterReason.SPECIALTY_UNKNOWN)
        elif item.specialty not in held:
            reasons.append(RosterReason.SPECIALTY_NOT_REGISTERED)
        elif not specialty_valid:
            reasons.append(RosterReason.SPECIALTY_NOT_VALID_ON_DATE)
    else:
        specialty_valid = bool(valid)
        if not valid:
            reasons.append(RosterReason.NO_VALID_SPECIALTY_ON_DATE)
    serials = tuple(facts.valid_serials)
    if verdict is not None:
        cert_status = verdict.status
        if cert_status != "valid":
            reasons.append(RosterReason.CERTIFICATE_NOT_VALID)
    else:
        # The certificate's standing on date T, in verify.status words: a registration that was not
        # active is ``revoked`` (as a verification says, domain/verification.py); else ``valid`` when a
        # certificate was valid that day (services/history.py), ``none`` when none was.
        cert_status = "revoked" if status != RegistrationStatus.ACTIVE.value else "valid" if serials else "none"
        if cert_status == "none":
            reasons.append(RosterReason.NO_VALID_CERTIFICATE)
    return replace(
        shown,
        reasons=tuple(reasons) or (RosterReason.OK,),
        found=True,
        employed=True,
        name=neutralise(facts.name) or None,
        registration_status=status,
        specialty_valid=specialty_valid,
        valid_specialties=valid,
        certificate_status=cert_status,
        serials=serials,
        verdict=verdict,
    )


def counts(rows: Sequence[RosterRow]) -> dict[str, Any]:
    """The report's counts: rows, rows with no problem, and rows by reason code."""
    by_reason: Counter[str] = Counter(code for r in rows for code in r.reason_codes)
    return {
        "rows": len(rows),
        "ok": sum(1 for r in rows if r.ok),
        "not_found": by_reason.get(RosterReason.NOT_FOUND.value, 0),
        "not_employed_by_you": by_reason.get(RosterReason.NOT_EMPLOYED_BY_YOU.value, 0),
        "by_reason": dict(sorted(by_reason.items())),
    }
