"""audit log as a Merkle-tree transparency log

Create Date: 2026-12-06

The audit log stops being a SHA-256 chain appended under one lock (R-ACC-1; issue 16 item 1;
adapters/db/audit.py): an event is a plain INSERT in its change's transaction, and a sequencer gives
committed events leaf indexes and writes signed checkpoints.

- ``audit_events``: ``prev_hash`` may be empty (new events have none) and ``hash`` (now the event's
  leaf hash) is no longer unique; the events already there keep their chain hashes.
- ``audit_leaves`` (leaf index, event id, leaf hash) and ``audit_checkpoints`` (tree size, root hash,
  time, key id, the signed note, the frontier to append to). The events already there get leaves in
  their current (id) order here; the first sequencer run signs the first checkpoint.
- ``audit.baseline`` events: the digest of every certificate and registration row already there, so
  the check can tell a row edited later (later changes log theirs: ``certificate.issue``,
  ``registry.rows``).
- PostgreSQL: ``ecert_audit_append`` (0008, the chain lock) goes; a trigger refuses UPDATE, DELETE
  and TRUNCATE on ``audit_events``, ``audit_leaves``, ``audit_checkpoints`` and
  ``verification_events``. The application's role should also be granted only SELECT and INSERT
  on them (README, R-ACC-1).

The leaf and digest functions are copied here (a revision must do the same whatever the code becomes);
tests hold them equal to adapters/db/audit.py's. Hand-written.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from ecert.adapters.db.migrations.shared import instant, on_postgresql, primary_key

revision = "0014"
down_revision = "0013"

TABLES = ("audit_events", "audit_leaves", "audit_checkpoints", "verification_events")
GUARD = """
CREATE OR REPLACE FUNCTION ecert_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ecert: % is append-only (R-ACC-1): % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""
CHAIN_LOCK_KEY = 0x65636572  # 0008's, to recreate its function on downgrade
APPEND_FUNCTION = f"""
CREATE OR REPLACE FUNCTION ecert_audit_append(
    p_at timestamptz, p_actor varchar, p_action varchar, p_subject varchar, p_payload varchar, p_body text
) RETURNS varchar LANGUAGE plpgsql AS $$
DECLARE
    prev varchar;
    digest varchar;
BEGIN
    PERFORM pg_advisory_xact_lock({CHAIN_LOCK_KEY});
    SELECT hash INTO prev FROM audit_events ORDER BY id DESC LIMIT 1;
    prev := coalesce(prev, repeat('0', 64));
    digest := encode(sha256(convert_to(prev || p_body, 'UTF8')), 'hex');
    INSERT INTO audit_events (at, actor, action, subject, payload, prev_hash, hash)
    VALUES (p_at, p_actor, p_action, p_subject, p_payload, prev, digest);
    RETURN digest;
END
$$
"""
CERTIFICATE_COLUMNS = (
    "serial", "registration_no", "data_version", "identifier", "usage_from", "usage_until", "issue_date",
    "content_digest", "seal_key_id", "qr_kid", "confirmed_by", "confirmed_at", "issued_at",
)  # fmt: skip
REGISTRATION_COLUMNS = (
    "registration_no", "province_code", "name", "name_rare_chars", "gender", "birth_date", "id_number",
    "employer_name", "employer_uscc", "status", "status_reason", "status_basis", "status_effective", "ce_hours",
    "email", "data_version", "created_at", "updated_at",
)  # fmt: skip
BASELINE_ROWS = 5_000  # certificate digests per ``audit.baseline`` event
CHUNK = 10_000


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def canonical(at: datetime, actor: str, action: str, subject: str | None, payload: Any) -> str:
    doc = {"at": _utc(at).isoformat(), "actor": actor, "action": action, "subject": subject, "payload": payload}
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def leaf_hash(body: str) -> str:
    return hashlib.sha256(b"\x00" + body.encode("utf-8")).hexdigest()


def row_digest(row: Any, columns: tuple[str, ...]) -> str:
    def plain(v: Any) -> Any:
        if isinstance(v, datetime):
            return _utc(v).isoformat()
        return v.isoformat() if isinstance(v, date) else v

    fields = [plain(row[c]) for c in columns]
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def certificate_digest(row: Any) -> str:
    return row_digest(row, CERTIFICATE_COLUMNS)


