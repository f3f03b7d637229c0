"""Subscriptions and signed notifications (issue 14 item 1), on SQLite and PostgreSQL: the event is
written with the change (same transaction), delivered once, signed so that the ``standardwebhooks``
verifier accepts it, retried with back-off and dead after the bounded tries; the authority redelivers."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import Engine, func, select

from ecert.adapters.db.tables import subscriptions, webhook_attempts, webhook_events
from ecert.domain.model import RegistrationStatus, StatusRecord
from ecert.entrypoints.jobs import definitions
from ecert.services import changes
from ecert.services import subscriptions as service
from helpers_cli import USCC_B, import_holder, issue
from helpers_webhooks import TEST_HOOKS, closed_port, hook_app, receiver

TODAY = "2021-03-01"
DAY = date(2021, 3, 1)


def _issued(ecert: Any, tmp_path: Path) -> tuple[str, str]:
    no = import_holder(ecert, tmp_path)
    return no, issue(ecert, no, tmp_path / "c.pdf")["serial"]


def _subscribe(app: Any, serial: str, url: str, **kw: Any) -> Any:
    sender = app.webhook_sender()
    sub = service.subscribe(app.uow(), owner="client:acme", serial=serial, url=url, check_url=sender.check_url,
                            now=app.clock.now(), **kw)  # fmt: skip
    return sub


def test_employer_change_delivers_one_signed_event__issue14(
    ecert: Any, tmp_path: Path, engine: Engine, db_url: str
) -> None:
    """Done-when of issue 14: subscribe to a certificate, change the employer, the local receiver gets
    one signed event that the ``standardwebhooks`` verifier accepts; then, for a subscription to the
    whole registration, the lapse (sweep) and the revocation with its legal basis — each written in
    the change's own transaction (a rolled-back change leaves no event)."""
    no, serial = _issued(ecert, tmp_path)
    app = hook_app(db_url, engine, DAY)
    with receiver() as recv:
        sub = _subscribe(app, serial, recv.url)
        whole = _subscribe(app, serial, recv.url, registration_no=no)
        assert whole.secret != sub.secret
        recv.secret = sub.secret
        # Before the handshake nothing flows: the URL has not proved it wants these events.
        assert sub.status == "pending"
        shook = service.handshake(app.uow, app.webhook_sender(), sub.id, owner="client:acme")
        assert shook["status"] == "active" and recv.challenges == 1, shook
        res = ecert("change", "employer", no, "--name", "另一家建设有限公司", "--uscc", USCC_B, "--json", today=TODAY)
        assert res.exit_code == 0, res.stdout
        run = definitions.deliver(app)
        assert run == {"sent": 1, "delivered": 1, "retrying": 0, "dead": 0}  # ``whole`` is not verified yet
        assert definitions.deliver(app)["sent"] == 0  # delivered once, never again
    assert recv.bad_signatures == 0
    [(event_id, body)] = recv.kept.items()
    assert body["type"] == "certificate.superseded"
    data = body["data"]
    assert data["event_id"] == event_id and event_id.startswith("msg_")
    assert (data["serial"], data["registration_no"], data["effective_date"]) == (serial, no, "2021-03-01")
    assert data["cause"] == "employer_change"
    assert data["verify_url"].endswith(f"/attest?registration_no={quote(no)}&date=2021-03-01")
    # No personal data beyond the numbers: no name, ID number or employer anywhere in the event.
    text = str(body)
    assert "张伟" not in text and "另一家" not in text and "某某建设" not in text

    # The registration's subscription saw the same change (kept until its URL is verified), then a lapse.
    assert ecert("sweep", "--json", today="2023-07-10").exit_code == 0
    assert ecert("sweep", "--json", today="2023-07-10").exit_code == 0  # a second sweep lapses nothing more

    class Boom(Exception):
        pass

    uow = app.uow()
    with pytest.raises(Boom), uow:
        uow.registry.end(no, StatusRecord(RegistrationStatus.REVOKED, "欺骗", "行政许可法第六十九条", DAY),
                         at=app.clock.now(), actor="t")  # fmt: skip
        assert _count(uow.connection) == 4  # written with the change ...
        raise Boom
    with engine.connect() as conn:
        assert _count(conn) == 3  # ... and gone with it
    changes.revoke(app.uow(), no, reason="欺骗", basis="行政许可法第六十九条", effective="2021-02-27", actor="t",
                   today=DAY, now=app.clock.now())  # fmt: skip
    events = service.deliveries(app.uow(), whole.id, owner=None)["events"]
    got = sorted((e["type"], e["effective_date"], e["serial"]) for e in events)
    assert got == [("certificate.superseded", "2021-03-01", serial), ("registration.lapsed", "2023-07-10", None),
                   ("registration.revoked", "2021-02-27", None)]  # fmt: skip
    with engine.connect() as conn:
        basis = conn.execute(select(webhook_events.c.basis).where(webhook_events.c.type == "registration.revoked"))
        assert basis.scalar_one() == "行政许可法第六十九条"


