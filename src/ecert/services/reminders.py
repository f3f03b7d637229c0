"""Renewal reminders (R-REN-1): an outbox of holders whose renewal window opens soon, and its delivery.

One reminder per renewal window, never two: a window is identified by the validity end it renews,
so ``UNIQUE(registration_id, specialty, valid_until)`` makes "queued once" a database fact, and a
renewal (a new validity end) is a new window that gets its own reminder later.

Delivery and exactly-once. An SMTP server and the database cannot share a transaction, so each
message gets its own transaction: claim the row (``UPDATE … SET attempts = attempts + 1 WHERE
sent_at IS NULL``, which locks it against a concurrent sender), hand the message to the server,
then set ``sent_at`` and commit. A row is marked sent only after the server accepted the message,
so nothing is ever marked sent that was not delivered. The one gap is a crash (or a failed commit)
after the server accepted and before the commit: the claim rolls back and the next run sends that
one message again. At most the single message in flight can be duplicated; it carries the same
Message-ID (``idempotency_key``), so receiving systems can tell. A refusal or a connection failure
is stored (``attempts``, ``last_error``) and retried on a later run, up to ``MAX_ATTEMPTS``.

On PostgreSQL a concurrent sender skips rows another sender holds (``FOR UPDATE SKIP LOCKED``); on
SQLite the claim takes the database write lock for the duration of one SMTP exchange (bounded by
the mailer's timeout), which serialises senders and keeps other writers waiting at most that long.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Connection, Date, and_, case, exists, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ecert.adapters.db.tables import registrations, reminders, renewal_items, specialty_registrations
from ecert.adapters.email import MailDeliveryError
from ecert.domain.dates import cst_date, in_cst
from ecert.domain.errors import BadInput, problem
from ecert.domain.policy import Policy
from ecert.domain.rules.age import age_limit_date, latest_birth_date_reaching_limit_by
from ecert.domain.rules.lapse import renewal_window_opens
from ecert.services.unit_of_work import SqlUnitOfWork

MAX_ATTEMPTS = 5
MAX_DAYS = 366
_ERROR_LEN = 1000

r, sr, rem, ri = registrations, specialty_registrations, reminders, renewal_items


class Mailer(Protocol):
    def send(self, to: str, subject: str, body: str, *, idempotency_key: str | None = None) -> None:
        """Return once the server accepted the message; raise MailDeliveryError if it did not."""
        ...


def _due(today: date) -> list[ColumnElement[bool]]:
    """Conditions for a specialty that a reminder is (still) useful for on ``today``: the registration
    is active, the specialty is stored valid and has not ended, and no renewal application is pending
    for it. The age condition (:func:`renewal_can_extend`) is applied beside these."""
    pending = exists().where(
        ri.c.registration_id == sr.c.registration_id, ri.c.specialty == sr.c.specialty, ri.c.status == "pending"
    )
    return [r.c.status == "active", sr.c.state == "valid", sr.c.valid_until >= today, ~pending]


def renewal_can_extend(birth_date: date, valid_until: date, policy: Policy) -> bool:
    """R-REN-5: validity never runs past the 65th birthday and nothing is approved on or after it, so a
    renewal gains something only if the 65th birthday comes after the current validity end."""
    return age_limit_date(birth_date, policy) > valid_until


# ---------------------------------------------------------------------------------------------- queue


@dataclass(frozen=True)
class QueueResult:
    queued: int  # new reminders written by this run
    checked: int  # specialties whose window opens within the horizon, queued now or before
    today: date
    days: int

    def as_dict(self) -> dict[str, Any]:
        return {"queued": self.queued, "checked": self.checked, "today": self.today.isoformat(), "days": self.days}


def queue_reminders(
    uow: SqlUnitOfWork, *, today: date, days: int, policy: Policy, now: datetime, actor: str = "system"
) -> dict[str, Any]:
    """Queue a reminder for every specialty whose renewal window (R-REN-1: end − 30 days … end) opens
    within ``days`` days of ``today`` — windows already open but not yet ended included — unless one is
    queued for that window already. Only where a renewal is possible and useful: active registration,
    specialty stored valid, no pending application, 65th birthday after the validity end (R-REN-5).
    Set-based (one ``INSERT … SELECT``), idempotent.

    Dates are computed here, not in SQL: the validity ends in question lie in ``[today, today + days +
    window]``, and each end's opening day and age cutoff are passed in as ``CASE`` lookups, so SQLite
    and PostgreSQL run the same statement.
    """
    if not 0 <= days <= MAX_DAYS:
        raise BadInput(
            [problem(f"天数应在 0–{MAX_DAYS} 之间", f"days must be between 0 and {MAX_DAYS}", column="days")]
        )
    last_end = today + timedelta(days=days + policy.renewal_window_days)
    ends = [today + timedelta(days=i) for i in range((last_end - today).days + 1)]
    opens = case({end: renewal_window_opens(end, policy) for end in ends}, value=sr.c.valid_until)
    # renewal_can_extend, as a lookup: born after this day, the holder is not 65 by the validity end.
    born_after = case({end: latest_birth_date_reaching_limit_by(end, policy) for end in ends}, value=sr.c.valid_until)
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
            opens.label("window_opens"),
            r.c.email,
            literal(today, Date).label("queued_on"),
        )
        .select_from(sr.join(r, r.c.id == sr.c.registration_id))
        .where(*_due(today), sr.c.valid_until <= last_end, r.c.birth_date > born_after)
    )
    with uow:
        conn = uow.connection
        checked = conn.execute(select(func.count()).select_from(eligible.subquery())).scalar_one()
        cols = ["registration_id", "specialty", "valid_until", "window_opens", "email", "queued_on"]
        # NOT EXISTS skips what is queued; ON CONFLICT covers a concurrent run racing past it.
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        stmt = insert(rem).from_select(cols, eligible.where(~already)).on_conflict_do_nothing()
        # An INSERT's rowcount is dropped with its cursor unless asked for (psycopg would report -1).
        queued = int(conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount)
        result = QueueResult(queued, int(checked), today, days)
        if queued:
            uow.audit.append(at=now, actor=actor, action="reminders.queue", subject=None, payload=result.as_dict())
        uow.commit()
    return result.as_dict()


# ---------------------------------------------------------------------------------------------- send


@dataclass(frozen=True)
class Reminder:
    id: int
    to: str
    name: str
    registration_no: str
    specialty: str
    valid_until: date
    window_opens: date


def compose(reminder: Reminder, policy: Policy) -> tuple[str, str]:
    """Subject and body: Chinese first, an English paragraph after it."""
    end, opens = reminder.valid_until.isoformat(), reminder.window_opens.isoformat()
    subject = f"一级建造师延续注册提醒:{reminder.specialty}专业注册有效期至 {end}"
    lapses = reminder.valid_until + timedelta(days=1) >= policy.lapse_start  # R-REN-3
    zh_lapse = ";逾期未申请的,该专业注册将失效" if lapses else ""
    en_lapse = "; without an application the specialty lapses when its validity ends" if lapses else ""
    body = (
        f"{reminder.name}:\n\n"
        f"您的一级建造师注册(注册编号 {reminder.registration_no})“{reminder.specialty}”专业的注册有效期至 {end}。\n"
        f"延续注册申请期为 {opens} 至 {end}(含)。\n"
        f"请在申请期内及时提出延续注册申请,并对本人已达到继续教育要求作出承诺{zh_lapse}。\n\n"
        f"Dear {reminder.name}, your registration {reminder.registration_no} as a first-class constructor in "
        f"{reminder.specialty} is valid until {end}. Renewal may be applied for from {opens} to {end} inclusive. "
        f"Please apply in time, with your commitment that you have met the continuing-education "
        f"requirement{en_lapse}.\n\n"
        "本邮件由系统自动发送,请勿回复。This message was sent automatically; please do not reply.\n"
    )
    return subject, body


@dataclass(frozen=True)
class SendResult:
    sent: int
    failed: int
    skipped_no_email: int  # due, but the registry has no address for the holder
    skipped_stale: int  # unsent, no longer due: renewed, applied for, ended, lapsed, inactive, 65 reached
    exhausted: int  # due, but MAX_ATTEMPTS failed attempts already: needs a person to look

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "skipped_no_email": self.skipped_no_email,
            "skipped_stale": self.skipped_stale,
            "exhausted": self.exhausted,
        }


def _due_reminders(conn: Connection, today: date, policy: Policy, reminder_id: int | None = None) -> list[Any]:
    """Unsent reminders still due on ``today``, for the window they were queued for (a renewal changes
    ``valid_until``: that window is gone), with what a message needs."""
    q = (
        select(
            rem.c.id,
            rem.c.attempts,
            rem.c.specialty,
            rem.c.valid_until,
            rem.c.window_opens,
            r.c.email,
            r.c.name,
            r.c.registration_no,
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
    return [row for row in conn.execute(q) if renewal_can_extend(row.birth_date, row.valid_until, policy)]


def _claim(conn: Connection, reminder_id: int) -> bool:
    """Take the row for this transaction, or return False if it is sent, given up or held by another sender."""
    cond = (rem.c.id == reminder_id, rem.c.sent_at.is_(None), rem.c.attempts < MAX_ATTEMPTS)
    # PostgreSQL: skip a row another sender is working on instead of queueing behind its SMTP exchange.
    if (
        conn.dialect.name == "postgresql"
        and conn.execute(select(rem.c.id).where(*cond).with_for_update(skip_locked=True)).first() is None
    ):
        return False
    # First statement of the transaction on SQLite, so it takes the write lock before reading anything.
    return int(conn.execute(update(rem).where(*cond).values(attempts=rem.c.attempts + 1)).rowcount) == 1


def send_reminders(
    uow_factory: Callable[[], SqlUnitOfWork],
    mailer: Mailer,
    *,
    now: datetime,
    policy: Policy,
    limit: int = 1000,
    actor: str = "system",
) -> dict[str, Any]:
    """Send up to ``limit`` queued reminders that are still due, one transaction per message (see the
    module docstring for the exactly-once argument). The address is the registry's current one; rows
    without one are reported, not sent. ``now`` gives ``sent_at`` and, in CST, today's date."""
    if limit < 1:
        raise BadInput([problem("数量上限应为正整数", "limit must be a positive whole number", column="limit")])
    today = cst_date(now)
    with uow_factory() as uow:
        conn = uow.connection
        unsent = int(conn.execute(select(func.count()).select_from(rem).where(rem.c.sent_at.is_(None))).scalar_one())
        due = _due_reminders(conn, today, policy)
    no_email = sum(1 for row in due if row.email is None)
    exhausted = sum(1 for row in due if row.email is not None and row.attempts >= MAX_ATTEMPTS)
    todo = [row.id for row in due if row.email is not None and row.attempts < MAX_ATTEMPTS][:limit]
    sent = failed = 0
    for reminder_id in todo:
        with uow_factory() as uow:  # leaving the block without commit() rolls the claim back
            conn = uow.connection
            if not _claim(conn, reminder_id):
                continue
            rows = _due_reminders(conn, today, policy, reminder_id)
            if not rows or rows[0].email is None:  # changed since the list was read
                continue
            row = rows[0]
            item = Reminder(
                row.id, row.email, row.name, row.registration_no, row.specialty, row.valid_until, row.window_opens
            )
            subject, body = compose(item, policy)
            try:
                mailer.send(item.to, subject, body, idempotency_key=f"ecert-reminder-{item.id}")
            except MailDeliveryError as exc:
                conn.execute(update(rem).where(rem.c.id == item.id).values(last_error=str(exc)[:_ERROR_LEN]))
                uow.commit()
                failed += 1
                continue
            # Accepted by the server: only now is it marked sent (with the address it went to).
            conn.execute(
                update(rem)
                .where(rem.c.id == item.id)
                .values(sent_at=now.astimezone(UTC), email=item.to, last_error=None)
            )
            uow.commit()
            sent += 1
    result = SendResult(sent, failed, no_email, unsent - len(due), exhausted)
    if sent or failed:
        with uow_factory() as uow:
            uow.audit.append(at=now, actor=actor, action="reminders.send", subject=None, payload=result.as_dict())
            uow.commit()
    return result.as_dict()


# ---------------------------------------------------------------------------------------------- list


def list_reminders(uow: SqlUnitOfWork, *, pending: bool = False) -> list[dict[str, Any]]:
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
    with uow:
        rows = uow.connection.execute(q).all()
    return [
        {
            "registration_no": row.registration_no,
            "specialty": row.specialty,
            "valid_until": row.valid_until.isoformat(),
            "window_opens": row.window_opens.isoformat(),
            "email": row.email,
            "queued_on": row.queued_on.isoformat(),
            "sent_at": in_cst(_aware(row.sent_at)).isoformat() if row.sent_at is not None else None,
            "attempts": row.attempts,
            "last_error": row.last_error,
        }
        for row in rows
    ]


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were stored in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
