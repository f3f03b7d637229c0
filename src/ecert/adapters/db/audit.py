"""Append-only, tamper-evident audit log (R-ACC-1): each event's hash covers the previous hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, text

from ecert.adapters.db.tables import audit_events

GENESIS = "0" * 64
# Any constant: serialises appends on PostgreSQL so the chain stays linear under concurrency.
_PG_LOCK_KEY = 0x65636572


def canonical(at: datetime, actor: str, action: str, subject: str | None, payload: Mapping[str, Any]) -> str:
    return json.dumps(
        {
            "at": at.astimezone(UTC).isoformat(),
            "actor": actor,
            "action": action,
            "subject": subject,
            "payload": payload,
        },
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )


def chain_hash(prev_hash: str, body: str) -> str:
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


class AuditLog:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def append(self, *, at: datetime, actor: str, action: str, subject: str | None, payload: Mapping[str, Any]) -> str:
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        prev = self.conn.execute(
            select(audit_events.c.hash).order_by(audit_events.c.id.desc()).limit(1)
        ).scalar_one_or_none()
        prev = prev or GENESIS
        # Stored in UTC: SQLite keeps no offset, so one zone everywhere keeps the hash reproducible.
        at_utc = at.astimezone(UTC)
        body = canonical(at_utc, actor, action, subject, payload)
        digest = chain_hash(prev, body)
        self.conn.execute(
            insert(audit_events).values(
                at=at_utc,
                actor=actor,
                action=action,
                subject=subject,
                payload=json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str),
                prev_hash=prev,
                hash=digest,
            )
        )
        return digest

    def verify(self) -> int | None:
        """Id of the first event whose hash does not follow from its predecessor, or None if intact."""
        prev = GENESIS
        rows = self.conn.execute(select(audit_events).order_by(audit_events.c.id))
        for row in rows:
            at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
            body = canonical(at, row.actor, row.action, row.subject, json.loads(row.payload))
            if row.prev_hash != prev or chain_hash(prev, body) != row.hash:
                return int(row.id)
            prev = row.hash
        return None
