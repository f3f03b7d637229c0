"""The schema, as SQLAlchemy Core tables. Alembic migrations under ``migrations/`` create it;
a test checks that the migrated schema matches this metadata."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """An instant, always stored in UTC and always read back aware, in UTC (R-DATE-1: instants are shown
    in China time; the date of an instant is its China-time date, never that of its UTC form).

    SQLite keeps no offset and SQLAlchemy would store an aware value's own wall time there, so a CST
    value and a UTC value would read back 8 hours apart: converting here, once, for every column,
    means no caller has to remember. A naive value is refused (it is not an instant)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: an instant needs its zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)


def _id() -> Column[int]:
    """The surrogate key."""
    return Column("id", Integer, primary_key=True)


def _registration_ref(**kwargs: Any) -> Column[int]:
    """``registration_id``: the owning registration, whose deletion takes the row with it."""
    return Column("registration_id", Integer, ForeignKey("registrations.id", ondelete="CASCADE"), **kwargs)


def _instant(name: str, *, nullable: bool = False, index: bool | None = None) -> Column[datetime]:
    return Column(name, UtcDateTime(), nullable=nullable, index=index)


def _date(name: str, *, nullable: bool = False, index: bool | None = None) -> Column[date]:
    """A calendar date: a day, with no time and no zone."""
    return Column(name, Date, nullable=nullable, index=index)


def _registration_no(**kwargs: Any) -> Column[str]:
    """A registration's number (20 characters)."""
    return Column("registration_no", String(20), **kwargs)


def _specialty() -> Column[str]:
    return Column("specialty", String(16), nullable=False)


def _per_specialty() -> list[Column[Any]]:
    """The key and owner of a row about one specialty of one registration."""
    return [_id(), _registration_ref(nullable=False), _specialty()]


def _pending_status() -> Column[str]:
    """The state of a renewal or of one of its items, pending until decided."""
    return Column("status", String(16), nullable=False, server_default="pending")


registrations = Table(
    "registrations",
    metadata,
    _id(),
    _registration_no(nullable=False, unique=True),
    Column("province_code", String(2), nullable=False, index=True),
    Column("name", Text, nullable=False),
    # Code points outside basic CJK (U+20BB7 …): the certificate renderer needs a fallback font.
    Column("name_rare_chars", Text, nullable=True),
    Column("gender", String(1), nullable=False),
    _date("birth_date", index=True),
    Column("id_number", String(18), nullable=False, index=True),
    Column("employer_name", Text, nullable=False),
    Column("employer_uscc", String(18), nullable=False, index=True),
    Column("status", String(16), nullable=False, server_default="active"),
    Column("status_reason", Text, nullable=True),
    Column("status_basis", Text, nullable=True),
    _date("status_effective", nullable=True),
    Column("ce_hours", Integer, nullable=True),
    Column("email", Text, nullable=True),  # for renewal reminders (optional import column)
    # Raised whenever data printed on a certificate changes, only by registry.py supersede():
    # certificates carry the version they were issued from, so a newer version supersedes them.
    Column("data_version", Integer, nullable=False, server_default="1"),
    _instant("created_at"),
    _instant("updated_at"),
)

specialty_registrations = Table(
    "specialty_registrations",
    metadata,
    *_per_specialty(),
    _date("valid_until", index=True),
    # Stored: valid / lapsed / cancelled. renewable and expired are derived (rules.lapse).
    Column("state", String(16), nullable=False, server_default="valid"),
    Column("lapse_reason", String(16), nullable=True),
    # The sweep date on which the lapse was recorded (the state itself is derived from the dates).
    _date("lapse_recorded_on", nullable=True),
    UniqueConstraint("registration_id", "specialty", name="uq_specialty_registrations_reg_specialty"),
)

