"""SQL repository for renewal applications and their specialties (R-REN-1, R-REN-6).

Concurrency is settled by the database, not by checks that race: one pending application per
specialty is a partial unique index (a second insert fails and is reported as
``application_pending``), and a decision is a conditional ``UPDATE … WHERE status = 'pending'`` (the
loser of two simultaneous decisions updates no row).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from ecert.adapters.db.tables import registrations, renewal_applications, renewal_items
from ecert.domain.errors import RuleRefusal
from ecert.domain.model import ApplicationStatus, RenewalApplication


@dataclass(frozen=True)
class RenewalRequest:
    """What a renewal application states besides its specialties (R-REN-1)."""

    applied_on: date
    ce_hours: int | None
    committed: bool  # the continuing-education commitment
    applied_by: str


@dataclass(frozen=True)
class RenewalDecision:
    """A reviewer's decision on a renewal application (R-REN-6)."""

    status: ApplicationStatus
    decided_by: str
    reason: str | None
    new_valid_until: date | None


class SqlRenewals:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, registration_no: str, items: Mapping[str, date], request: RenewalRequest, at: datetime) -> int:
        """Store a pending application for ``items`` (specialty -> its validity end now); returns its
        id. Raises ``application_pending`` (R-REN-1) when one of the specialties has a pending
        application already — stored first by a concurrent request; the caller's transaction must then
        roll back (nothing of this application is kept)."""
        ra, ri = renewal_applications, renewal_items
        reg_id = self.conn.execute(
            select(registrations.c.id).where(registrations.c.registration_no == registration_no)
        ).scalar_one()
        app_id = int(
            self.conn.execute(
                insert(ra)
                .values(
                    registration_id=reg_id,
                    applied_on=request.applied_on,
                    status=ApplicationStatus.PENDING.value,
                    ce_hours=request.ce_hours,
                    committed=request.committed,
                    applied_by=request.applied_by,
                    created_at=at.astimezone(UTC),
                )
                .returning(ra.c.id)
            ).scalar_one()
        )
        # One lock order on the unique index whatever the caller's order: two overlapping
        # multi-specialty applications cannot deadlock, the second gets application_pending.
        for name in sorted(items):
            try:
                self.conn.execute(
                    insert(ri).values(
                        application_id=app_id,
                        registration_id=reg_id,
                        specialty=name,
                        status=ApplicationStatus.PENDING.value,
                        previous_valid_until=items[name],
                    )
                )
            except IntegrityError:
                raise RuleRefusal("application_pending", rule="R-REN-1", params={"specialty": name}) from None
        return app_id

    def get(self, application_id: int) -> RenewalApplication | None:
        ra, r = renewal_applications, registrations
        row = self.conn.execute(
            select(ra.c.id, ra.c.status, r.c.registration_no, r.c.province_code)
            .join(r, r.c.id == ra.c.registration_id)
            .where(ra.c.id == application_id)
        ).one_or_none()
        if row is None:
            return None
        return RenewalApplication(int(row.id), row.registration_no, row.province_code, ApplicationStatus(row.status))

    def decide(self, application_id: int, decision: RenewalDecision, at: datetime) -> list[str] | None:
        """Record the decision on a pending application and on each of its specialties; returns the
        specialties, in the order they were applied for. None when the application was no longer
        pending (decided by someone else in the meantime): then nothing is written (R-REN-6)."""
        ra, ri, status = renewal_applications, renewal_items, decision.status.value
        claimed = self.conn.execute(
            update(ra)
            .where(ra.c.id == application_id, ra.c.status == ApplicationStatus.PENDING.value)
            .values(
                status=status, decided_by=decision.decided_by, decided_at=at.astimezone(UTC), reason=decision.reason
            )
        ).rowcount
        if claimed != 1:
            return None
        specialties = list(
            self.conn.execute(
                select(ri.c.specialty).where(ri.c.application_id == application_id).order_by(ri.c.id)
            ).scalars()
        )
        self.conn.execute(
            update(ri)
            .where(ri.c.application_id == application_id)
            .values(status=status, new_valid_until=decision.new_valid_until)
        )
        return specialties
