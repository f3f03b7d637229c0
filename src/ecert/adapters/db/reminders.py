"""SQL repository for the renewal-reminder outbox (R-REN-1; services/reminders.py says when and why).

One reminder per renewal window, never two: ``UNIQUE(registration_id, specialty, valid_until)``. A
message is claimed by ``UPDATE … SET attempts = attempts + 1 WHERE sent_at IS NULL`` in its own
transaction (on PostgreSQL after skipping rows another sender holds, ``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import ColumnElement, Connection, Date, and_, case, exists, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ecert.adapters.db.tables import registrations, reminders, renewal_items, specialty_registrations
from ecert.domain.model import ApplicationStatus

ERROR_LEN = 1000  # characters of a delivery error kept

r, sr, rem, ri = registrations, specialty_registrations, reminders, renewal_items


@dataclass(frozen=True)
class DueReminder:
    """An unsent reminder still due, with what its message needs and the holder's birth date (the
    caller applies the age condition, R-REN-5)."""

    id: int
    attempts: int
    email: str | None
    name: str
    registration_no: str
    specialty: str
    valid_until: date
    window_opens: date
    birth_date: date


@dataclass(frozen=True)
class OutboxEntry:
    registration_no: str
    specialty: str
    valid_until: date
    window_opens: date
    email: str | None
    queued_on: date
    sent_at: datetime | None
    attempts: int
    last_error: str | None


def _due(today: date) -> list[ColumnElement[bool]]:
    """A specialty a reminder is (still) useful for on ``today``: the registration is active, the
    specialty is stored valid and has not ended, and no renewal application is pending for it."""
    pending = exists().where(
        ri.c.registration_id == sr.c.registration_id,
        ri.c.specialty == sr.c.specialty,
        ri.c.status == ApplicationStatus.PENDING.value,
    )
    return [r.c.status == "active", sr.c.state == "valid", sr.c.valid_until >= today, ~pending]


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were stored in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class SqlReminders:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def queue(
        self, *, today: date, last_end: date, opens: Mapping[date, date], born_after: Mapping[date, date]
    ) -> tuple[int, int]:
        """Queue a reminder for every specialty due on ``today`` (see :func:`_due`) whose validity ends
        by ``last_end`` and whose holder was born after ``born_after[valid_until]``, unless one is
        queued for that window already; ``opens[valid_until]`` is the window's first day. Set-based
        (one ``INSERT … SELECT``: both lookups are ``CASE`` expressions, the same on SQLite and
        PostgreSQL) and idempotent. Returns (specialties eligible, reminders newly queued)."""
        window_opens = case(dict(opens), value=sr.c.valid_until)
        birth_limit = case(dict(born_after), value=sr.c.valid_until)
        already = exists().where(
            rem.c.registration_id == sr.c.registration_id,
            rem.c.specialty == sr.c.specialty,
            rem.c.valid_until == sr.c.valid_until,
        )
        eligible = (
            select(
                sr.c.registration_id,
                sr.c.specialty,
                sr.c.valid_until,
                window_opens.label("window_opens"),
                r.c.email,
                literal(today, Date).label("queued_on"),
            )
            .select_from(sr.join(r, r.c.id == sr.c.registration_id))
            .where(*_due(today), sr.c.valid_until <= last_end, r.c.birth_date > birth_limit)
        )
        checked = self.conn.execute(select(func.count()).select_from(eligible.subquery())).scalar_one()
        cols = ["registration_id", "specialty", "valid_until", "window_opens", "email", "queued_on"]
        # NOT EXISTS skips what is queued; ON CONFLICT covers a concurrent run racing past it.
        insert = postgresql.insert if self.conn.dialect.name == "postgresql" else sqlite.insert
        stmt = insert(rem).from_select(cols, eligible.where(~already)).on_conflict_do_nothing()
        # An INSERT's rowcount is dropped with its cursor unless asked for (psycopg would report -1).
        queued = self.conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount
        return int(checked), int(queued)

    def unsent_count(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(rem).where(rem.c.sent_at.is_(None))).scalar_one())

    def due(self, today: date, reminder_id: int | None = None) -> list[DueReminder]:
        """Unsent reminders still due on ``today``, for the window they were queued for (a renewal
        changes ``valid_until``: that window is gone), oldest window first."""
        q = (
            select(
                rem.c.id,
                rem.c.attempts,
                r.c.email,
                r.c.name,
                r.c.registration_no,
                rem.c.specialty,
                rem.c.valid_until,
                rem.c.window_opens,
                r.c.birth_date,
            )
            .select_from(
                rem.join(r, r.c.id == rem.c.registration_id).join(
                    sr, and_(sr.c.registration_id == rem.c.registration_id, sr.c.specialty == rem.c.specialty)
                )
            )
            .where(rem.c.sent_at.is_(None), sr.c.valid_until == rem.c.valid_until, *_due(today))
            .order_by(rem.c.window_opens, rem.c.id)
        )
        if reminder_id is not None:
            q = q.where(rem.c.id == reminder_id)
        return [DueReminder(*row) for row in self.conn.execute(q)]

    def claim(self, reminder_id: int, *, max_attempts: int) -> bool:
        """Take the row for this transaction (counting an attempt), or return False if it is sent,
        has had ``max_attempts`` attempts, or is held by another sender."""
        cond = (rem.c.id == reminder_id, rem.c.sent_at.is_(None), rem.c.attempts < max_attempts)
        # PostgreSQL: skip a row another sender is working on instead of queueing behind its SMTP exchange.
        if (
            self.conn.dialect.name == "postgresql"
            and self.conn.execute(select(rem.c.id).where(*cond).with_for_update(skip_locked=True)).first() is None
        ):
            return False
        # First statement of the transaction on SQLite, so it takes the write lock before reading anything.
        return int(self.conn.execute(update(rem).where(*cond).values(attempts=rem.c.attempts + 1)).rowcount) == 1

    def record_failure(self, reminder_id: int, error: str) -> None:
        self.conn.execute(update(rem).where(rem.c.id == reminder_id).values(last_error=error[:ERROR_LEN]))

    def mark_sent(self, reminder_id: int, *, at: datetime, email: str) -> None:
        """Sent (the server accepted it) at ``at``, to ``email``."""
        self.conn.execute(
            update(rem).where(rem.c.id == reminder_id).values(sent_at=at.astimezone(UTC), email=email, last_error=None)
        )

    def outbox(self, *, pending: bool = False) -> list[OutboxEntry]:
        """The outbox, oldest window first. ``pending``: only what is not sent yet."""
        q = (
            select(
                r.c.registration_no,
                rem.c.specialty,
                rem.c.valid_until,
                rem.c.window_opens,
                rem.c.email,
                rem.c.queued_on,
                rem.c.sent_at,
                rem.c.attempts,
                rem.c.last_error,
            )
            .select_from(rem.join(r, r.c.id == rem.c.registration_id))
            .order_by(rem.c.window_opens, r.c.registration_no, rem.c.specialty, rem.c.valid_until)
        )
        if pending:
            q = q.where(rem.c.sent_at.is_(None))
        return [
            OutboxEntry(
                row.registration_no,
                row.specialty,
                row.valid_until,
                row.window_opens,
                row.email,
                row.queued_on,
                _aware(row.sent_at) if row.sent_at is not None else None,
                int(row.attempts),
                row.last_error,
            )
            for row in self.conn.execute(q)
        ]