holder_images = Table(
    "holder_images",
    metadata,
    _registration_ref(primary_key=True),
    Column("kind", String(16), primary_key=True),  # signature | photo
    Column("content_type", String(32), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("sha256", String(64), nullable=False),
    _instant("updated_at"),
)

renewal_applications = Table(
    "renewal_applications",
    metadata,
    _id(),
    _registration_ref(nullable=False, index=True),
    _date("applied_on"),
    _pending_status(),
    Column("ce_hours", Integer, nullable=True),
    Column("committed", Boolean, nullable=False),  # R-REN-4: the holder's commitment
    Column("applied_by", Text, nullable=True),
    Column("decided_by", Text, nullable=True),
    _instant("decided_at", nullable=True),
    Column("reason", Text, nullable=True),
    _instant("created_at"),
)

# One row per specialty of an application. The partial unique index makes "one pending
# application per specialty" a database fact, so two applications arriving at once cannot both
# be stored (R-REN-1).
renewal_items = Table(
    "renewal_items",
    metadata,
    _id(),
    Column("application_id", Integer, ForeignKey("renewal_applications.id", ondelete="CASCADE"), nullable=False),
    _registration_ref(nullable=False),
    _specialty(),
    _pending_status(),
    _date("previous_valid_until"),
    _date("new_valid_until", nullable=True),
    Index("ix_renewal_items_application", "application_id"),
    Index(
        "uq_renewal_item_pending",
        "registration_id",
        "specialty",
        unique=True,
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
)

audit_events = Table(
    "audit_events",
    metadata,
    _id(),
    _instant("at"),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("subject", Text, nullable=True),
    Column("payload", Text, nullable=False),  # canonical JSON
    # The event's Merkle leaf hash (RFC 9162: sha256(0x00 || canonical event), hex), made when it is
    # written, with no lock (R-ACC-1, migration 0014). Events written before 0014 keep the hash of the
    # old SHA-256 chain here and their ``prev_hash``; newer ones have no ``prev_hash``.
    Column("prev_hash", String(64), nullable=True),
    Column("hash", String(64), nullable=False),
)

# The audit log's Merkle tree (R-ACC-1; adapters/db/audit.py): the sequencer gives each committed
# event the next leaf index; leaves and checkpoints are only ever added (PostgreSQL refuses UPDATE,
# DELETE and TRUNCATE on them and on audit_events: migration 0014's trigger).
audit_leaves = Table(
    "audit_leaves",
    metadata,
    Column("leaf_index", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("event_id", Integer, nullable=False, unique=True),
    Column("leaf_hash", String(64), nullable=False),
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    # One signed checkpoint (C2SP tlog-checkpoint in a signed note) per tree size the sequencer reached.
    Column("tree_size", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("root_hash", String(64), nullable=False),
    _instant("at"),
    Column("key_id", String(200), nullable=False),  # the signed-note key name and key hash
    Column("note", Text, nullable=False),  # the signed note, exactly as published
    Column("frontier", Text, nullable=False),  # JSON: the perfect subtrees' roots (hex), to append next
)

certificates = Table(
    "certificates",
    metadata,
    # 16 Base32 characters of 80 random bits: not guessable, not enumerable (R-DOC-4).
    Column("serial", String(16), primary_key=True),
    _registration_ref(nullable=False, index=True),
    _registration_no(nullable=False),
    # The registry data version printed; a newer version supersedes this certificate (R-CHG-1).
    Column("data_version", Integer, nullable=False),
    Column("identifier", String(120), nullable=False, unique=True),
    _date("usage_from"),
    _date("usage_until"),
    _date("issue_date"),
    Column("content_digest", String(64), nullable=False),
    Column("seal_key_id", String(64), nullable=False),  # SHA-256 of the seal certificate
    Column("qr_kid", String(8), nullable=False),
    # R-USE-1: who confirmed which window, when.
    Column("confirmed_by", Text, nullable=False),
    _instant("confirmed_at"),
    _instant("issued_at"),
)

users = Table(
    "users",
    metadata,
    _id(),
    Column("username", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),  # holder | reviewer | admin
    Column("province_code", String(2), nullable=True),  # reviewers: their province (R-REN-6)
    _registration_no(nullable=True),  # holders: their registration (R-ACC-1)
    Column("password_hash", Text, nullable=False),  # argon2id
    Column("disabled", Boolean, nullable=False, server_default="0"),
    _instant("created_at"),
    # Staff's second factor (TOTP, RFC 6238; migration 0011): the Base32 secret (set before the
    # enrolment is confirmed), when it was confirmed, the last time step a code was accepted for
    # (that step and earlier ones are refused: no replay). All empty for holders, and after a reset.
    Column("totp_secret", String(200), nullable=True),  # encrypted (adapters/db/second_factor.py SecretBox)
    _instant("totp_enrolled_at", nullable=True),
    Column("totp_last_step", Integer, nullable=True),
    Column("employer_uscc", String(18), nullable=True),  # employers: the one employer they speak for (R-ACC-1)
)

staff_recovery_codes = Table(
    "staff_recovery_codes",
    metadata,
    # A staff member's single-use recovery codes (second factor): SHA-256 of each, never the code.
    _id(),
    Column("username", String(64), nullable=False, index=True),
    Column("code_hash", String(64), nullable=False),
    _instant("created_at"),
    _instant("used_at", nullable=True),
)

reminders = Table(
    "reminders",
    metadata,
    *_per_specialty(),
    # One reminder per renewal window: the window is identified by the validity end it renews.
    _date("valid_until"),
    _date("window_opens"),
    Column("email", Text, nullable=True),
    _date("queued_on"),
    _instant("sent_at", nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=True),
    UniqueConstraint("registration_id", "specialty", "valid_until", name="uq_reminders_window"),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    # SHA-256 of the random cookie value: a database leak gives no usable session.
    Column("token_hash", String(64), primary_key=True),
    Column("username", String(64), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    _instant("created_at"),
    _instant("expires_at"),
    # The enrolment (users.totp_enrolled_at) this session passed the second factor against; it counts
    # only while the two are equal, so a reset ends it (migration 0011).
    _instant("second_factor_enrolled_at", nullable=True),
)

rate_limits = Table(
    "rate_limits",
    metadata,
    # Fixed-window counters shared by every web process (login throttling, R-ACC-1).
    Column("key", String(200), primary_key=True),
    _instant("window_start"),
    Column("count", Integer, nullable=False),
)

reseal_pending = Table(
    "reseal_pending",
    metadata,
    # The worklist of a re-sealing after a seal-key rotation (services/reseal.py): a registration is
    # listed and superseded (registry.py supersede) in one transaction; the row goes once a
    # certificate under the new key exists. A crash in between loses nothing.
    _registration_ref(primary_key=True),
    Column("from_key_id", String(64), nullable=False),  # the seal key of the superseded certificate
    Column("plan_id", String(32), nullable=False),
    _instant("planned_at"),
)

# Tables in our database that these metadata do not describe: procrastinate's job queue on
# PostgreSQL (migration 0006 creates it with procrastinate's own SQL). Schema comparisons skip them.
FOREIGN_TABLE_PREFIX = "procrastinate_"


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic ``include_name`` hook: compare only what :data:`metadata` owns."""
    return not (type_ == "table" and name is not None and name.startswith(FOREIGN_TABLE_PREFIX))


verification_events = Table(
    "verification_events",
    metadata,
    # Every public verification (R-ACC-1): the QR page, the API, a PDF upload, the CLI. Written in
    # batches (adapters/db/verification_log.py); each batch is sealed into the audit chain by one
    # ``verification.batch`` event carrying the batch's id range, count and SHA-256 digest, so an
    # edited, removed or added row is found by the chain check. Nothing about the verifier (no client
    # address): only what was checked and the verdict. BIGINT on PostgreSQL (the QR page alone may
    # log thousands a second); INTEGER PRIMARY KEY on SQLite, its rowid.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    _instant("at"),
    Column("channel", String(8), nullable=False),  # qr (the /V/ page) | pdf (the upload page) | api | cli
    Column("serial", String(16), nullable=True),  # from a token whose signature verified, else none
    _registration_no(nullable=True),
    Column("status", String(16), nullable=False),  # the verdict (docs/cli.md verify.status)
    Column("batch_id", String(32), nullable=False),  # the subject of the batch's audit event
)

supersessions = Table(
    "supersessions",
    metadata,
    # One row per data version a registration reaches after its first: when, why and by
    # whom its earlier certificates were superseded. Written only by adapters/db/registry.py
    # ``supersede``, in the transaction of the change itself. Versions reached before migration 0009
    # have no row. The key is the registration and the version reached (a version is reached once;
    # also the order a registration's history is read in). No foreign key: an import may supersede
    # a million registrations in one statement, and PostgreSQL's per-row check of the reference
    # doubled the cost of recording them; registrations are never deleted.
    Column("registration_id", Integer, primary_key=True),
    Column("to_version", Integer, primary_key=True),
    Column("from_version", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("cause", String(24), nullable=False),  # domain.model.SupersessionCause
    Column("actor", Text, nullable=False),
)

# Holders' single sign-on with the government service platform (OpenID Connect, R-ACC-1).
# The link from a platform identity (issuer, subject) to the holder account it signs in as: nothing
# else of the platform's is kept (the ID number is compared with the registry's, never stored here).
external_identities = Table(
    "external_identities",
    metadata,
    Column("issuer", String(255), primary_key=True),
    Column("subject", String(255), primary_key=True),
    Column("username", String(64), nullable=False),
    _instant("linked_at"),
    # One platform identity per account and issuer.
    UniqueConstraint("issuer", "username", name="uq_external_identities_issuer_username"),
)

# A sign-in on its way through the platform: found again by the hash of its ``state`` and of the
# browser's pre-login cookie, deleted when the callback uses it (single use) or when it expires.
platform_logins = Table(
    "platform_logins",
    metadata,
    Column("state_hash", String(64), primary_key=True),
    Column("browser_hash", String(64), nullable=False),
    Column("nonce", String(64), nullable=False),
    Column("code_verifier", String(128), nullable=False),
    Column("next_path", Text, nullable=True),
    _instant("expires_at"),
)

# The ID token of a session signed in through the platform, for the end-session request's
# ``id_token_hint`` (RP-initiated logout); deleted at sign-out, or with the session's expiry.
platform_sessions = Table(
    "platform_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # the session's (web_sessions.token_hash)
    Column("id_token", Text, nullable=False),
    _instant("expires_at"),
)

# Migration 0012: what each data version of a registration printed, recorded when the version ends
# (issue 13, the history that answers for a date: domain/history.py). Written only by
# adapters/db/registry.py ``supersede``, just before it raises the version, in the transaction of
# the change: one row per version that ended with a change of data (a re-sealing changes none and
# writes none), with the employer and, in ``specialty_versions``, every specialty as it stood.
# Versions ended before migration 0012 were back-filled from the audit events where those say what
# changed (``source`` = ``backfill``). No foreign key, like ``supersessions``: an import may record a
# million in one statement.
registration_versions = Table(
    "registration_versions",
    metadata,
    Column("registration_id", Integer, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("employer_name", Text, nullable=False),
    Column("employer_uscc", String(18), nullable=False),
    Column("source", String(8), nullable=False, server_default="live"),  # live | backfill
)

specialty_versions = Table(
    "specialty_versions",
    metadata,
    Column("registration_id", Integer, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("specialty", String(16), primary_key=True),
    _date("valid_until"),
    Column("state", String(16), nullable=False),
    _date("lapse_recorded_on", nullable=True),
)

roster_runs = Table(
    "roster_runs",
    metadata,
    # One roster report (services/roster.py): an employer's list of registration numbers or zip of
    # certificates, checked for one date. Keyed by a random id, not enumerable; read only by the
    # account that asked (R-ACC-1). ``total``/``done`` feed the progress page; the upload is kept
    # until the report is made (a queue worker in another process reads it), then dropped.
    Column("id", String(32), primary_key=True),
    Column("username", String(64), nullable=False, index=True),
    Column("employer_uscc", String(18), nullable=False),
    _date("on_date", nullable=True),
    Column("status", String(16), nullable=False),  # queued | running | done | failed
    Column("total", Integer, nullable=False),
    Column("done", Integer, nullable=False),
    Column("input_name", Text, nullable=False),
    Column("input_data", LargeBinary, nullable=True),
    Column("counts", Text, nullable=True),  # JSON: the report's counts
    Column("error", Text, nullable=True),  # JSON: the refusal ({"code", "details"}) of a failed run
    Column("report_json", LargeBinary, nullable=True),
    Column("report_pdf", LargeBinary, nullable=True),
    Column("report_csv", LargeBinary, nullable=True),
    _instant("created_at"),
    _instant("finished_at", nullable=True),
)

# Subscriptions and signed notifications (issue 14 item 1; migration 0015, adapters/db/subscriptions.py).
api_clients = Table(
    "api_clients",
    metadata,
    # A relying party's program registered by the authority: it calls the API with a bearer token,
    # of which only the SHA-256 is kept.
    _id(),
    Column("name", String(64), nullable=False, unique=True),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created_by", Text, nullable=False),
    _instant("created_at"),
    Column("disabled", Boolean, nullable=False, server_default="0"),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    # Keyed by a random id (not enumerable). ``owner``: ``user:NAME`` (an employer account) or
    # ``client:NAME`` (an API client). ``serial`` set: only that certificate is watched, while it is
    # current (``data_version`` is the version it printed); empty: the registration. ``secret``: the
    # Standard Webhooks signing key (``whsec_`` + base64), kept as is: the server signs with it.
    Column("id", String(32), primary_key=True),
    Column("owner", String(80), nullable=False, index=True),
    _registration_ref(nullable=False, index=True),
    Column("serial", String(16), nullable=True),
    Column("data_version", Integer, nullable=True),
    Column("url", Text, nullable=False),
    Column("secret", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # pending (handshake not passed) | active
    _instant("created_at"),
    _instant("verified_at", nullable=True),
)

webhook_events = Table(
    "webhook_events",
    metadata,
    # The outbox: one event for one subscription, written in the transaction of the change it tells
    # (adapters/db/registry.py ``supersede``, the sweep). ``id`` is the Standard Webhooks message id
    # (``webhook-id``), the same on every attempt: receivers drop duplicates by it.
    Column("id", String(40), primary_key=True),
    # No foreign key to subscriptions: checking it for 10,000 events doubled the change's cost (bench/notify.py);
    # SqlSubscriptions.remove deletes a subscription's events and log itself.
    Column("subscription_id", String(32), nullable=False, index=True),
    Column("type", String(32), nullable=False),
    Column("cause", String(24), nullable=True),  # domain.model.SupersessionCause, or the lapse reason
    Column("registration_no", String(20), nullable=False),
    Column("serial", String(16), nullable=True),
    _date("effective"),
    Column("basis", Text, nullable=True),  # the legal basis of a revocation or cancellation
    _instant("occurred_at"),
    Column("status", String(16), nullable=False),  # pending | delivered | dead
    Column("attempts", Integer, nullable=False, server_default="0"),
    _instant("next_attempt_at"),
    _instant("locked_until", nullable=True),  # a worker is sending it until then (a killed one: retried after)
    _instant("delivered_at", nullable=True),
    Column("last_error", Text, nullable=True),
    Index("ix_webhook_events_due", "status", "next_attempt_at"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    # The delivery log: one row per request made (or refused before it was made).
    _id(),
    Column("event_id", String(40), ForeignKey("webhook_events.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("subscription_id", String(32), nullable=False, index=True),
    Column("attempt", Integer, nullable=False),
    _instant("at"),
    Column("status_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("duration_ms", Integer, nullable=False),
)

status_lists = Table(
    "status_lists",
    metadata,
    # The signed status lists (issue 14 item 2, adapters/status_list.py): each build's compact JWS,
    # served at /.well-known/ecert-status-list and put in the offline kit; the newest is the one in
    # force, a few before it are kept (services/status_list.py prunes the rest).
    _id(),
    _instant("issued_at", index=True),
    _instant("next_update"),
    Column("kid", String(8), nullable=False),
    Column("listed", Integer, nullable=False),  # certificates in the list (superseded or revoked)
    Column("covered", Integer, nullable=False),  # certificates issued when it was built
    Column("jws", Text, nullable=False),
)
