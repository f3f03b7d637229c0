"""The signed status lists (issue 14 item 2): what a build reads — the superseded and revoked
certificates, each with its neighbours in sorted order, in one statement — and the lists built."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select, text

from ecert.adapters import status_list as fmt
from ecert.adapters.db.tables import status_lists
from ecert.domain.status_list import StoredStatusList

# Each certificate's flag: 2 when its registration is no longer active (revoked, cancelled, suspended:
# domain/verification.py's ``revoked``), 1 when the registration's data changed since it was issued
# (R-CHG-1: ``superseded``), else 0 — the order judge() applies. The flags of adapters/status_list.py.
_FLAG = "CASE WHEN r.status <> 'active' THEN 2 WHEN c.data_version < r.data_version THEN 1 ELSE 0 END"
FLAGS_SQL = text(f"SELECT c.serial, {_FLAG} FROM certificates c JOIN registrations r ON r.id = c.registration_id")
# On PostgreSQL, the listed certificates only, each with the serials before and after it in text order
# (the database sorts and compares a million serials; the list's prefix length needs only the neighbours:
# adapters/status_list.py ``choose_prefix_bits``, which needs an order character by character: bytewise,
# as the "C" collation — a locale's may sort "CH" as one letter).
_LISTED = (
    "SELECT serial, flag, prev, next FROM (SELECT c.serial AS serial, {flag} AS flag,"
    " LAG(c.serial) OVER (ORDER BY c.serial{collate}) AS prev, LEAD(c.serial) OVER (ORDER BY c.serial{collate}) AS next"
    " FROM certificates c JOIN registrations r ON r.id = c.registration_id) t WHERE flag > 0"
)
LISTED_SQL = text(_LISTED.format(flag=_FLAG, collate=' COLLATE "C"'))  # PostgreSQL
COUNT_SQL = text("SELECT count(*) FROM certificates")
KEEP = 8  # lists kept: the one in force and a few before it (what a verifier may still hold)


class SqlStatusLists:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def listed(self) -> tuple[list[tuple[str, int, str | None, str | None]], int]:
        """The superseded (flag 1) and revoked (2) certificates, each with its neighbours in text order
        (serial, flag, previous serial, next serial), and how many certificates were issued."""
        if self.conn.dialect.name == "sqlite":  # a plain read, the neighbours found in memory (see there)
            every = self.conn.exec_driver_sql(str(FLAGS_SQL)).fetchall()
            listed = fmt.listed_with_neighbours([r[0] for r in every], [int(r[1]) for r in every])
            return listed, len(every)
        rows = [(r[0], int(r[1]), r[2], r[3]) for r in self.conn.execute(LISTED_SQL)]
        return rows, int(self.conn.execute(COUNT_SQL).scalar_one())

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
