"""Renewal reminders ``ecert reminders queue|send|list`` (R-REN-1, R-REN-5): which windows are queued,
that each window is queued and sent once, delivery through a real SMTP server (aiosmtpd on 127.0.0.1),
failures retried, and a renewal opening a new window with its own reminder."""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from email import policy as email_policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, select, update

from ecert.adapters.db.tables import registrations, reminders, specialty_registrations
from ecert.adapters.email import MailDeliveryError, MemoryMailer
from ecert.domain.ids import make_id_number, make_registration_no, make_uscc
from ecert.domain.model import Gender
from ecert.domain.provinces import code_of_abbreviation
from ecert.services.reminders import send_reminders
from ecert.testing import free_port
from helpers_cli import COLUMNS

pytestmark = [pytest.mark.db, pytest.mark.wall_clock]

HEADER = [*COLUMNS, "email"]
USCC = make_uscc("330100", "MA3CD4E5F")
BORN = date(1980, 1, 1)


def reg_no_of(serial: int) -> str:
    code = code_of_abbreviation("浙")
    assert code is not None
    return make_registration_no("浙", code, 2010, 2012, serial)


def email_of(serial: int) -> str:
    return f"holder{serial}@example.cn"


@dataclass
class Person:
    serial: int
    specialties: list[tuple[str, str]]  # (specialty, valid_until)
    birth: date = BORN
    email: str | None = "default"
    name: str = "张伟"


def import_people(ecert: Any, tmp_path: Path, people: list[Person], today: str) -> None:
    """A registry file with the optional ``email`` column; ``email="default"`` gives holder<serial>@example.cn."""
    path = tmp_path / "people.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for p in people:
            idn = make_id_number(f"3301{p.serial // 100 % 100:02d}", p.birth, p.serial % 100, Gender.MALE)
            mail = email_of(p.serial) if p.email == "default" else (p.email or "")
            for specialty, valid_until in p.specialties:
                row = [reg_no_of(p.serial), p.name, "男", p.birth.isoformat(), idn, "某建设公司", USCC, specialty]
                w.writerow([*row, valid_until, mail])
    res = ecert("import", str(path), "--json", today=today)
    assert res.exit_code == 0, res.stdout


def cli_json(ecert: Any, *args: str, today: str, code: int = 0) -> Any:
    res = ecert(*args, "--json", today=today)
    assert res.exit_code == code, res.stdout + res.stderr
    return res.json()


def queue(ecert: Any, today: str, days: int = 30) -> dict[str, Any]:
    out: dict[str, Any] = cli_json(ecert, "reminders", "queue", "--days", str(days), today=today)
    return out


def send(ecert: Any, today: str) -> dict[str, Any]:
    out: dict[str, Any] = cli_json(ecert, "reminders", "send", today=today)
    return out


