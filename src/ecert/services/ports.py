"""Interfaces the services need from adapters; bootstrap picks the concrete ones, tests may fake them.

Documents: the renderer, the seal, the OFD maker and the QR signer. Repositories: what the use cases read and write
through the unit of work (services/unit_of_work.py); the SQL ones are in adapters/db/, the fakes in
tests/fakes.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from ecert.domain.certificate import CertificateContent
from ecert.domain.history import RegistrationRecords
from ecert.domain.model import (
    Employer,
    LapseReason,
    Person,
    Registration,
    RenewalApplication,
    StatusRecord,
    Supersession,
)
from ecert.domain.status_list import StoredStatusList

if TYPE_CHECKING:
    from ecert.adapters.db.registry import Change, HolderImage
    from ecert.adapters.db.reminders import DueReminder, OutboxEntry
    from ecert.adapters.db.renewals import RenewalDecision, RenewalRequest
    from ecert.adapters.db.reseal import ResealItem
    from ecert.adapters.db.rosters import RosterRun
    from ecert.adapters.db.second_factor import FactorState, StaffFactor
    from ecert.adapters.db.subscriptions import Claimed, Outcome, Subscription
    from ecert.adapters.db.users import User
    from ecert.adapters.webhooks import Answer
    from ecert.domain.certificate import CertificateRecord
    from ecert.domain.verification import VerificationSnapshot


class Renderer(Protocol):
    def missing_characters(self, text: str) -> list[str]:
        """Code points of ``text`` that no shipped font covers (never printed as boxes)."""
        ...

    def render(
        self,
        content: CertificateContent,
        *,
        qr_text: str,
        signature_image: bytes,
        photo: bytes | None,
        metadata: dict[str, str],
    ) -> bytes: ...


class Sealer(Protocol):
    """Applies the seal's PAdES signature (R-DOC-2)."""

    key_id: str  # SHA-256 of the seal certificate, hex

    def seal(self, pdf: bytes, signing_time: datetime) -> bytes: ...


class OfdMaker(Protocol):
    """Renders and seals the certificate as an OFD with the SM2/SM3 electronic seal (R-DOC-6)."""

    key_id: str  # SHA-256 of the SM2 seal certificate, hex

    def make(
        self,
        content: CertificateContent,
        *,
        qr_text: str,
        signature_image: bytes,
        photo: bytes | None,
        metadata: dict[str, str],
        signing_time: datetime,
    ) -> bytes: ...


class QrSigner(Protocol):
    kid: str

    def token(self, serial: str, registration_no: str, usage_from: date, usage_until: date, digest: bytes) -> str: ...

    def url(self, token: str) -> str: ...


@dataclass(frozen=True)
class DocumentServices:
    """``ofd``: None where no SM2 seal is configured (``ofd_problem`` says why: an error code of the
    catalogue, raised when an OFD is asked for)."""

    renderer: Renderer
    sealer: Sealer
    qr: QrSigner
    ofd: OfdMaker | None = None
    ofd_problem: Exception | None = None


# ------------------------------------------------------------------------------------- repositories


class Registrations(Protocol):
    """Registrations, their specialties and images. Every change of printed data goes through
    :meth:`supersede`, :meth:`end`, :meth:`rename_employer` or :meth:`put_image`, which supersede the
    earlier certificates and record when, why and by whom (adapters/db/registry.py ``supersede``)."""

    def get(self, registration_no: str) -> Registration | None: ...

    def get_with_images(self, registration_no: str) -> tuple[Registration, dict[str, bytes]] | None:
        """The registration and its images (kind -> bytes: ``signature``, ``photo``) in one read."""
        ...

    def status_record(self, registration_no: str) -> StatusRecord | None: ...

    def employer_names(self, uscc: str) -> set[str]:
        """The employer names registrations with this credit code carry (empty: none has it)."""
        ...

    def active_registration_of(self, id_number: str, *, besides: str) -> str | None:
        """An active registration other than ``besides`` held under ``id_number``."""
        ...

    def supersessions(self, registration_no: str) -> list[Supersession]:
        """When, why and by whom the registration's printed data changed, oldest first."""
        ...

    def supersede(
        self, registration_no: str, change: Change, *, person: Person | None = None, employer: Employer | None = None
    ) -> int:
        """Store the new ``person`` or ``employer`` data (if given) and supersede every earlier
        certificate in one step; returns the new data version."""
        ...

    def end(self, registration_no: str, record: StatusRecord, *, at: datetime, actor: str) -> int | None:
        """Revoke or cancel the registration (``record``: the new status and why) if it is still
        active, superseding its certificates; the new data version, or None when it was no longer
        active."""
        ...

    def rename_employer(self, uscc: str, name: str, *, at: datetime, actor: str) -> list[str]:
        """Give every registration with the credit code the employer name ``name`` (superseding those
        that change); returns their numbers, sorted."""
        ...

    def renew_specialties(self, registration_no: str, specialties: Sequence[str], valid_until: date) -> None: ...

    def lapse_specialties(
        self,
        registration_no: str,
        specialties: Sequence[str],
        reason: LapseReason,
        today: date,
        *,
        at: datetime | None = None,
    ) -> None:
        """Record the lapse of those of the specialties still stored valid."""
        ...

    def put_image(self, registration_no: str, image: HolderImage, change: Change, *, bump_version: bool = True) -> bool:
        """Store a signature or photo; True if it changed (then, with ``bump_version``, superseding)."""
        ...

    def sweep(
        self, *, today: date, age_birth_cutoff: date, lapse_start: date, now: datetime | None = None
    ) -> tuple[int, int, int]:
        """Record every lapse due on ``today`` (R-LAPSE-1): (lapsed for age, for no renewal, checked)."""
        ...


