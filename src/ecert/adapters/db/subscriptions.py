"""SQL repository of subscriptions, the notification outbox and its delivery log (issue 14 item 1).

The outbox is written by :func:`record_supersession` and :func:`record_lapse`, which the registry calls
in the transaction of the change itself (adapters/db/registry.py ``supersede`` — the one place every
supersession, revocation and cancellation passes — and the lapse sweep): one ``INSERT … SELECT``
driven by the subscriptions that watch the registrations changing, so a change of a million
registrations with ten subscriptions costs a join, not a million rows of Python, and a change that
rolls back leaves no event. The connection's ``info`` counts the events written, so the unit of work
can queue the delivery job in the same transaction (adapters/db/unit_of_work.py).

Deliveries are claimed in batches under a lease (``locked_until``): a worker killed mid-delivery
leaves its events claimed until the lease ends, then any worker sends them again with the same
event id (receivers drop the duplicate). On PostgreSQL concurrent workers skip each other's rows
(``FOR UPDATE SKIP LOCKED``); SQLite has one writer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Date,
    Integer,
    String,
    Text,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    update,
)

from ecert.adapters.db.tables import (
    UtcDateTime,
    api_clients,
    certificates,
    registrations,
    specialty_registrations,
    subscriptions,
    webhook_attempts,
    webhook_events,
)
from ecert.domain import subscriptions as subs
from ecert.domain.dates import CST
from ecert.domain.model import SupersessionCause

OUTBOX_KEY = "ecert.outbox_events"  # Connection.info: events written in the current transaction


def _event_id(conn: Connection) -> ColumnElement[str]:
    """A random message id, made by the database (``msg_`` + 32 hex digits), one per inserted row."""
    if conn.dialect.name == "postgresql":
        return literal_column("'msg_' || replace(gen_random_uuid()::text, '-', '')", String)
    return literal_column("'msg_' || lower(hex(randomblob(16)))", String)


def _count(conn: Connection, n: int) -> int:
    if n > 0:
        conn.info[OUTBOX_KEY] = conn.info.get(OUTBOX_KEY, 0) + n
    return n


def _watching(conn: Connection, which: ColumnElement[bool], *values: ColumnElement[Any]) -> Any:
    """A new event id, the subscription, registration number and serial, then ``values``, for each
    subscription (recorded for: pending or active) on the registrations ``which`` picks — one on a
    serial only while that certificate is the current one."""
    s, r, c = subscriptions, registrations, certificates
    latest = (
        select(c.c.serial)
        .where(c.c.registration_id == r.c.id, c.c.data_version == r.c.data_version)
        .order_by(c.c.issued_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(_event_id(conn), s.c.id, r.c.registration_no, func.coalesce(s.c.serial, latest), *values)
        .select_from(s.join(r, r.c.id == s.c.registration_id))
        .where(
            which,
            s.c.status.in_(subs.RECORDED_FOR),
            or_(s.c.data_version.is_(None), s.c.data_version == r.c.data_version),
        )
    )


_EVENT_COLUMNS = [
    "id",
    "subscription_id",
    "registration_no",
    "serial",
    "type",
    "cause",
    "effective",
    "basis",
    "occurred_at",
    "status",
    "attempts",
    "next_attempt_at",
]


def _insert_events(
    conn: Connection,
    which: ColumnElement[bool],
    *,
    type_: str,
    cause: str | None,
    effective: date,
    basis: str | None,
    at: datetime,
) -> int:
    when = at.astimezone(UTC)
    due = datetime.now(UTC)  # sending is scheduled in real time, whatever ECERT_TODAY says (services/subscriptions.py)
    source = _watching(
        conn,
        which,
        literal(type_, String(32)),
        literal(cause, String(24)),
        literal(effective, Date),
        literal(basis, Text),
        literal(when, UtcDateTime()),
        literal(subs.EVENT_PENDING, String(16)),
        literal(0, Integer),
        literal(due, UtcDateTime()),
    )
    # RETURNING, not rowcount: the PostgreSQL driver reports -1 for an INSERT … SELECT here.
    written = conn.execute(insert(webhook_events).from_select(_EVENT_COLUMNS, source).returning(webhook_events.c.id))
    return _count(conn, len(written.all()))


def record_supersession(
    conn: Connection,
    which: ColumnElement[bool],
    *,
    cause: SupersessionCause,
    at: datetime,
    effective: date | None = None,
    basis: str | None = None,
) -> int:
    """The events of a supersession (R-CHG-1), revocation or cancellation (R-LAPSE-1) of the
    registrations ``which`` picks, for every subscription watching them. Call it in the change's
    transaction while ``which`` still picks them (before the update). Returns the events written."""
    day = effective or subs.effective_day(at)
    return _insert_events(
        conn,
        which,
        type_=subs.event_type_for(cause),
        cause=cause.value,
        effective=day,
        basis=basis if cause in (SupersessionCause.REVOCATION, SupersessionCause.CANCELLATION) else None,
        at=at,
    )


def record_lapse(
    conn: Connection, lapsing: ColumnElement[bool], *, reason: str, today: date, at: datetime | None = None
) -> int:
    """The events of specialties about to lapse (``lapsing``, a condition on specialty_registrations,
    still true before the update): one per watching subscription and registration."""
    sr = specialty_registrations
    which = exists().where(sr.c.registration_id == registrations.c.id, lapsing)
    when = at or datetime.combine(today, time(0), CST)
    return _insert_events(
        conn, which, type_=subs.REGISTRATION_LAPSED, cause=reason, effective=today, basis=None, at=when
    )


# ------------------------------------------------------------------------------------------ records


@dataclass(frozen=True)
class Subscription:
    id: str
    owner: str
    registration_no: str
    serial: str | None
    url: str
    secret: str
    status: str
    created_at: datetime
    verified_at: datetime | None

    def as_dict(self, *, with_secret: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "owner": self.owner,
            "scope": "certificate" if self.serial else "registration",
            "registration_no": self.registration_no,
            "serial": self.serial,
            "url": self.url,
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "verified_at": self.verified_at.isoformat() if self.verified_at else None,
        }
        if with_secret:
            out["secret"] = self.secret
        return out


@dataclass(frozen=True)
class Claimed:
    """An event claimed for sending, with where and how to sign it."""

    event: subs.Event
    attempt: int
    url: str
    secret: str


@dataclass(frozen=True)
class Outcome:
    """What one request of a delivery came to."""

    event_id: str
    subscription_id: str
    attempt: int
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int


def _sub(row: Any) -> Subscription:
    return Subscription(
        row.id, row.owner, row.registration_no, row.serial, row.url, row.secret, row.status, row.created_at,
        row.verified_at,
    )  # fmt: skip


def _event(row: Any) -> subs.Event:
    return subs.Event(
        id=row.id,
        subscription_id=row.subscription_id,
        type=row.type,
        cause=row.cause,
        registration_no=row.registration_no,
        serial=row.serial,
        effective=row.effective,
        basis=row.basis,
        occurred_at=row.occurred_at,
    )


class SqlSubscriptions:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # ---------------------------------------------------------------- API clients
    def add_client(self, name: str, token_sha256: str, *, created_by: str, now: datetime) -> bool:
        """Register an API client; False when the name is taken."""
        if self.conn.execute(select(api_clients.c.id).where(api_clients.c.name == name)).first() is not None:
            return False
        self.conn.execute(
            insert(api_clients).values(name=name, token_sha256=token_sha256, created_by=created_by, created_at=now)
        )
        return True

    def client_of_token(self, token_sha256: str) -> str | None:
        a = api_clients
        row = self.conn.execute(
            select(a.c.name).where(a.c.token_sha256 == token_sha256, a.c.disabled.is_(False))
        ).first()
        return None if row is None else str(row.name)

    # ---------------------------------------------------------------- subscriptions
    def certificate(self, serial: str) -> tuple[int, str, int] | None:
        """(registration id, registration number, data version printed) of the certificate ``serial``."""
        c = certificates
        row = self.conn.execute(
            select(c.c.registration_id, c.c.registration_no, c.c.data_version).where(c.c.serial == serial)
        ).first()
        return None if row is None else (int(row.registration_id), str(row.registration_no), int(row.data_version))

    def add(
        self,
        *,
        id: str,
        owner: str,
        registration_id: int,
        serial: str | None,
        data_version: int | None,
        url: str,
        secret: str,
        now: datetime,
    ) -> None:
        self.conn.execute(
            insert(subscriptions).values(
                id=id,
                owner=owner,
                registration_id=registration_id,
                serial=serial,
                data_version=data_version,
                url=url,
                secret=secret,
                status=subs.PENDING,
                created_at=now,
            )
        )

    def _select(self) -> Any:
        s, r = subscriptions, registrations
        return select(
            s.c.id, s.c.owner, r.c.registration_no, s.c.serial, s.c.url, s.c.secret, s.c.status, s.c.created_at,
            s.c.verified_at,
        ).select_from(s.join(r, r.c.id == s.c.registration_id))  # fmt: skip

    def get(self, subscription_id: str) -> Subscription | None:
        row = self.conn.execute(self._select().where(subscriptions.c.id == subscription_id)).first()
        return None if row is None else _sub(row)

    def listing(self, owner: str | None = None, *, limit: int = 1000) -> list[Subscription]:
        stmt = self._select().order_by(subscriptions.c.created_at, subscriptions.c.id).limit(limit)
        if owner is not None:
            stmt = stmt.where(subscriptions.c.owner == owner)
        return [_sub(row) for row in self.conn.execute(stmt)]

    def activate(self, subscription_id: str, now: datetime) -> None:
        self.conn.execute(
            update(subscriptions)
            .where(subscriptions.c.id == subscription_id)
            .values(status=subs.ACTIVE, verified_at=now)
        )

    def remove(self, subscription_id: str) -> bool:
        """Delete the subscription with its events and delivery log."""
        self.conn.execute(delete(webhook_attempts).where(webhook_attempts.c.subscription_id == subscription_id))
        self.conn.execute(delete(webhook_events).where(webhook_events.c.subscription_id == subscription_id))
        return bool(self.conn.execute(delete(subscriptions).where(subscriptions.c.id == subscription_id)).rowcount)

    # ---------------------------------------------------------------- the outbox
    def claim(self, *, now: datetime, lease_until: datetime, limit: int) -> list[Claimed]:
        """Up to ``limit`` events due (pending, their time come, not claimed by a live lease) of active
        subscriptions, claimed until ``lease_until``; each claim counts as an attempt."""
        e, s = webhook_events, subscriptions
        due = (
            select(e.c.id)
            .join(s, s.c.id == e.c.subscription_id)
            .where(
                e.c.status == subs.EVENT_PENDING,
                e.c.next_attempt_at <= now,
                or_(e.c.locked_until.is_(None), e.c.locked_until <= now),
                s.c.status == subs.ACTIVE,
            )
            .order_by(e.c.next_attempt_at, e.c.id)
            .limit(limit)
        )
        if self.conn.dialect.name == "postgresql":
            due = due.with_for_update(of=e, skip_locked=True)
        ids = list(self.conn.execute(due).scalars())
        if not ids:
            return []
        self.conn.execute(update(e).where(e.c.id.in_(ids)).values(locked_until=lease_until, attempts=e.c.attempts + 1))
        rows = self.conn.execute(
            select(e, s.c.url, s.c.secret).join(s, s.c.id == e.c.subscription_id).where(e.c.id.in_(ids))
        ).all()
        return [Claimed(_event(row), int(row.attempts), row.url, row.secret) for row in rows]

    def finish(self, outcomes: Sequence[Outcome], *, now: datetime, retry_at: dict[str, datetime | None]) -> None:
        """Record the outcomes: delivered, or back to pending at ``retry_at[id]``, or dead (``None``)."""
        if not outcomes:
            return
        e = webhook_events
        self.conn.execute(
            insert(webhook_attempts),
            [
                {
                    "event_id": o.event_id,
                    "subscription_id": o.subscription_id,
                    "attempt": o.attempt,
                    "at": now,
                    "status_code": o.status_code,
                    "error": o.error,
                    "duration_ms": o.duration_ms,
                }
                for o in outcomes
            ],
        )
        delivered = [o.event_id for o in outcomes if o.ok]
        if delivered:
            self.conn.execute(
                update(e)
                .where(e.c.id.in_(delivered))
                .values(status=subs.EVENT_DELIVERED, delivered_at=now, locked_until=None, last_error=None)
            )
        for o in outcomes:
            if o.ok:
                continue
            when = retry_at.get(o.event_id)
            values: dict[str, Any] = {"locked_until": None, "last_error": o.error}
            if when is None:
                values["status"] = subs.EVENT_DEAD
            else:
                values["next_attempt_at"] = when
            self.conn.execute(update(e).where(e.c.id == o.event_id).values(**values))

    def redeliver(self, *, event_id: str | None = None, subscription_id: str | None = None, now: datetime) -> int:
        """Queue again, with a fresh count of tries, the event ``event_id`` (delivered or dead: a
        receiver that lost it asks again) or every dead event of ``subscription_id``."""
        e = webhook_events
        if event_id is not None:
            which = e.c.id == event_id
        else:
            which = and_(e.c.subscription_id == subscription_id, e.c.status == subs.EVENT_DEAD)
        return int(
            self.conn.execute(
                update(e)
                .where(which)
                .values(status=subs.EVENT_PENDING, attempts=0, next_attempt_at=now, locked_until=None)
            ).rowcount
        )

    def event_subscription(self, event_id: str) -> str | None:
        e = webhook_events
        return self.conn.execute(select(e.c.subscription_id).where(e.c.id == event_id)).scalar_one_or_none()

    def events(self, subscription_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
        """The subscription's events, newest first, each with its delivery state and attempts."""
        e, a = webhook_events, webhook_attempts
        rows = self.conn.execute(
            select(e)
            .where(e.c.subscription_id == subscription_id)
            .order_by(e.c.occurred_at.desc(), e.c.id)
            .limit(limit)
        ).all()
        if not rows:
            return []
        tries: dict[str, list[dict[str, Any]]] = {}
        for t in self.conn.execute(
            select(a).where(a.c.event_id.in_([r.id for r in rows])).order_by(a.c.event_id, a.c.id)
        ):
            tries.setdefault(t.event_id, []).append(
                {
                    "attempt": t.attempt,
                    "at": t.at.isoformat(),
                    "status_code": t.status_code,
                    "error": t.error,
                    "duration_ms": t.duration_ms,
                }
            )
        return [
            {
                "event_id": r.id,
                "type": r.type,
                "registration_no": r.registration_no,
                "serial": r.serial,
                "effective_date": r.effective.isoformat(),
                "status": r.status,
                "attempts": r.attempts,
                "next_attempt_at": r.next_attempt_at.isoformat() if r.status == subs.EVENT_PENDING else None,
                "delivered_at": r.delivered_at.isoformat() if r.delivered_at else None,
                "last_error": r.last_error,
                "log": tries.get(r.id, []),
            }
            for r in rows
        ]

    def event_counts(self) -> dict[str, dict[str, int]]:
        """Events of each subscription by state (pending, delivered, dead)."""
        e = webhook_events
        out: dict[str, dict[str, int]] = {}
        stmt = select(e.c.subscription_id, e.c.status, func.count().label("n")).group_by(
            e.c.subscription_id, e.c.status
        )
        for row in self.conn.execute(stmt):
            out.setdefault(row.subscription_id, {})[row.status] = int(row.n)
        return out

    def counts(self) -> dict[str, int]:
        e = webhook_events
        return {
            row.status: int(row.n)
            for row in self.conn.execute(select(e.c.status, func.count().label("n")).group_by(e.c.status))
        }

    def next_due(self) -> datetime | None:
        e = webhook_events
        return self.conn.execute(
            select(func.min(e.c.next_attempt_at)).where(e.c.status == subs.EVENT_PENDING)
        ).scalar_one_or_none()