def outbox(ecert: Any, *flags: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = cli_json(ecert, "reminders", "list", *flags, today="2021-01-01")["reminders"]
    return rows


def set_registration_status(engine: Engine, serial: int, status: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(registrations).where(registrations.c.registration_no == reg_no_of(serial)).values(status=status)
        )


def set_specialty_state(engine: Engine, serial: int, specialty: str, state: str) -> None:
    with engine.begin() as conn:
        reg_id = conn.execute(
            select(registrations.c.id).where(registrations.c.registration_no == reg_no_of(serial))
        ).scalar_one()
        sr = specialty_registrations
        conn.execute(
            update(sr)
            .where(sr.c.registration_id == reg_id, sr.c.specialty == specialty)
            .values(state=state, lapse_reason="no_renewal" if state == "lapsed" else None)
        )


# ---------------------------------------------------------------------------------------------- SMTP server


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Collector:
    """An aiosmtpd handler keeping every accepted message; addresses in ``refuse`` get 550."""

    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = BytesParser(policy=email_policy.default).parsebytes(envelope.content)
        assert isinstance(msg, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    handler: Collector
    port: int
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, ready_timeout=10)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def received(self) -> list[Received]:
        return self.handler.received


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    """A real local SMTP server, not started yet (``start()``); ECERT_SMTP_* point at its port."""
    server = SmtpServer(Collector(), free_port())
    for var in ("ECERT_SMTP_FROM", "ECERT_SMTP_STARTTLS", "ECERT_SMTP_USER", "ECERT_SMTP_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ECERT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ECERT_SMTP_PORT", str(server.port))
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------- queue


def test_queue_takes_exactly_the_windows_opening_within_the_horizon__R_REN_1(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    # Today 2021-09-01, 30 days ahead, window 30 days: validity ends 2021-09-01 … 2021-10-31.
    import_people(
        ecert,
        tmp_path,
        [
            Person(
                1,
                [
                    ("建筑工程", "2021-10-31"),  # opens 2021-10-01 = today + 30: in
                    ("公路工程", "2021-11-01"),  # opens 2021-10-02 = today + 31: out
                    ("铁路工程", "2021-09-01"),  # ends today, window still open: in
                    ("机电工程", "2021-08-31"),  # ended yesterday: out
                    ("水利水电工程", "2021-09-20"),  # window already open: in
                ],
            ),
            Person(2, [("建筑工程", "2021-09-20")]),  # revoked
            Person(3, [("建筑工程", "2021-09-20")]),  # cancelled
            Person(4, [("建筑工程", "2021-09-20"), ("公路工程", "2021-09-20"), ("矿业工程", "2021-09-20")]),
            Person(5, [("建筑工程", "2021-10-15")], birth=date(1956, 10, 15)),  # 65 on the validity end
            Person(6, [("建筑工程", "2021-10-20")], birth=date(1956, 11, 20)),  # renewal extends to 65th birthday
            Person(7, [("建筑工程", "2021-10-01")], email=None),  # no address: queued all the same
            Person(8, [("建筑工程", "2021-09-20")]),  # has applied already
        ],
        today="2021-01-01",
    )
    set_registration_status(engine, 2, "revoked")
    set_registration_status(engine, 3, "cancelled")
    set_specialty_state(engine, 4, "建筑工程", "lapsed")
    set_specialty_state(engine, 4, "公路工程", "cancelled")
    cli_json(ecert, "renewal", "apply", reg_no_of(8), "--specialty", "建筑工程", "--commit-ce", today="2021-09-01")

    out = queue(ecert, "2021-09-01", days=30)

    expected = {
        (reg_no_of(1), "建筑工程", "2021-10-31", "2021-10-01", email_of(1)),
        (reg_no_of(1), "铁路工程", "2021-09-01", "2021-08-02", email_of(1)),
        (reg_no_of(1), "水利水电工程", "2021-09-20", "2021-08-21", email_of(1)),
        (reg_no_of(4), "矿业工程", "2021-09-20", "2021-08-21", email_of(4)),
        (reg_no_of(6), "建筑工程", "2021-10-20", "2021-09-20", email_of(6)),
        (reg_no_of(7), "建筑工程", "2021-10-01", "2021-09-01", None),
    }
    assert (out["queued"], out["checked"]) == (6, 6)
    rows = outbox(ecert)
    assert {(x["registration_no"], x["specialty"], x["valid_until"], x["window_opens"], x["email"]) for x in rows} == (
        expected
    )
    assert {(x["queued_on"], x["sent_at"], x["attempts"]) for x in rows} == {("2021-09-01", None, 0)}


def test_queue_boundary_moves_with_days__R_REN_1(ecert: Any, tmp_path: Path) -> None:
    import_people(ecert, tmp_path, [Person(1, [("建筑工程", "2021-10-31"), ("公路工程", "2021-11-01")])], "2021-01-01")
    assert queue(ecert, "2021-09-01", days=29)["queued"] == 0  # opens 2021-10-01 = today + 30
    assert queue(ecert, "2021-09-01", days=30)["queued"] == 1
    assert queue(ecert, "2021-09-01", days=31)["queued"] == 1  # 公路工程 now, 建筑工程 not again
    assert queue(ecert, "2021-09-01", days=366)["queued"] == 0
    bad = ecert("reminders", "queue", "--days", "367", "--json", today="2021-09-01")
    assert bad.exit_code == 2 and bad.json()["error"]["code"] == "bad_input"


def test_queue_twice_queues_nothing_new__R_REN_1(ecert: Any, tmp_path: Path) -> None:
    import_people(
        ecert,
        tmp_path,
        [Person(1, [("建筑工程", "2021-10-01")]), Person(2, [("公路工程", "2021-10-02")])],
        "2021-01-01",
    )
    first = queue(ecert, "2021-08-01", days=31)
    again = queue(ecert, "2021-08-01", days=31)
    assert (first["queued"], first["checked"]) == (1, 1)
    assert (again["queued"], again["checked"]) == (0, 1)
    # The next day the second holder's window comes into range; the first is not queued again.
    assert queue(ecert, "2021-08-02", days=31) == {"queued": 1, "checked": 2, "today": "2021-08-02", "days": 31}
    assert queue(ecert, "2021-08-20", days=31)["queued"] == 0
    assert len(outbox(ecert)) == 2


# ---------------------------------------------------------------------------------------------- send


def test_send_through_a_real_smtp_server_once_per_window__R_REN_1(ecert: Any, tmp_path: Path, smtp: SmtpServer) -> None:
    import_people(
        ecert,
        tmp_path,
        [
            Person(1, [("建筑工程", "2021-10-31"), ("市政公用工程", "2021-09-30")], name="𠮷野家"),
            Person(2, [("公路工程", "2021-10-01")], email=None),
        ],
        "2021-01-01",
    )
    assert queue(ecert, "2021-09-01")["queued"] == 3
    smtp.start()

    out = send(ecert, "2021-09-01")

    assert out == {"sent": 2, "failed": 0, "skipped_no_email": 1, "skipped_stale": 0, "exhausted": 0}
    assert [r.rcpt_tos for r in smtp.received] == [[email_of(1)], [email_of(1)]]
    by_subject = {r.message["Subject"]: r for r in smtp.received}
    assert set(by_subject) == {
        "一级建造师延续注册提醒:市政公用工程专业注册有效期至 2021-09-30",
        "一级建造师延续注册提醒:建筑工程专业注册有效期至 2021-10-31",
    }
    msg = by_subject["一级建造师延续注册提醒:建筑工程专业注册有效期至 2021-10-31"].message
    assert msg["From"] == "noreply@ecert.example.cn"
    assert msg["To"] == email_of(1)
    assert msg["Message-ID"].startswith("<ecert-reminder-") and msg["Message-ID"].endswith("@ecert.example.cn>")
    body = msg.get_content()
    for text in ("𠮷野家", reg_no_of(1), "建筑工程", "2021-10-01 至 2021-10-31", "继续教育", "承诺", "失效"):
        assert text in body, text
    assert "Renewal may be applied for from 2021-10-01 to 2021-10-31" in body
    assert "continuing-education requirement" in body
    sent_rows = [x for x in outbox(ecert) if x["sent_at"]]
    assert {(x["specialty"], x["attempts"], x["last_error"]) for x in sent_rows} == {
        ("建筑工程", 1, None),
        ("市政公用工程", 1, None),
    }
    # Sent on 2021-09-01 China time, at whatever hour the test runs (R-DATE-1: shown in CST).
    assert all(x["sent_at"].startswith("2021-09-01T") and x["sent_at"].endswith("+08:00") for x in sent_rows)

    # Never twice for the same window, also when queue runs again.
    assert queue(ecert, "2021-09-02")["queued"] == 0
    assert send(ecert, "2021-09-02")["sent"] == 0
    assert len(smtp.received) == 2
    assert [x["registration_no"] for x in outbox(ecert, "--pending")] == [reg_no_of(2)]


def test_failed_delivery_is_retried_later_and_sent_once__R_REN_1(ecert: Any, tmp_path: Path, smtp: SmtpServer) -> None:
    import_people(ecert, tmp_path, [Person(1, [("建筑工程", "2021-10-31")])], "2021-01-01")
    queue(ecert, "2021-09-01")
    # Nothing listens on the port yet.
    assert send(ecert, "2021-09-01") == {
        "sent": 0,
        "failed": 1,
        "skipped_no_email": 0,
        "skipped_stale": 0,
        "exhausted": 0,
    }
    assert send(ecert, "2021-09-02")["failed"] == 1
    [row] = outbox(ecert)
    assert (row["sent_at"], row["attempts"]) == (None, 2)
    assert f"127.0.0.1:{smtp.port}" in row["last_error"]

    smtp.start()
    assert send(ecert, "2021-09-03")["sent"] == 1
    assert send(ecert, "2021-09-04")["sent"] == 0
    assert [r.rcpt_tos for r in smtp.received] == [[email_of(1)]]
    [row] = outbox(ecert)
    assert (row["attempts"], row["last_error"]) == (3, None)
    assert row["sent_at"] is not None


def test_refused_recipient_is_given_up_after_five_attempts__R_REN_1(
    ecert: Any, tmp_path: Path, smtp: SmtpServer
) -> None:
    import_people(
        ecert,
        tmp_path,
        [Person(1, [("建筑工程", "2021-10-31")]), Person(2, [("公路工程", "2021-10-31")])],
        "2021-01-01",
    )
    queue(ecert, "2021-09-01")
    smtp.handler.refuse.add(email_of(1))
    smtp.start()
    first = send(ecert, "2021-09-01")
    assert (first["sent"], first["failed"]) == (1, 1)
    for _ in range(4):
        assert send(ecert, "2021-09-01")["failed"] == 1
    assert send(ecert, "2021-09-01") == {
        "sent": 0,
        "failed": 0,
        "skipped_no_email": 0,
        "skipped_stale": 0,
        "exhausted": 1,
    }
    refused = next(x for x in outbox(ecert) if x["registration_no"] == reg_no_of(1))
    assert (refused["attempts"], refused["sent_at"]) == (5, None)
    assert "550" in refused["last_error"]
    assert [r.rcpt_tos for r in smtp.received] == [[email_of(2)]]


def test_send_needs_the_smtp_host__R_REN_1(ecert: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ECERT_SMTP_HOST", raising=False)
    res = ecert("reminders", "send", "--json", today="2021-09-01")
    assert res.exit_code == 2
    err = res.json()["error"]
    assert err["code"] == "bad_input"
    assert "ECERT_SMTP_HOST" in err["details"][0]["message"]
    monkeypatch.setenv("ECERT_SMTP_HOST", "127.0.0.1")
    for bad in ("smtp", "²⁵"):  # superscripts pass isdigit() and crash int()
        monkeypatch.setenv("ECERT_SMTP_PORT", bad)
        res = ecert("reminders", "send", "--json", today="2021-09-01")
        assert res.exit_code == 2
        assert "ECERT_SMTP_PORT" in res.json()["error"]["details"][0]["message"]


def test_reminder_no_longer_due_is_not_sent__R_REN_1(
    ecert: Any, engine: Engine, tmp_path: Path, smtp: SmtpServer
) -> None:
    import_people(
        ecert,
        tmp_path,
        [
            Person(1, [("建筑工程", "2021-09-20")]),
            Person(2, [("公路工程", "2021-09-20")]),
            Person(3, [("铁路工程", "2021-09-20")]),
        ],
        "2021-01-01",
    )
    assert queue(ecert, "2021-09-01")["queued"] == 3
    set_registration_status(engine, 1, "revoked")
    cli_json(ecert, "renewal", "apply", reg_no_of(2), "--specialty", "公路工程", "--commit-ce", today="2021-09-01")
    smtp.start()
    out = send(ecert, "2021-09-01")
    assert (out["sent"], out["skipped_stale"]) == (1, 2)
    assert [r.rcpt_tos for r in smtp.received] == [[email_of(3)]]
    # A window that has ended is not reminded of either.
    set_registration_status(engine, 1, "active")
    assert send(ecert, "2021-09-21") == {
        "sent": 0,
        "failed": 0,
        "skipped_no_email": 0,
        "skipped_stale": 2,
        "exhausted": 0,
    }


def test_renewal_opens_a_new_window_with_its_own_reminder__R_REN_1(
    ecert: Any, tmp_path: Path, smtp: SmtpServer
) -> None:
    import_people(ecert, tmp_path, [Person(1, [("建筑工程", "2021-08-15")])], "2021-01-01")
    assert queue(ecert, "2021-07-10")["queued"] == 1  # window opens 2021-07-16
    smtp.start()
    assert send(ecert, "2021-07-10")["sent"] == 1

    res = ecert(
        "user", "add", "rev1", "--role", "reviewer", "--province", "浙", "--password-stdin", input="pw-12345678\n"
    )
    assert res.exit_code == 0, res.stdout + res.stderr
    app_id = cli_json(
        ecert, "renewal", "apply", reg_no_of(1), "--specialty", "建筑工程", "--commit-ce", today="2021-07-20"
    )["application_id"]
    decided = cli_json(ecert, "renewal", "decide", str(app_id), "--approve", "--reviewer", "rev1", today="2021-07-21")
    assert decided["specialties"] == [{"specialty": "建筑工程", "valid_until": "2024-07-20"}]

    assert queue(ecert, "2021-07-25")["queued"] == 0
    assert queue(ecert, "2024-05-20")["queued"] == 0  # new window opens 2024-06-20
    assert queue(ecert, "2024-05-21")["queued"] == 1
    assert queue(ecert, "2024-06-25")["queued"] == 0
    assert [(x["valid_until"], x["window_opens"]) for x in outbox(ecert)] == [
        ("2021-08-15", "2021-07-16"),
        ("2024-07-20", "2024-06-20"),
    ]
    assert send(ecert, "2024-05-21")["sent"] == 1
    assert send(ecert, "2024-05-22")["sent"] == 0
    assert [r.message["Subject"] for r in smtp.received] == [
        "一级建造师延续注册提醒:建筑工程专业注册有效期至 2021-08-15",
        "一级建造师延续注册提醒:建筑工程专业注册有效期至 2024-07-20",
    ]


# ---------------------------------------------------------------------------------------------- exactly once


@dataclass
class CrashAfterAccept:
    """Accepts the message, then the process 'dies' before the outbox is updated."""

    inner: MemoryMailer
    crash_on: int = 1

    def send(self, to: str, subject: str, body: str, *, idempotency_key: str | None = None) -> None:
        self.inner.send(to, subject, body, idempotency_key=idempotency_key)
        if len(self.inner.sent) == self.crash_on:
            raise KeyboardInterrupt


def test_a_crash_after_acceptance_resends_only_the_message_in_flight__R_REN_1(
    ecert: Any, make_app: Any, engine: Engine, tmp_path: Path
) -> None:
    import_people(ecert, tmp_path, [Person(n, [("建筑工程", "2021-09-20")]) for n in (1, 2, 3)], "2021-01-01")
    queue(ecert, "2021-09-01")
    app = make_app(date(2021, 9, 1))
    delivered = MemoryMailer()
    with pytest.raises(KeyboardInterrupt):
        send_reminders(app.uow, CrashAfterAccept(delivered, crash_on=2), now=app.clock.now(), policy=app.policy)
    # The first message was recorded; the second was accepted but not recorded; the third never tried.
    with engine.connect() as conn:
        states = conn.execute(select(reminders.c.sent_at.is_not(None), reminders.c.attempts).order_by(reminders.c.id))
        assert [(bool(s), a) for s, a in states] == [(True, 1), (False, 0), (False, 0)]
    out = send_reminders(app.uow, delivered, now=app.clock.now(), policy=app.policy)
    assert out["sent"] == 2
    # Exactly one duplicate, the message in flight, with the same Message-ID key.
    keys = [m.idempotency_key for m in delivered.sent]
    assert len(keys) == 4 and len(set(keys)) == 3 and keys[1] == keys[2]
    assert send_reminders(app.uow, delivered, now=app.clock.now(), policy=app.policy)["sent"] == 0


def test_memory_mailer_refusal_is_recorded__R_REN_1(ecert: Any, make_app: Any, tmp_path: Path) -> None:
    import_people(ecert, tmp_path, [Person(1, [("建筑工程", "2021-09-20")])], "2021-01-01")
    queue(ecert, "2021-09-01")
    app = make_app(date(2021, 9, 1))
    mailer = MemoryMailer(refuse={email_of(1)})
    assert send_reminders(app.uow, mailer, now=app.clock.now(), policy=app.policy)["failed"] == 1
    [row] = outbox(ecert)
    assert row["last_error"] == str(MailDeliveryError(f"recipient refused: {email_of(1)}"))
    mailer.refuse.clear()
    assert send_reminders(app.uow, mailer, now=app.clock.now(), policy=app.policy)["sent"] == 1
    assert [m.to for m in mailer.sent] == [email_of(1)]


@dataclass
class SlowMailer:
    """Thread-safe enough for the test (list.append is atomic); slow, so two senders overlap."""

    inner: MemoryMailer

    def send(self, to: str, subject: str, body: str, *, idempotency_key: str | None = None) -> None:
        time.sleep(0.02)
        self.inner.send(to, subject, body, idempotency_key=idempotency_key)


def test_two_senders_at_once_send_each_reminder_once__R_REN_1(ecert: Any, make_app: Any, tmp_path: Path) -> None:
    import_people(ecert, tmp_path, [Person(n, [("建筑工程", "2021-09-20")]) for n in range(1, 13)], "2021-01-01")
    assert queue(ecert, "2021-09-01")["queued"] == 12
    app = make_app(date(2021, 9, 1))
    delivered = MemoryMailer()
    with ThreadPoolExecutor(2) as pool:
        runs = [
            pool.submit(send_reminders, app.uow, SlowMailer(delivered), now=app.clock.now(), policy=app.policy)
            for _ in range(2)
        ]
        results = [run.result(timeout=60) for run in runs]
    assert sum(r["sent"] for r in results) == 12
    assert sorted(m.to for m in delivered.sent) == sorted(email_of(n) for n in range(1, 13))