def _count(conn: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(webhook_events)).scalar_one())


MODES = ("down", "500", "slow", "redirect")
FAILURES = {"down": "connection", "500": "http_500", "slow": "timeout", "redirect": "redirect_not_followed"}


def test_failing_receivers_are_retried_with_backoff_then_dead_and_redelivered__issue14(
    ecert: Any, tmp_path: Path, engine: Engine, db_url: str
) -> None:
    """A receiver that is down, answers 500, does not answer within the timeout, or redirects: the
    event is tried again after 1×, then 2× the back-off, is dead after the third try, and comes
    again when the authority redelivers it. The redirect is never followed."""
    no, serial = _issued(ecert, tmp_path)
    app = hook_app(db_url, engine, DAY)
    clock = [service.real_now()]  # the delivery's clock, moved by hand: no sleeping for back-off

    def deliver() -> dict[str, int]:
        run = service.deliver_due(app.uow, app.webhook_sender(), cfg=TEST_HOOKS, base_url="https://e.test",
                                  now=lambda: clock[0])  # fmt: skip
        return run.as_dict()

    with ExitStack() as stack:
        recvs = {mode: stack.enter_context(receiver()) for mode in MODES}
        subs = {}
        for mode, recv in recvs.items():
            subs[mode] = sub = _subscribe(app, serial, recv.url)
            recv.secret = sub.secret
            assert service.handshake(app.uow, app.webhook_sender(), sub.id, owner=None)["status"] == "active"
            recv.mode = mode
        with engine.begin() as conn:  # the "down" receiver goes away: nobody listens on its port any more
            t = subscriptions
            conn.execute(t.update().where(t.c.id == subs["down"].id).values(url=f"http://127.0.0.1:{closed_port()}/x"))
        assert ecert("change", "employer", no, "--name", "另一家建设有限公司", "--uscc", USCC_B, "--json",
                     today=TODAY).exit_code == 0  # fmt: skip
        clock[0] = service.real_now()
        assert deliver() == {"sent": 4, "delivered": 0, "retrying": 4, "dead": 0}
        backoff = timedelta(seconds=TEST_HOOKS.backoff)
        clock[0] += backoff * 0.9
        assert deliver()["sent"] == 0  # not due before its back-off
        clock[0] += backoff * 0.2
        assert deliver() == {"sent": 4, "delivered": 0, "retrying": 4, "dead": 0}
        clock[0] += backoff * 1.9
        assert deliver()["sent"] == 0  # the second wait is twice the first
        clock[0] += backoff * 0.2
        assert deliver() == {"sent": 4, "delivered": 0, "retrying": 0, "dead": 4}
        clock[0] += backoff * 100
        assert deliver()["sent"] == 0  # dead: never tried again by itself
        events = {}
        for mode, sub in subs.items():
            [events[mode]] = service.deliveries(app.uow(), sub.id, owner=None)["events"]
            log = events[mode]["log"]
            assert events[mode]["status"] == "dead" and [t["attempt"] for t in log] == [1, 2, 3]
            assert all(t["error"].startswith(FAILURES[mode]) for t in log), log
        assert recvs["redirect"].redirect_hits == 0
        assert len(recvs["500"].requests) == 3 and len({r["id"] for r in recvs["500"].requests}) == 1  # one id
        # The authority redelivers the dead events of one subscription; its receiver is fine again.
        recvs["500"].mode = "ok"
        assert service.redeliver(app.uow(), subscription_id=subs["500"].id, actor="admin", now=app.clock.now()) == 1
        # The lease: a claimed event is not claimed again before its lease ends (a killed sender's batch
        # waits for it), then it is, as a new try (rolled back: only a look).
        with app.uow() as uow:
            t = clock[0] = service.real_now()
            lease = timedelta(seconds=10)
            [first] = uow.subscriptions.claim(now=t, lease_until=t + lease, limit=10)
            assert uow.subscriptions.claim(now=t + lease * 0.9, lease_until=t + lease * 2, limit=10) == []
            [again] = uow.subscriptions.claim(now=t + lease, lease_until=t + lease * 2, limit=10)
            assert (again.event.id, again.attempt) == (first.event.id, first.attempt + 1)
        assert deliver() == {"sent": 1, "delivered": 1, "retrying": 0, "dead": 0}
    assert list(recvs["500"].kept) == [events["500"]["event_id"]]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(webhook_attempts)).scalar_one() == 13