class Certificates(Protocol):
    def add(self, rec: CertificateRecord) -> str:
        """Store the row; its digest, for the audit event that logs it (R-ACC-1)."""
        ...

    def get(self, serial: str) -> CertificateRecord | None: ...

    def snapshot(self, serial: str) -> VerificationSnapshot | None:
        """The issuance record with its registration's current state, for a verification."""
        ...

    def for_registration(self, registration_no: str) -> list[CertificateRecord]: ...

    def images(self, registration_no: str) -> dict[str, bytes]: ...

    def current_under_key(self, registration_no: str, data_version: int, key_id: str) -> str | None:
        """Serial of a certificate of the registration at ``data_version`` sealed with ``key_id``."""
        ...


class Users(Protocol):
    def get(self, username: str) -> User | None: ...

    def holder_of(self, registration_no: str) -> User | None: ...

    def add(self, user: User, now: datetime) -> None: ...


class ExternalIdentities(Protocol):
    """Platform identities (issuer, subject) linked to accounts (R-ACC-1)."""

    def username_for(self, issuer: str, subject: str) -> str | None: ...

    def subject_of(self, issuer: str, username: str) -> str | None: ...

    def link(self, issuer: str, subject: str, username: str, now: datetime) -> None: ...


class SecondFactors(Protocol):
    """The staff's second factor: TOTP secrets, enrolments, the last accepted step, recovery codes
    (adapters/db/second_factor.py)."""

    def state(self, username: str) -> FactorState | None: ...

    def begin(self, username: str, secret: str) -> None: ...

    def confirm(self, username: str, *, at: datetime, step: int | None, code_hashes: list[str]) -> bool: ...

    def accept_step(self, username: str, step: int) -> bool: ...

    def use_recovery_code(self, username: str, code_hash: str, at: datetime) -> bool: ...

    def recovery_codes_left(self, username: str) -> int: ...

    def reset(self, username: str) -> None: ...

    def staff(self, roles: tuple[str, ...]) -> list[StaffFactor]: ...


class AuditTrail(Protocol):
    """The append-only, tamper-evident audit log (R-ACC-1; a Merkle-tree log, adapters/db/audit.py)."""

    def append(self, *, at: datetime, actor: str, action: str, subject: str | None, payload: Mapping[str, Any]) -> str:
        """Append one event in the caller's transaction; returns its leaf hash (hex)."""
        ...

    def head(self) -> tuple[int, str] | None:
        """The log's last event: (its id, its hash); None while empty."""
        ...


class Renewals(Protocol):
    """Renewal applications (R-REN-1, R-REN-6)."""

    def add(self, registration_no: str, items: Mapping[str, date], request: RenewalRequest, at: datetime) -> int:
        """Store a pending application for ``items`` (specialty -> its validity end now); its id.
        Raises ``application_pending`` (R-REN-1) if a specialty has a pending application already."""
        ...

    def get(self, application_id: int) -> RenewalApplication | None: ...

    def decide(self, application_id: int, decision: RenewalDecision, at: datetime) -> list[str] | None:
        """Record the decision; the specialties applied for, or None if it was no longer pending."""
        ...


class Reminders(Protocol):
    """The renewal-reminder outbox (R-REN-1)."""

    def queue(
        self, *, today: date, last_end: date, opens: Mapping[date, date], born_after: Mapping[date, date]
    ) -> tuple[int, int]:
        """Queue what is due (see adapters/db/reminders.py); (eligible, newly queued)."""
        ...

    def unsent_count(self) -> int: ...

    def due(self, today: date, reminder_id: int | None = None) -> list[DueReminder]: ...

    def claim(self, reminder_id: int, *, max_attempts: int) -> bool: ...

    def record_failure(self, reminder_id: int, error: str) -> None: ...

    def mark_sent(self, reminder_id: int, *, at: datetime, email: str) -> None: ...

    def outbox(self, *, pending: bool = False) -> list[OutboxEntry]: ...


