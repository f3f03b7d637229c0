"""SQL repository for the re-sealing worklist (``reseal_pending``; services/reseal.py says why).

A plan lists, set-based, the registrations whose current certificates carry another seal key and
supersedes them in the same transaction (cause ``reseal``). On PostgreSQL a worker claims
one listed registration at a time ``FOR UPDATE SKIP LOCKED`` and holds it while its certificate is
issued; SQLite has one writer and no row locks (:attr:`SqlResealWorklist.holds_claims` is False).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Connection, DateTime, String, delete, exists, func, insert, literal, select

from ecert.adapters.db.registry import supersede
from ecert.adapters.db.tables import certificates, registrations, reseal_pending
from ecert.domain.model import SupersessionCause

c, r, p = certificates, registrations, reseal_pending


@dataclass(frozen=True)
class ResealItem:
    registration_no: str
    data_version: int  # current: a certificate of this version is current (R-CHG-1)


class SqlResealWorklist:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @property
    def holds_claims(self) -> bool:
        """Whether a claimed item stays locked against other workers until the transaction ends."""
        return self.conn.dialect.name == "postgresql"

    def plan(self, plan_id: str, *, key_id: str, today: date, at: datetime, actor: str) -> int:
        """List every registration with a current certificate — not superseded, registration active,
        usage window not over — sealed with another key than ``key_id``, unless listed already, and
        supersede it. Returns how many were newly listed. Two statements whatever the registry's size."""
        when = at.astimezone(UTC)
        listed = select(p.c.registration_id).where(p.c.registration_id == c.c.registration_id)
        candidates = (
            select(
                c.c.registration_id,
                func.min(c.c.seal_key_id),
                literal(plan_id, String(32)),
                literal(when, DateTime(timezone=True)),
            )
            .join(r, r.c.id == c.c.registration_id)
            .where(
                c.c.seal_key_id != key_id,
                c.c.data_version == r.c.data_version,  # current (R-CHG-1)
                r.c.status == "active",  # a revoked or cancelled registration gets nothing new
                c.c.usage_until >= today,  # over its window it is invalid anyway (R-USE-3)
                ~exists(listed),
            )
            .group_by(c.c.registration_id)
        )
        self.conn.execute(
            insert(p).from_select(["registration_id", "from_key_id", "plan_id", "planned_at"], candidates)
        )
        planned = select(p.c.registration_id).where(p.c.plan_id == plan_id)
        return supersede(
            self.conn, r.c.id.in_(planned), cause=SupersessionCause.RESEAL, at=when, actor=actor, id_set=True
        ).count

    def pending_count(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(p)).scalar_one())

    def claim_next(self) -> ResealItem | None:
        """The first listed registration no other worker holds; on PostgreSQL it stays locked until
        this transaction ends (SQLite renders no FOR UPDATE: one writer, one runner)."""
        row = self.conn.execute(
            select(r.c.registration_no, r.c.data_version)
            .select_from(p)
            .join(r, r.c.id == p.c.registration_id)
            .order_by(p.c.registration_id)
            .limit(1)
            .with_for_update(of=p, skip_locked=True)
        ).one_or_none()
        return None if row is None else ResealItem(row.registration_no, int(row.data_version))

    def done(self, registration_no: str) -> None:
        """Cross the registration off the worklist."""
        reg_id = select(r.c.id).where(r.c.registration_no == registration_no).scalar_subquery()
        self.conn.execute(delete(p).where(p.c.registration_id == reg_id))
