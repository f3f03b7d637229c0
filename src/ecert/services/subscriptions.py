"""Subscriptions and signed notifications (issue 14 item 1).

A relying party — an ``employer`` account, or an API client the authority registered — subscribes to
a certificate it verified (its serial: only the certificate itself carries it, so knowing it is the
proof of having seen it) or to that certificate's registration (the serial given as the proof), with
an HTTPS URL. The URL must answer a handshake (adapters/webhooks.py) before anything is sent to it.
When the registration is superseded, revoked, cancelled or a specialty lapses, an event is written to
the outbox in the transaction of that change (adapters/db/subscriptions.py, called from the one
``supersede`` and the sweep); :func:`deliver_due` — the ``deliver`` job on the queue — sends it,
signed per Standard Webhooks, tries again with exponential back-off, and gives up after
``ECERT_WEBHOOK_MAX_ATTEMPTS`` (dead; :func:`redeliver` by the authority queues it again).

Scheduling (``next_attempt_at``, the lease, the delivery log) uses the real time, not ``ECERT_TODAY``:
it is about the network, and receivers compare the signature's timestamp with their own clock.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ecert.domain import subscriptions as subs
from ecert.domain.errors import BadInput, NotFound, problem
from ecert.services.unit_of_work import AbstractUnitOfWork

if TYPE_CHECKING:
    from ecert.adapters.db.subscriptions import Claimed, Outcome, Subscription
    from ecert.config import WebhookSettings
    from ecert.services.ports import WebhookSender

BATCH = 500  # events claimed at a time by one delivery run
CLIENT_TOKEN_PREFIX = "ecc_"


def real_now() -> datetime:
    return datetime.now(UTC)


def user_owner(username: str) -> str:
    return f"user:{username}"


def client_owner(name: str) -> str:
    return f"client:{name}"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# ------------------------------------------------------------------------------------------ clients


def register_client(uow: AbstractUnitOfWork, name: str, *, actor: str, now: datetime) -> str:
    """Register an API client (the authority); returns its bearer token, shown once (only its SHA-256 is kept)."""
    clean = name.strip()
    if not clean or len(clean) > 64 or any(c.isspace() or c == ":" for c in clean):
        raise BadInput(
            [
                problem(
                    "客户端名称为空、过长或含空白/冒号",
                    "Client name is empty, too long, or has spaces or ':'",
                    column="name",
                )
            ]
        )
    token = CLIENT_TOKEN_PREFIX + secrets.token_urlsafe(32)
    with uow:
        if not uow.subscriptions.add_client(clean, token_digest(token), created_by=actor, now=now):
            raise BadInput([problem(f"客户端“{clean}”已存在", f"Client {clean!r} exists already", column="name")])
        uow.audit.append(at=now, actor=actor, action="api_client.add", subject=clean, payload={"name": clean})
        uow.commit()
    return token


def client_of_token(uow: AbstractUnitOfWork, token: str) -> str | None:
    """The name of the enabled API client with this bearer token, if any."""
    if not token.startswith(CLIENT_TOKEN_PREFIX):
        return None
    with uow:
        return uow.subscriptions.client_of_token(token_digest(token))


# ------------------------------------------------------------------------------------------ subscriptions


def subscribe(
    uow: AbstractUnitOfWork,
    *,
    owner: str,
    serial: str,
    url: str,
    check_url: Callable[[str], object],
    registration_no: str | None = None,
    now: datetime,
) -> Subscription:
    """A pending subscription of ``owner`` to the certificate ``serial`` or, with ``registration_no``,
    to its registration (``serial`` then proves the registration was verified: it must be one of its
    certificates). ``check_url`` refuses a URL not allowed (BadInput). The URL's handshake follows
    (:func:`handshake`); until it passes, events are kept but not sent."""
    wanted = (serial or "").strip().upper()
    probs = []
    if not wanted or len(wanted) != 16 or not wanted.isalnum():
        probs.append(problem("证书编号应为 16 位字母数字", "The serial must be 16 letters and digits", column="serial"))
    try:
        check_url(url)
    except BadInput as exc:
        probs.extend(exc.problems)
    if probs:
        raise BadInput(probs)
    from ecert.adapters.webhooks import new_secret

    with uow:
        found = uow.subscriptions.certificate(wanted)
        if found is None:
            raise NotFound("certificate", wanted)
        reg_id, reg_no, version = found
        if registration_no is not None and registration_no.strip() != reg_no:
            # The serial proves a registration only if it is one of its certificates (no oracle either way).
            raise NotFound("certificate", wanted)
        sub_id = secrets.token_hex(16)
        by_serial = registration_no is None
        uow.subscriptions.add(
            id=sub_id, owner=owner, registration_id=reg_id, serial=wanted if by_serial else None,
            data_version=version if by_serial else None, url=url.strip(), secret=new_secret(), now=now,
        )  # fmt: skip
        payload = {"id": sub_id, "scope": "certificate" if by_serial else "registration", "serial": wanted}
        uow.audit.append(at=now, actor=owner, action="subscription.add", subject=reg_no, payload=payload)
        uow.commit()
        sub = uow.subscriptions.get(sub_id)
    assert sub is not None
    return sub


def _own(uow: AbstractUnitOfWork, subscription_id: str, owner: str | None) -> Subscription:
    """The subscription, if ``owner`` (None: the authority) may see it; else not_found (R-ACC-1)."""
    sub = uow.subscriptions.get(subscription_id)
    if sub is None or (owner is not None and sub.owner != owner):
        raise NotFound("subscription", subscription_id)
    return sub


def handshake(
    new_uow: Callable[[], AbstractUnitOfWork], sender: WebhookSender, subscription_id: str, *, owner: str | None
) -> dict[str, Any]:
    """Send the URL's verification request; a right answer makes the subscription active."""
    with new_uow() as uow:
        sub = _own(uow, subscription_id, owner)
    got = sender.handshake(sub.url, sub.secret, sub.id)
    if got.ok:
        uow = new_uow()
        with uow:
            uow.subscriptions.activate(sub.id, real_now())
            uow.commit()
    status = subs.ACTIVE if got.ok or sub.status == subs.ACTIVE else subs.PENDING
    return {
        "id": sub.id,
        "status": status,
        "handshake": {"ok": got.ok, "status_code": got.status_code, "error": got.error},
    }


