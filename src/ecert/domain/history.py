"""What the registry says about a registration on a past date T (issue 13 item 1; R-CHG-1, R-LAPSE-1,
R-REN-5, R-USE-3). Pure: the records come in, the answer goes out; services/history.py reads them.

The rule, in one place (:func:`registration_on`):

- **The state at the end of day T** (China Standard Time, R-DATE-1): every change decided before
  midnight after T counts, none decided later — the employer, the specialties and their validity,
  and which certificates were current — with one exception:
- **a revocation or cancellation effective on or before T counts however late it was decided**
  (R-LAPSE-1): the answer then says when it was decided (``decided_at``), i.e. what was known when.
  One effective after T does not make T invalid; the answer says it came later.
- A specialty is valid on T when the version in force at the end of T lists it, T is on or before
  its ``valid_until``, it is not recorded lapsed or cancelled on or before T, and the holder had not
  reached the age limit on T (R-LAPSE-1).
- A certificate (serial) is valid on T when it was issued by the end of T, T is inside its usage
  window (R-USE-3), it was not superseded by the end of T (R-CHG-1), and the registration is not
  revoked or cancelled effective on or before T.
- The registration is valid on T when it is not ended (as above) and at least one specialty is valid.

Each data version's employer and specialties are recorded when the version ends (``registration_versions``
and ``specialty_versions``, written by adapters/db/registry.py ``supersede``); a version without a
record had the data of the next recorded one (a re-sealing changes no data), the current version
that of the registration row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from ecert.domain import messages
from ecert.domain.certificate import mask_id_number
from ecert.domain.dates import CST, cst_date
from ecert.domain.model import RegistrationStatus, SpecialtyState, SupersessionCause
from ecert.domain.policy import Policy
from ecert.domain.rules.age import age_limit_date


class DateCode(StrEnum):
    """Why an answer about a date is what it is, as stable codes (README "Attestations"); the
    catalogue's ``reason.<code>`` (domain/messages.py) says it in words. Order of appearance in an
    answer: refusals, then the registration, the specialties, the certificate asked about, notes."""

    # refusals: no answer for that date or that thing
    DATE_IN_FUTURE = "date_in_future"
    DATE_BEFORE_ROLLOUT = "date_before_rollout"
    UNKNOWN_REGISTRATION = "unknown_registration"
    # the registration on T
    VALID_ON_DATE = "valid_on_date"
    REVOKED_ON_DATE = "revoked_on_date"
    CANCELLED_ON_DATE = "cancelled_on_date"
    NO_VALID_SPECIALTY_ON_DATE = "no_valid_specialty_on_date"
    # the certificate asked about on T
    CERTIFICATE_VALID_ON_DATE = "certificate_valid_on_date"
    CERTIFICATE_NOT_ISSUED_YET = "certificate_not_issued_yet"
    CERTIFICATE_OUTSIDE_WINDOW = "certificate_outside_window"
    CERTIFICATE_SUPERSEDED_ON_DATE = "certificate_superseded_on_date"
    CERTIFICATE_UNKNOWN = "certificate_unknown"
    # what came later, or was known later
    ENDED_DECIDED_AFTER_DATE = "ended_decided_after_date"
    ENDED_AFTER_DATE = "ended_after_date"
    SUPERSEDED_AFTER_DATE = "superseded_after_date"
    NO_CERTIFICATE_ON_DATE = "no_certificate_on_date"


REFUSALS = frozenset({DateCode.DATE_IN_FUTURE, DateCode.DATE_BEFORE_ROLLOUT, DateCode.UNKNOWN_REGISTRATION})


@dataclass(frozen=True, slots=True)
class DateReason:
    """One reason of an answer: a stable code and what the sentence names."""

    code: DateCode
    params: Mapping[str, str]

    def text(self, lang: str) -> str:
        return messages.text(f"reason.{self.code.value}", lang, self.params)


# ----------------------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class SpecialtyRecord:
    """One specialty as recorded in one data version (``state``: the stored valid/lapsed/cancelled)."""

    specialty: str
    valid_until: date
    state: str = SpecialtyState.VALID.value
    lapse_recorded_on: date | None = None


@dataclass(frozen=True, slots=True)
class VersionRecord:
    """The employer and specialties a registration had during data version ``version``."""

    version: int
    employer_name: str
    employer_uscc: str
    specialties: tuple[SpecialtyRecord, ...]


@dataclass(frozen=True, slots=True)
class SupersessionRecord:
    """The registration reached ``to_version`` at ``at`` for ``cause`` (the supersessions table)."""

    to_version: int
    at: datetime
    cause: str


@dataclass(frozen=True, slots=True)
class CertificateRecordOnFile:
    """An issued certificate as the history needs it."""

    serial: str
    data_version: int
    usage_from: date
    usage_until: date
    issued_at: datetime


@dataclass(frozen=True, slots=True)
class RegistrationRecords:
    """Everything recorded about one registration that an answer for a date reads."""

    registration_no: str
    province_code: str
    name: str
    id_number: str
    birth_date: date
    status: str  # now: active | revoked | cancelled | suspended
    status_basis: str | None
    status_effective: date | None
    ended_at: datetime | None  # when the revocation/cancellation was decided (its supersession)
    current: VersionRecord  # the registration row: the current data version
    versions: Mapping[int, VersionRecord]  # recorded earlier versions
    supersessions: tuple[SupersessionRecord, ...]  # oldest first
    certificates: tuple[CertificateRecordOnFile, ...]


# ----------------------------------------------------------------------------------------- answers


@dataclass(frozen=True, slots=True)
class SpecialtyOnDate:
    """One specialty on T. ``valid_from``: the first day of the registration period covering T when
    the registry knows it (a renewal's approval, R-REN-5), else None (registered before its records)."""

    specialty: str
    valid_from: date | None
    valid_until: date
    valid_on: bool
    state: str  # valid on T, else why not: expired | lapsed | cancelled | age_limit


@dataclass(frozen=True, slots=True)
class EndOnDate:
    """A revocation or cancellation as the answer states it (public part only: no free-text reason)."""

    status: str
    basis: str | None
    effective: date | None
    decided_at: datetime | None
    counts_on_date: bool  # effective on or before T


@dataclass(frozen=True, slots=True)
class CertificateOnDate:
    """A certificate of the registration as it stood on T and since."""

    serial: str
    usage_from: date
    usage_until: date
    issued_at: datetime
    valid_on: bool
    superseded_at: datetime | None  # when it was superseded, if it was (at any time up to now)


@dataclass(frozen=True, slots=True)
class RegistrationOnDate:
    """The answer for one registration and one date T (issue 13 item 1), as known at ``known_at``.

    ``status``: the registration's status on T (``active`` unless ended effective on or before T);
    ``employer_*``: the employer at the end of T; ``valid_serials``: the certificates valid on T;
    ``reason_codes``: :class:`DateCode` values, first the verdict on the registration, then notes;
    ``valid_on_date``: active and at least one specialty valid on T."""

    registration_no: str
    on: date
    known_at: datetime
    status: str
    employer_uscc: str
    employer_name: str
    specialties: tuple[SpecialtyOnDate, ...]
    valid_serials: tuple[str, ...]
    reason_codes: tuple[str, ...]
    valid_on_date: bool
    province_code: str = ""
    name: str = ""
    id_number_masked: str = ""
    end: EndOnDate | None = None
    certificates: tuple[CertificateOnDate, ...] = ()
    current_serial: str | None = None  # the latest certificate not superseded now, if any
    reasons: tuple[DateReason, ...] = ()

    @property
    def refused(self) -> DateReason | None:
        """The refusal (a date in the future or before the rollout), if no answer was given."""
        first = self.reasons[0] if self.reasons else None
        return first if first is not None and first.code in REFUSALS else None

    def specialty(self, name: str) -> SpecialtyOnDate | None:
        return next((s for s in self.specialties if s.specialty == name), None)

    def certificate(self, serial: str) -> CertificateOnDate | None:
        return next((c for c in self.certificates if c.serial == serial), None)


# ----------------------------------------------------------------------------------------- the rule


def end_of_day(on: date) -> datetime:
    """The first instant after day ``on`` in China Standard Time (R-DATE-1), in UTC."""
    return datetime.combine(on + timedelta(days=1), time(), CST).astimezone(UTC)


def rollout_start(province_code: str, policy: Policy) -> date | None:
    """The first day a rollout batch covers the province (R-SCOPE-1), or None if none ever does."""
    starts = [b.starts for b in policy.batches if b.provinces is None or province_code in b.provinces]
    return min(starts) if starts else None


def date_refusal(on: date, *, today: date, province_code: str, policy: Policy) -> DateReason | None:
    """Why no answer is given for ``on`` (a date after today, or before the province's rollout, when
    the registry kept no records), or None when it can be answered."""
    if on > today:
        return DateReason(DateCode.DATE_IN_FUTURE, {"date": on.isoformat(), "today": today.isoformat()})
    start = rollout_start(province_code, policy)
    if start is None or on < start:
        since = start.isoformat() if start else "-"
        return DateReason(DateCode.DATE_BEFORE_ROLLOUT, {"date": on.isoformat(), "since": since})
    return None


def refused(registration_no: str, on: date, now: datetime, reason: DateReason) -> RegistrationOnDate:
    """An answer that is a refusal: not valid, no facts, the one reason."""
    return RegistrationOnDate(
        registration_no=registration_no, on=on, known_at=now, status="unknown", employer_uscc="", employer_name="",
        specialties=(), valid_serials=(), reason_codes=(reason.code.value,), valid_on_date=False, reasons=(reason,),
    )  # fmt: skip


def version_in_force(records: RegistrationRecords, moment: datetime) -> int:
    """The data version in force just before ``moment``: that of the first supersession at or after it."""
    for s in records.supersessions:
        if s.at >= moment:
            return s.to_version - 1
    return records.current.version


def version_data(records: RegistrationRecords, version: int) -> VersionRecord:
    """The employer and specialties of ``version``: its record, else that of the next recorded
    version (a version ends with a record unless nothing printed changed), else the current ones."""
    if version >= records.current.version:
        return records.current
    later = [v for v in records.versions if v >= version]
    return records.versions[min(later)] if later else records.current


def superseded_at(records: RegistrationRecords, data_version: int) -> datetime | None:
    """When a certificate printed from ``data_version`` was superseded (R-CHG-1), or None."""
    return next((s.at for s in records.supersessions if s.to_version > data_version), None)


def _valid_from(records: RegistrationRecords, specialty: str, valid_until: date, upto: int) -> date | None:
    """The approval day of the renewal that set ``valid_until`` (R-REN-5), if the records show it."""
    for s in records.supersessions:
        if s.to_version > upto or s.cause != SupersessionCause.RENEWAL.value:
            continue
        before = version_data(records, s.to_version - 1).specialties
        after = version_data(records, s.to_version).specialties
        was = next((x.valid_until for x in before if x.specialty == specialty), None)
        now = next((x.valid_until for x in after if x.specialty == specialty), None)
        if now == valid_until and was != valid_until:
            return s.at.astimezone(CST).date()
    return None


def _specialty_on(
    records: RegistrationRecords, spec: SpecialtyRecord, on: date, version: int, age_limit: date
) -> SpecialtyOnDate:
    valid_from = _valid_from(records, spec.specialty, spec.valid_until, version)
    recorded = spec.lapse_recorded_on
    state = "valid"
    if spec.state == SpecialtyState.CANCELLED.value and (recorded is None or recorded <= on):
        state = SpecialtyState.CANCELLED.value
    elif on >= age_limit:
        state = "age_limit"
    elif on > spec.valid_until:
        state = SpecialtyState.EXPIRED.value
    elif spec.state == SpecialtyState.LAPSED.value and recorded is not None and recorded <= on:
        state = SpecialtyState.LAPSED.value
    elif valid_from is not None and on < valid_from:
        state = SpecialtyState.EXPIRED.value
    return SpecialtyOnDate(spec.specialty, valid_from, spec.valid_until, state == "valid", state)


def registration_on(records: RegistrationRecords, on: date, *, now: datetime, policy: Policy) -> RegistrationOnDate:
    """The answer for ``on`` from the records, as known at ``now`` (the rule: module docstring). A date
    that cannot be answered (:func:`date_refusal`) gives an answer that is not valid, whose only
    reason is the refusal, with no facts (:attr:`RegistrationOnDate.refused`)."""
    refusal = date_refusal(on, today=cst_date(now), province_code=records.province_code, policy=policy)
    if refusal is not None:
        return refused(records.registration_no, on, now, refusal)
    eod = end_of_day(on)
    moment = min(eod, now)
    version = version_in_force(records, moment)
    data = version_data(records, version)
    reasons: list[DateReason] = []
    notes: list[DateReason] = []

    end: EndOnDate | None = None
    ended_on_date = False
    if records.status != RegistrationStatus.ACTIVE.value:
        eff = records.status_effective
        decided = records.ended_at
        # With no effective date recorded: from its decision, if known; else it counts (the safe side).
        ended_on_date = eff <= on if eff is not None else decided is None or decided < eod
        end = EndOnDate(records.status, records.status_basis, eff, decided, ended_on_date)
        params = {
            "status": records.status,
            "effective": eff.isoformat() if eff else "-",
            "decided": decided.astimezone(CST).date().isoformat() if decided else "-",
            "basis": records.status_basis or "-",
        }
        if ended_on_date:
            code = DateCode.CANCELLED_ON_DATE if records.status == "cancelled" else DateCode.REVOKED_ON_DATE
            reasons.append(DateReason(code, params))
            if decided is not None and decided >= eod:
                notes.append(DateReason(DateCode.ENDED_DECIDED_AFTER_DATE, params))
        else:
            notes.append(DateReason(DateCode.ENDED_AFTER_DATE, params))

    age_limit = age_limit_date(records.birth_date, policy)
    specialties = tuple(_specialty_on(records, s, on, version, age_limit) for s in data.specialties)
    any_specialty = any(s.valid_on for s in specialties)
    if not ended_on_date and not any_specialty:
        reasons.append(DateReason(DateCode.NO_VALID_SPECIALTY_ON_DATE, {"date": on.isoformat()}))
    valid = not ended_on_date and any_specialty
    if valid:
        reasons.insert(0, DateReason(DateCode.VALID_ON_DATE, {"date": on.isoformat()}))

    certificates: list[CertificateOnDate] = []
    for c in sorted(records.certificates, key=lambda c: (c.issued_at, c.serial)):
        gone = superseded_at(records, c.data_version)
        ok = (
            c.issued_at < moment
            and c.usage_from <= on <= c.usage_until
            and (gone is None or gone >= eod)
            and not ended_on_date
        )
        certificates.append(CertificateOnDate(c.serial, c.usage_from, c.usage_until, c.issued_at, ok, gone))
    serials = tuple(c.serial for c in certificates if c.valid_on)
    current = next(
        (c.serial for c in reversed(certificates) if c.superseded_at is None),
        None,
    )
    if valid and not serials:
        notes.append(DateReason(DateCode.NO_CERTIFICATE_ON_DATE, {"date": on.isoformat()}))
    all_reasons = tuple(reasons + notes)
    return RegistrationOnDate(
        registration_no=records.registration_no,
        on=on,
        known_at=now,
        status=records.status if ended_on_date else RegistrationStatus.ACTIVE.value,
        employer_uscc=data.employer_uscc,
        employer_name=data.employer_name,
        specialties=specialties,
        valid_serials=serials,
        reason_codes=tuple(r.code.value for r in all_reasons),
        valid_on_date=valid,
        province_code=records.province_code,
        name=records.name,
        id_number_masked=mask_id_number(records.id_number),
        end=end,
        certificates=tuple(certificates),
        current_serial=current,
        reasons=all_reasons,
    )


def certificate_on(answer: RegistrationOnDate, serial: str) -> tuple[bool, tuple[DateReason, ...]]:
    """For a question about one certificate: valid on T (the registration valid and the serial among
    the valid ones), and the reasons to add about it (after the registration's)."""
    on = answer.on.isoformat()
    cert = answer.certificate(serial)
    if cert is None:
        return False, (DateReason(DateCode.CERTIFICATE_UNKNOWN, {"serial": serial}),)
    eod = end_of_day(answer.on)
    params = {"serial": serial, "date": on, "from": cert.usage_from.isoformat(), "until": cert.usage_until.isoformat()}
    out: list[DateReason] = []
    if cert.issued_at >= min(eod, answer.known_at):
        out.append(DateReason(DateCode.CERTIFICATE_NOT_ISSUED_YET, params))
    elif not cert.usage_from <= answer.on <= cert.usage_until:
        out.append(DateReason(DateCode.CERTIFICATE_OUTSIDE_WINDOW, params))
    elif cert.superseded_at is not None and cert.superseded_at < eod:
        at = cert.superseded_at.astimezone(CST).date().isoformat()
        out.append(DateReason(DateCode.CERTIFICATE_SUPERSEDED_ON_DATE, {**params, "at": at}))
    elif cert.valid_on:
        out.append(DateReason(DateCode.CERTIFICATE_VALID_ON_DATE, params))
        if cert.superseded_at is not None:
            at = cert.superseded_at.astimezone(CST).date().isoformat()
            out.append(DateReason(DateCode.SUPERSEDED_AFTER_DATE, {**params, "at": at}))
    return cert.valid_on and answer.valid_on_date, tuple(out)


def answers_for(
    records: Sequence[RegistrationRecords], on: date, *, now: datetime, policy: Policy
) -> dict[str, RegistrationOnDate]:
    """:func:`registration_on` for many registrations, by registration number."""
    return {r.registration_no: registration_on(r, on, now=now, policy=policy) for r in records}
