"""audit append in one round trip (PostgreSQL)

Create Date: 2026-11-25

Every chained append (R-ACC-1) holds the chain lock until its transaction commits. Taken from
Python, the lock is held across three round trips (lock, read the head, insert) plus the commit,
and under load each of them also waits for the web process's other threads to give back the CPU:
the whole national download rate queued behind it (bench/http.py, py-spy: a quarter of a download's
time waiting in AuditLog.append). ``ecert_audit_append`` takes the lock, reads the head and inserts
with the same hash (SHA-256 over the previous hash and the canonical body, hex) in one call. The
canonical body is still made in Python (adapters/db/audit.py), so the chain check is unchanged.
SQLite needs none of this (one writer at a time). Hand-written.
"""

from __future__ import annotations

from alembic import op

from ecert.adapters.db.migrations.shared import on_postgresql

revision = "0008"
down_revision = "0007"

# The chain lock's key: adapters/db/audit.py _PG_LOCK_KEY, which the tests hold equal to this (a
# migration keeps its own copy: it must create the same function whatever the code becomes later).
LOCK_KEY = 0x65636572
FUNCTION = f"""
CREATE OR REPLACE FUNCTION ecert_audit_append(
    p_at timestamptz, p_actor varchar, p_action varchar, p_subject varchar, p_payload varchar, p_body text
) RETURNS varchar LANGUAGE plpgsql AS $$
DECLARE
    prev varchar;
    digest varchar;
BEGIN
    PERFORM pg_advisory_xact_lock({LOCK_KEY});
    SELECT hash INTO prev FROM audit_events ORDER BY id DESC LIMIT 1;
    prev := coalesce(prev, repeat('0', 64));
    digest := encode(sha256(convert_to(prev || p_body, 'UTF8')), 'hex');
    INSERT INTO audit_events (at, actor, action, subject, payload, prev_hash, hash)
    VALUES (p_at, p_actor, p_action, p_subject, p_payload, prev, digest);
    RETURN digest;
END
$$
"""


def upgrade() -> None:
    if on_postgresql():
        op.execute(FUNCTION)


def downgrade() -> None:
    if on_postgresql():
        op.execute("DROP FUNCTION IF EXISTS ecert_audit_append(timestamptz, varchar, varchar, varchar, varchar, text)")