def list_subscriptions(uow: AbstractUnitOfWork, owner: str | None) -> list[Subscription]:
    with uow:
        return uow.subscriptions.listing(owner)


def overview(uow: AbstractUnitOfWork) -> list[tuple[Subscription, dict[str, int]]]:
    """For the authority: every subscription with its events by state (pending, delivered, dead)."""
    with uow:
        counts = uow.subscriptions.event_counts()
        return [(s, counts.get(s.id, {})) for s in uow.subscriptions.listing(None)]


def unsubscribe(uow: AbstractUnitOfWork, subscription_id: str, *, owner: str | None, actor: str, now: datetime) -> None:
    with uow:
        sub = _own(uow, subscription_id, owner)
        uow.subscriptions.remove(sub.id)
        uow.audit.append(
            at=now, actor=actor, action="subscription.remove", subject=sub.registration_no, payload={"id": sub.id}
        )
        uow.commit()


def deliveries(uow: AbstractUnitOfWork, subscription_id: str, *, owner: str | None, limit: int = 100) -> dict[str, Any]:
    """The subscription's delivery log: its events, newest first, each with every try."""
    with uow:
        sub = _own(uow, subscription_id, owner)
        return {"subscription": sub.as_dict(), "events": uow.subscriptions.events(sub.id, limit=limit)}


def redeliver(
    uow: AbstractUnitOfWork,
    *,
    event_id: str | None = None,
    subscription_id: str | None = None,
    actor: str,
    now: datetime,
) -> int:
    """The authority queues again one event (any state), or every dead event of a subscription, with a
    fresh count of tries. Returns how many."""
    if (event_id is None) == (subscription_id is None):
        raise BadInput(
            [problem("请给出通知编号或订阅编号之一", "Give either an event id or a subscription id", column="event_id")]
        )
    with uow:
        if event_id is not None and uow.subscriptions.event_subscription(event_id) is None:
            raise NotFound("webhook_event", event_id)
        if subscription_id is not None and uow.subscriptions.get(subscription_id) is None:
            raise NotFound("subscription", subscription_id)
        n = uow.subscriptions.redeliver(event_id=event_id, subscription_id=subscription_id, now=real_now())
        payload = {"event_id": event_id, "subscription_id": subscription_id, "queued": n}
        uow.audit.append(
            at=now, actor=actor, action="webhook.redeliver", subject=event_id or subscription_id, payload=payload
        )
        uow.commit()
    return n


# ------------------------------------------------------------------------------------------ delivery


@dataclass
class DeliveryRun:
    sent: int = 0
    delivered: int = 0
    retrying: int = 0
    dead: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"sent": self.sent, "delivered": self.delivered, "retrying": self.retrying, "dead": self.dead}


def deliver_due(
    new_uow: Callable[[], AbstractUnitOfWork],
    sender: WebhookSender,
    *,
    cfg: WebhookSettings,
    base_url: str,
    now: Callable[[], datetime] = real_now,
    batch: int = BATCH,
) -> DeliveryRun:
    """Send every event due now, ``cfg.concurrency`` requests at a time, until none is due. Each claim
    is committed before its requests go out (a lease of ``cfg.lease`` seconds), and each batch's
    outcomes after: a process killed in between leaves the batch to be sent again, with the same ids,
    once the lease ends."""
    from ecert.adapters.db.subscriptions import Outcome
    from ecert.adapters.webhooks import encode

    run = DeliveryRun()

    def send(c: Claimed) -> Outcome:
        try:
            body = encode(subs.event_body(c.event, base_url))
            got = sender.deliver(c.url, c.secret, c.event.id, body)
        except Exception as exc:  # one bad event must not stop its batch: a failed try, in the log
            error = f"internal: {type(exc).__name__}: {exc}"[:500]
            return Outcome(c.event.id, c.event.subscription_id, c.attempt, False, None, error, 0)
        return Outcome(
            c.event.id, c.event.subscription_id, c.attempt, got.ok, got.status_code, got.error, got.duration_ms
        )

    with ThreadPoolExecutor(max_workers=cfg.concurrency) as pool:
        try:
            while True:
                start = now()
                uow = new_uow()
                with uow:
                    claimed = uow.subscriptions.claim(
                        now=start, lease_until=start + timedelta(seconds=cfg.lease), limit=batch
                    )
                    uow.commit()
                if not claimed:
                    break
                outcomes = list(pool.map(send, claimed))
                done = now()
                retry_at: dict[str, datetime | None] = {}
                for c, o in zip(claimed, outcomes, strict=True):
                    if o.ok:
                        run.delivered += 1
                    elif c.attempt >= cfg.max_attempts:
                        retry_at[o.event_id] = None
                        run.dead += 1
                    else:
                        wait = subs.backoff_seconds(c.attempt, base=cfg.backoff, cap=cfg.backoff_max)
                        retry_at[o.event_id] = done + timedelta(seconds=wait)
                        run.retrying += 1
                run.sent += len(claimed)
                uow = new_uow()
                with uow:
                    uow.subscriptions.finish(outcomes, now=done, retry_at=retry_at)
                    uow.commit()
        finally:
            sender.close()
    return run
