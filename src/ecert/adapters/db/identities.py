"""Platform identities linked to accounts (R-ACC-1): (issuer, subject) → user name, in the unit of
work, so a first sign-in creates or links the account, links the identity and writes the audit
events in one transaction."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, insert, select

from ecert.adapters.db.tables import external_identities


class SqlExternalIdentities:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def username_for(self, issuer: str, subject: str) -> str | None:
        t = external_identities
        return self.conn.execute(
            select(t.c.username).where(t.c.issuer == issuer, t.c.subject == subject)
        ).scalar_one_or_none()

    def subject_of(self, issuer: str, username: str) -> str | None:
        """The identity of ``issuer`` already linked to ``username``, if any (one per account and issuer)."""
        t = external_identities
        return self.conn.execute(
            select(t.c.subject).where(t.c.issuer == issuer, t.c.username == username)
        ).scalar_one_or_none()

    def link(self, issuer: str, subject: str, username: str, now: datetime) -> None:
        self.conn.execute(
            insert(external_identities).values(
                issuer=issuer, subject=subject, username=username, linked_at=now.astimezone(UTC)
            )
        )
