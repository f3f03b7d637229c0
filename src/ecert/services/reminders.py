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
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from ecert.adapters.db.reminders import DueReminder
from ecert.adapters.email import MailDeliveryError
from ecert.domain.dates import cst_date, in_cst
from ecert.domain.errors import BadInput, problem
from ecert.domain.policy import Policy
from ecert.domain.rules.age import age_limit_date, latest_birth_date_reaching_limit_by
from ecert.domain.rules.lapse import renewal_window_opens
from ecert.services.unit_of_work import AbstractUnitOfWork

MAX_ATTEMPTS = 5
MAX_DAYS = 366


class Mailer(Protocol):
    def send(self, to: str, subject: str, body: str, *, idempotency_key: str | None = None) -> None:
        """Return once the server accepted the message; raise MailDeliveryError if it did not."""
        ...


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
    uow: AbstractUnitOfWork, *, today: date, days: int, policy: Policy, now: datetime, actor: str = "system"
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
    opens = {end: renewal_window_opens(end, policy) for end in ends}
    # renewal_can_extend, as a lookup: born after this day, the holder is not 65 by the validity end.
    born_after = {end: latest_birth_date_reaching_limit_by(end, policy) for end in ends}
    with uow:
        checked, queued = uow.reminders.queue(today=today, last_end=last_end, opens=opens, born_after=born_after)
        result = QueueResult(queued, checked, today, days)
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
        return asdict(self)


def _due_reminders(
    uow: AbstractUnitOfWork, today: date, policy: Policy, reminder_id: int | None = None
) -> list[DueReminder]:
    """Unsent reminders still due on ``today`` for which a renewal still gains something (R-REN-5)."""
    return [d for d in uow.reminders.due(today, reminder_id) if renewal_can_extend(d.birth_date, d.valid_until, policy)]


def send_reminders(
    uow_factory: Callable[[], AbstractUnitOfWork],
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
        unsent = uow.reminders.unsent_count()
        due = _due_reminders(uow, today, policy)
    no_email = sum(1 for row in due if row.email is None)
    exhausted = sum(1 for row in due if row.email is not None and row.attempts >= MAX_ATTEMPTS)
    todo = [row.id for row in due if row.email is not None and row.attempts < MAX_ATTEMPTS][:limit]
    sent = failed = 0
    for reminder_id in todo:
        with uow_factory() as uow:  # leaving the block without commit() rolls the claim back
            if not uow.reminders.claim(reminder_id, max_attempts=MAX_ATTEMPTS):
                continue
            rows = _due_reminders(uow, today, policy, reminder_id)
            row = rows[0] if rows else None
            if row is None or row.email is None:  # changed since the list was read
                continue
            item = Reminder(
                row.id, row.email, row.name, row.registration_no, row.specialty, row.valid_until, row.window_opens
            )
            subject, body = compose(item, policy)
            try:
                mailer.send(item.to, subject, body, idempotency_key=f"ecert-reminder-{item.id}")
            except MailDeliveryError as exc:
                uow.reminders.record_failure(item.id, str(exc))
                uow.commit()
                failed += 1
                continue
            # Accepted by the server: only now is it marked sent (with the address it went to).
            uow.reminders.mark_sent(item.id, at=now, email=item.to)
            uow.commit()
            sent += 1
    result = SendResult(sent, failed, no_email, unsent - len(due), exhausted)
    if sent or failed:
        with uow_factory() as uow:
            uow.audit.append(at=now, actor=actor, action="reminders.send", subject=None, payload=result.as_dict())
            uow.commit()
    return result.as_dict()


# ---------------------------------------------------------------------------------------------- list


def list_reminders(uow: AbstractUnitOfWork, *, pending: bool = False) -> list[dict[str, Any]]:
    """The outbox, oldest window first. ``pending``: only what is not sent yet."""
    with uow:
        rows = uow.reminders.outbox(pending=pending)
    return [
        {
            "registration_no": row.registration_no,
            "specialty": row.specialty,
            "valid_until": row.valid_until.isoformat(),
            "window_opens": row.window_opens.isoformat(),
            "email": row.email,
            "queued_on": row.queued_on.isoformat(),
            "sent_at": in_cst(row.sent_at).isoformat() if row.sent_at is not None else None,
            "attempts": row.attempts,
            "last_error": row.last_error,
        }
        for row in rows
    ]
