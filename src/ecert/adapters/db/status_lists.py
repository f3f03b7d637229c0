"""The signed status lists (issue 14 item 2): what a build reads — every certificate's serial and
whether it is superseded or revoked, in one statement — and the lists built, newest first."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select, text

from ecert.adapters.db.tables import status_lists
from ecert.domain.status_list import StoredStatusList

# One row a certificate: 2 when its registration is no longer active (revoked, cancelled, suspended:
# domain/verification.py's ``revoked``), 1 when the registration's data changed since it was issued
# (R-CHG-1: ``superseded``), else 0 — the order judge() applies. The flags of adapters/status_list.py.
FLAGS_SQL = text(
    "SELECT c.serial, CASE WHEN r.status <> 'active' THEN 2 WHEN c.data_version < r.data_version THEN 1 ELSE 0 END "
    "FROM certificates c JOIN registrations r ON r.id = c.registration_id"
)
KEEP = 8  # lists kept: the one in force and a few before it (what a verifier may still hold)


class SqlStatusLists:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def flags(self) -> tuple[list[str], list[int]]:
        """Every issued certificate's serial and flag (0 current, 1 superseded, 2 revoked)."""
        rows = self.conn.execute(FLAGS_SQL).all()
        return [r[0] for r in rows], [int(r[1]) for r in rows]

    def add(self, item: StoredStatusList) -> None:
        self.conn.execute(
            insert(status_lists).values(
                issued_at=item.issued_at, next_update=item.next_update, kid=item.kid, listed=item.listed,
                covered=item.covered, jws=item.jws,
            )
        )  # fmt: skip
        newest = select(status_lists.c.id).order_by(status_lists.c.issued_at.desc(), status_lists.c.id.desc())
        keep = [r[0] for r in self.conn.execute(newest.limit(KEEP))]
        self.conn.execute(delete(status_lists).where(status_lists.c.id.not_in(keep)))

    def latest(self) -> StoredStatusList | None:
        row = self.conn.execute(
            select(status_lists).order_by(status_lists.c.issued_at.desc(), status_lists.c.id.desc()).limit(1)
        ).one_or_none()
        if row is None:
            return None
        return StoredStatusList(row.jws, row.issued_at, row.next_update, row.kid, row.listed, row.covered)