class History(Protocol):
    """What the history that answers for a date reads (domain/history.py), set-based."""

    def records(self, registration_nos: Sequence[str]) -> list[RegistrationRecords]:
        """The records of those of the numbers that exist (unknown ones are left out)."""
        ...

    def registration_of_serial(self, serial: str) -> str | None: ...

    def supersession_of(self, serial: str) -> tuple[datetime | None, str | None]:
        """When the certificate was superseded (None: it is not), and the serial of the registration's
        newest certificate that is current now (None: there is none)."""
        ...


class ResealWorklist(Protocol):
    """Registrations whose certificates are to be issued again under a new seal key."""

    @property
    def holds_claims(self) -> bool:
        """Whether a claimed item stays locked against other workers until the transaction ends."""
        ...

    def plan(self, plan_id: str, *, key_id: str, today: date, at: datetime, actor: str) -> int:
        """List the registrations with a current certificate under another key and supersede them
        (cause ``reseal``); how many were newly listed."""
        ...

    def pending_count(self) -> int: ...

    def claim_next(self) -> ResealItem | None: ...

    def done(self, registration_no: str) -> None: ...


class RosterRuns(Protocol):
    """Roster report runs (services/roster.py): one per report an employer asks for."""

    def add(
        self,
        run_id: str,
        *,
        username: str,
        uscc: str,
        on: date | None,
        name: str,
        data: bytes,
        total: int,
        now: datetime,
    ) -> None: ...

    def get(self, run_id: str) -> RosterRun | None: ...

    def of_user(self, username: str, limit: int = 20) -> list[RosterRun]: ...

    def input_data(self, run_id: str) -> bytes | None: ...

    def report(self, run_id: str, kind: str) -> bytes | None: ...

    def progress(self, run_id: str, done: int, total: int) -> None: ...

    def finish(self, run_id: str, *, counts: dict[str, Any], files: dict[str, bytes], now: datetime) -> None: ...

    def fail(self, run_id: str, *, error: dict[str, Any], now: datetime) -> None: ...


class Subscriptions(Protocol):
    """Subscriptions, the notification outbox and its delivery log (issue 14; adapters/db/subscriptions.py)."""

    def add_client(self, name: str, token_sha256: str, *, created_by: str, now: datetime) -> bool: ...

    def client_of_token(self, token_sha256: str) -> str | None: ...

    def certificate(self, serial: str) -> tuple[int, str, int] | None: ...

    def add(
        self,
        *,
        id: str,
        owner: str,
        registration_id: int,
        serial: str | None,
        data_version: int | None,
        url: str,
        secret: str,
        now: datetime,
    ) -> None: ...

    def get(self, subscription_id: str) -> Subscription | None: ...

    def listing(self, owner: str | None = None, *, limit: int = 1000) -> list[Subscription]: ...

    def activate(self, subscription_id: str, now: datetime) -> None: ...

    def remove(self, subscription_id: str) -> bool: ...

    def claim(self, *, now: datetime, lease_until: datetime, limit: int) -> list[Claimed]: ...

    def finish(self, outcomes: Sequence[Outcome], *, now: datetime, retry_at: dict[str, datetime | None]) -> None: ...

    def redeliver(self, *, event_id: str | None = None, subscription_id: str | None = None, now: datetime) -> int: ...

    def event_subscription(self, event_id: str) -> str | None: ...

    def events(self, subscription_id: str, *, limit: int = 100) -> list[dict[str, Any]]: ...

    def counts(self) -> dict[str, int]: ...

    def event_counts(self) -> dict[str, dict[str, int]]: ...


class WebhookSender(Protocol):
    """Signed notification requests (adapters/webhooks.py)."""

    def check_url(self, url: str) -> object: ...

    def deliver(self, url: str, secret: str, msg_id: str, body: bytes) -> Answer: ...

    def handshake(self, url: str, secret: str, subscription_id: str) -> Answer: ...

    def close(self) -> None: ...


class StatusLists(Protocol):
    """The signed status lists (issue 14 item 2): what a build reads and the lists built."""

    def listed(self) -> tuple[list[tuple[str, int, str | None, str | None]], int]:
        """The superseded (flag 1) and revoked (2) certificates, each with its neighbours in text order
        (serial, flag, previous serial, next serial), and how many certificates were issued."""
        ...

    def add(self, item: StoredStatusList) -> None: ...

    def latest(self) -> StoredStatusList | None: ...