def _tables() -> tuple[sa.Table, sa.Table, sa.Table]:
    meta = sa.MetaData()
    events = sa.Table(
        "audit_events", meta, sa.Column("id", sa.Integer, primary_key=True), sa.Column("at", sa.DateTime(True)),
        *(sa.Column(n, sa.Text) for n in ("actor", "action", "subject", "payload", "prev_hash", "hash")),
    )  # fmt: skip
    leaves = sa.Table(
        "audit_leaves", meta, sa.Column("leaf_index", sa.BigInteger), sa.Column("event_id", sa.Integer),
        sa.Column("leaf_hash", sa.String(64)),
    )  # fmt: skip
    # Typed as the check reads them (SQLite hands back text for untyped dates and instants).
    types: dict[str, Any] = {
        **dict.fromkeys(("usage_from", "usage_until", "issue_date", "birth_date", "status_effective"), sa.Date()),
        **dict.fromkeys(("confirmed_at", "issued_at", "created_at", "updated_at"), sa.DateTime(timezone=True)),
        **dict.fromkeys(("data_version", "ce_hours"), sa.Integer()),
    }
    certs = sa.Table("certificates", meta, *(sa.Column(n, types.get(n)) for n in CERTIFICATE_COLUMNS))
    sa.Table("registrations", meta, *(sa.Column(n, types.get(n)) for n in REGISTRATION_COLUMNS))
    return events, leaves, certs


def upgrade() -> None:
    conn = op.get_bind()
    if on_postgresql():
        op.execute("DROP FUNCTION IF EXISTS ecert_audit_append(timestamptz, varchar, varchar, varchar, varchar, text)")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_constraint(op.f("uq_audit_events_hash"), type_="unique")
        batch.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=True)
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "audit_leaves",
        sa.Column("leaf_index", big, autoincrement=False, nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("leaf_hash", sa.String(length=64), nullable=False),
        primary_key("audit_leaves", "leaf_index"),
        sa.UniqueConstraint("event_id", name=op.f("uq_audit_leaves_event_id")),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("tree_size", big, autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.String(length=64), nullable=False),
        instant("at"),
        sa.Column("key_id", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("frontier", sa.Text(), nullable=False),
        primary_key("audit_checkpoints", "tree_size"),
    )
    events, leaves, certs = _tables()
    # The events already there, in their current order (their ids): leaves 0, 1, …
    index = 0
    after = 0
    while True:
        rows = conn.execute(sa.select(events).where(events.c.id > after).order_by(events.c.id).limit(CHUNK)).all()
        if not rows:
            break
        batch_rows = []
        for r in rows:
            body = canonical(r.at, r.actor, r.action, r.subject, json.loads(r.payload))
            batch_rows.append({"leaf_index": index, "event_id": r.id, "leaf_hash": leaf_hash(body)})
            index += 1
        conn.execute(sa.insert(leaves), batch_rows)
        after = rows[-1].id
    # The certificate and registration rows already there: their digests, logged (sequenced by the first run).
    now = datetime.now(UTC)
    regs = certs.metadata.tables["registrations"]
    for table, key, columns in (
        (certs, "serial", CERTIFICATE_COLUMNS),
        (regs, "registration_no", REGISTRATION_COLUMNS),
    ):
        digests: dict[str, str] = {}
        for row in conn.execute(sa.select(table).order_by(table.c[key])).mappings():
            digests[str(row[key])] = row_digest(row, columns)
            if len(digests) == BASELINE_ROWS:
                _baseline(conn, events, now, table.name, digests)
                digests = {}
        if digests:
            _baseline(conn, events, now, table.name, digests)
    if on_postgresql():
        op.execute(GUARD)
        for name in TABLES:
            op.execute(
                f"CREATE TRIGGER {name}_append_only BEFORE UPDATE OR DELETE ON {name} "
                "FOR EACH ROW EXECUTE FUNCTION ecert_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {name}_no_truncate BEFORE TRUNCATE ON {name} "
                "FOR EACH STATEMENT EXECUTE FUNCTION ecert_append_only()"
            )


def _baseline(conn: sa.Connection, events: sa.Table, now: datetime, table: str, digests: dict[str, str]) -> None:
    payload = {"table": table, "rows": digests}
    body = canonical(now, "system:migration", "audit.baseline", table, payload)
    conn.execute(
        sa.insert(events),
        {"at": now, "actor": "system:migration", "action": "audit.baseline", "subject": table,
         "payload": json.dumps(payload, ensure_ascii=False, sort_keys=True), "prev_hash": None,
         "hash": leaf_hash(body)},
    )  # fmt: skip


def downgrade() -> None:
    """Back to the chain: the triggers and tree go, every event is chained again in id order."""
    conn = op.get_bind()
    if on_postgresql():
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS ecert_append_only()")
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_leaves")
    events, _, _ = _tables()
    prev = "0" * 64
    for r in conn.execute(sa.select(events).order_by(events.c.id)).all():
        body = canonical(r.at, r.actor, r.action, r.subject, json.loads(r.payload))
        link = hashlib.sha256((prev + body).encode("utf-8")).hexdigest()
        conn.execute(sa.update(events).where(events.c.id == r.id).values(prev_hash=prev, hash=link))
        prev = link
    with op.batch_alter_table("audit_events") as batch:
        batch.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint(op.f("uq_audit_events_hash"), ["hash"])
    if on_postgresql():
        op.execute(APPEND_FUNCTION)
