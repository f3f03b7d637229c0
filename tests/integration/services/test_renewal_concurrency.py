"""Renewal under real concurrency on PostgreSQL (R-REN-1 "one pending application per specialty", R-REN-6
"one decision per application"): threads, each with its own engine and connection, released together by
a ``threading.Barrier``, call the services the CLI calls. The database settles every race — a partial
unique index and a conditional UPDATE — so exactly one of two contenders wins and the other gets the
rule's refusal, never a raw database error.

SQLite serialises writers, so these tests need PostgreSQL: they fail (not skip) without
ECERT_TEST_DATABASE_URL, which .ci/run always sets. Each test gets a fresh PostgreSQL schema.

Two ways to race: ``free`` (released together, whoever is first) and ``interleaved`` (each contender is
held after its reads until the other has read too, so both pass the service's own checks and only the
database can stop the second — the path a plain run hits only by luck).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, func, select

from ecert.adapters.db.audit import AuditLog
from ecert.adapters.db.engine import make_engine, upgrade
from ecert.adapters.db.tables import (
    audit_events,
    registrations,
    renewal_applications,
    renewal_items,
    specialty_registrations,
)
from ecert.bootstrap import App, bootstrap
from ecert.config import Settings
from ecert.domain.errors import RuleRefusal
from ecert.domain.ids import make_id_number, make_registration_no, make_uscc
from ecert.domain.model import Gender
from ecert.services import accounts, renewal
from ecert.services.registry_import import import_registry
from ecert.testing import pg_schema
from helpers_cli import COLUMNS as HEADER

REPEATS = 20
APPLY_DAY = date(2021, 7, 1)
DECIDE_DAY = date(2021, 8, 1)  # after the validity end: a rejection lapses, an approval renews
VALID_UNTIL = date(2021, 7, 10)
RENEWED_UNTIL = date(2024, 7, 31)  # DECIDE_DAY + 3 years − 1 day (R-REN-5)
BARRIER_TIMEOUT = 15.0


@pytest.fixture(params=["postgresql"])
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, migrated PostgreSQL schema (dropped afterwards), as tests/conftest.py ``db_url`` makes them."""
    base = os.environ.get("ECERT_TEST_DATABASE_URL")
    if not base:
        pytest.fail(
            "test_renewal_concurrency needs PostgreSQL: set ECERT_TEST_DATABASE_URL "
            "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test; .ci/run always sets it). "
            "SQLite serialises writers and cannot show these races.",
            pytrace=False,
        )
    with pg_schema(base) as url:
        eng = make_engine(url)
        upgrade(eng)
        eng.dispose()
        yield url


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    """For the test's own reads, separate from the contenders' engines."""
    eng = make_engine(pg_url)
    yield eng
    eng.dispose()


@pytest.fixture
def make_app(pg_url: str) -> Iterator[Callable[[date], App]]:
    """Apps with their own engine each, so every contender has its own connection."""
    made: list[App] = []

    def factory(today: date) -> App:
        app = bootstrap(Settings(database_url=pg_url, today_override=today))
        made.append(app)
        return app

    yield factory
    for app in made:
        if "engine" in app.__dict__:
            app.engine.dispose()


def import_holders(app: App, tmp_path: Path, count: int, specialties: tuple[str, ...] = ("建筑工程",)) -> list[str]:
    path = tmp_path / "holders.csv"
    numbers = [make_registration_no("浙", "33", 2010, 2012, serial) for serial in range(1, count + 1)]
    uscc = make_uscc("330100", "MA7CC3R2N")
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for serial, reg_no in enumerate(numbers, start=1):
            birth = date(1975, 1, 1 + serial % 28)
            idn = make_id_number("330102", birth, serial, Gender.MALE)
            for specialty in specialties:
                w.writerow(
                    [
                        reg_no,
                        "陈志强",
                        "男",
                        birth.isoformat(),
                        idn,
                        "浙江并发建设有限公司",
                        uscc,
                        specialty,
                        VALID_UNTIL,
                    ]
                )
    result = import_registry(app.uow(), path, today=date(2021, 1, 4), now=app.clock.now(), actor="test")
    assert result.as_dict()["imported"] == count
    return numbers


def add_reviewer(app: App, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
    accounts.add_user(
        app.uow(), name, role="reviewer", password="password123", province="浙", actor="test", now=app.clock.now()
    )


def apply_for(app: App, reg_no: str, specialties: list[str]) -> dict[str, Any]:
    return renewal.apply_renewal(
        app.uow(),
        reg_no,
        specialties,
        committed=True,
        ce_hours=120,
        actor=f"holder:{reg_no}",
        today=app.clock.today(),
        now=app.clock.now(),
        policy=app.policy,
    )


def decide(app: App, app_id: int, *, approve: bool, reviewer: str) -> dict[str, Any]:
    return renewal.decide_renewal(
        app.uow(),
        app_id,
        approve=approve,
        reason="材料齐全,同意" if approve else "继续教育证明不实,驳回",
        reviewer=reviewer,
        today=app.clock.today(),
        now=app.clock.now(),
        policy=app.policy,
    )


@dataclass
class Outcome:
    value: dict[str, Any] | None = None
    error: BaseException | None = None


def race(contenders: list[Callable[[], dict[str, Any]]]) -> list[Outcome]:
    """Run the contenders in threads released together by a barrier; collect what each returned or raised."""
    start = threading.Barrier(len(contenders))
    outcomes = [Outcome() for _ in contenders]

    def run(i: int) -> None:
        try:
            start.wait(timeout=BARRIER_TIMEOUT)
            outcomes[i].value = contenders[i]()
        except BaseException as exc:  # reported by the test, not swallowed
            outcomes[i].error = exc

    threads = [threading.Thread(target=run, args=(i,), name=f"contender-{i}") for i in range(len(contenders))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a contender hangs (deadlock?)"
    return outcomes


def hold_after(monkeypatch: pytest.MonkeyPatch, name: str, parties: int) -> threading.Barrier:
    """Make ``renewal.<name>`` wait, after doing its work, until ``parties`` threads have called it."""
    barrier = threading.Barrier(parties)
    original = getattr(renewal, name)

    def held(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        barrier.wait(timeout=BARRIER_TIMEOUT)
        return result

    monkeypatch.setattr(renewal, name, held)
    return barrier


def winner_and_loser(outcomes: list[Outcome], code: str) -> tuple[int, int]:
    """Exactly one contender succeeded; the other was refused with ``code`` (and nothing else)."""
    won = [i for i, o in enumerate(outcomes) if o.error is None]
    lost = [i for i, o in enumerate(outcomes) if o.error is not None]
    assert len(won) == 1 and len(lost) == 1, [repr(o.error) for o in outcomes]
    err = outcomes[lost[0]].error
    assert isinstance(err, RuleRefusal), f"the loser got {err!r}, not a RuleRefusal {code}"
    assert err.code == code, err.code
    return won[0], lost[0]


def count(engine: Engine, stmt: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def reg_id(engine: Engine, reg_no: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(select(registrations.c.id).where(registrations.c.registration_no == reg_no)).scalar_one()
        )


def audit_events_for(engine: Engine, action: str, reg_no: str) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(
            select(audit_events).where(audit_events.c.action == action, audit_events.c.subject == reg_no)
        ).all()


@pytest.fixture
def numbers(make_app: Callable[[date], App], tmp_path: Path) -> list[str]:
    """REPEATS holders of 建筑工程, imported by an app of their own, for the races repeated on each."""
    return import_holders(make_app(APPLY_DAY), tmp_path, REPEATS)


def assert_audit_chain_intact(engine: Engine) -> None:
    with engine.connect() as conn:
        assert AuditLog(conn).verify() is None


# ---------------------------------------------------------------------------------------------- (a) apply


@pytest.mark.parametrize("mode", ["free", "interleaved"])
def test_two_applications_for_one_specialty_at_once_store_exactly_one__R_REN_1(
    make_app: Callable[[date], App], engine: Engine, numbers: list[str], monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    if mode == "interleaved":
        hold_after(monkeypatch, "check_renewal_application", 2)
    apps = [make_app(APPLY_DAY), make_app(APPLY_DAY)]
    for reg_no in numbers:
        outcomes = race([partial(apply_for, a, reg_no, ["建筑工程"]) for a in apps])
        won, _ = winner_and_loser(outcomes, "application_pending")
        value = outcomes[won].value
        assert value is not None and value["status"] == "pending"
        rid = reg_id(engine, reg_no)
        ri, ra = renewal_items, renewal_applications
        pending = select(func.count()).select_from(ri).where(ri.c.registration_id == rid, ri.c.status == "pending")
        assert count(engine, pending) == 1, reg_no
        assert count(engine, select(func.count()).select_from(ri).where(ri.c.registration_id == rid)) == 1
        # The loser's application row was rolled back with its item: nothing half-stored.
        apps_of = select(ra.c.id).where(ra.c.registration_id == rid)
        with engine.connect() as conn:
            assert list(conn.execute(apps_of).scalars()) == [value["application_id"]]
        assert len(audit_events_for(engine, "renewal.apply", reg_no)) == 1
    assert_audit_chain_intact(engine)


OVERLAP_ROUNDS = 5  # deterministic interleaving: a few rounds suffice
RENDEZVOUS_TIMEOUT = 0.5


def test_overlapping_multi_specialty_applications_at_once_store_exactly_one__R_REN_1(
    make_app: Callable[[date], App], engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two applications naming the same two specialties in opposite orders: one wins whole, the other is
    refused whole with ``application_pending`` — never a deadlock reported as a database error.

    Each contender is held after its first item is stored until the other has stored its first item too
    (or RENDEZVOUS_TIMEOUT passes, as it will once the other is rightly blocked by the first): the
    interleaving that makes inconsistent lock orders deadlock, every round."""
    setup = make_app(APPLY_DAY)
    numbers = import_holders(setup, tmp_path, OVERLAP_ROUNDS, specialties=("建筑工程", "机电工程"))
    from ecert.adapters.db import renewals as renewals_repository

    real_insert = renewals_repository.insert
    per_thread = threading.local()
    rendezvous: list[threading.Barrier] = []

    def insert_held(table: Any) -> Any:
        if table is renewal_items:
            per_thread.items = getattr(per_thread, "items", 0) + 1
            if per_thread.items == 2:  # the first item is stored, the second is about to be
                # On timeout the other contender is blocked behind us (as it should be): go on.
                with contextlib.suppress(threading.BrokenBarrierError):
                    rendezvous[-1].wait(timeout=RENDEZVOUS_TIMEOUT)
        return real_insert(table)

    monkeypatch.setattr(renewals_repository, "insert", insert_held)
    apps = [make_app(APPLY_DAY), make_app(APPLY_DAY)]
    orders = [["建筑工程", "机电工程"], ["机电工程", "建筑工程"]]
    for reg_no in numbers:
        rendezvous.append(threading.Barrier(2))
        outcomes = race([partial(apply_for, a, reg_no, o) for a, o in zip(apps, orders, strict=True)])
        won, _ = winner_and_loser(outcomes, "application_pending")
        value = outcomes[won].value
        assert value is not None
        rid = reg_id(engine, reg_no)
        ri = renewal_items
        with engine.connect() as conn:
            rows = conn.execute(select(ri.c.application_id, ri.c.specialty).where(ri.c.registration_id == rid)).all()
        assert sorted(rows) == sorted((value["application_id"], s) for s in ("建筑工程", "机电工程"))


# ---------------------------------------------------------------------------------------------- (b) decide


@pytest.mark.parametrize("mode", ["free", "interleaved"])
def test_two_reviewers_deciding_at_once_store_exactly_one_decision__R_REN_6(
    make_app: Callable[[date], App], engine: Engine, numbers: list[str], monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    setup = make_app(APPLY_DAY)
    add_reviewer(setup, "rev_zj_a", monkeypatch)
    add_reviewer(setup, "rev_zj_b", monkeypatch)
    app_ids = {n: int(apply_for(setup, n, ["建筑工程"])["application_id"]) for n in numbers}
    if mode == "interleaved":
        # Held after reading the registration: both have seen the application pending.
        hold_after(monkeypatch, "get_registration", 2)
    apps = [make_app(DECIDE_DAY), make_app(DECIDE_DAY)]
    # Contender 0 approves, contender 1 rejects.
    plan = [(True, "rev_zj_a"), (False, "rev_zj_b")]
    for reg_no in numbers:
        app_id = app_ids[reg_no]
        rid = reg_id(engine, reg_no)
        with engine.connect() as conn:
            version = conn.execute(select(registrations.c.data_version).where(registrations.c.id == rid)).scalar_one()
        outcomes = race(
            [partial(decide, a, app_id, approve=yes, reviewer=who) for a, (yes, who) in zip(apps, plan, strict=True)]
        )
        won, _ = winner_and_loser(outcomes, "already_decided")
        approve, reviewer = plan[won]
        status = "approved" if approve else "rejected"
        value = outcomes[won].value
        assert value is not None and value["status"] == status

        with engine.connect() as conn:
            row = conn.execute(select(renewal_applications).where(renewal_applications.c.id == app_id)).one()
            item = conn.execute(select(renewal_items).where(renewal_items.c.application_id == app_id)).one()
            spec = conn.execute(
                select(specialty_registrations).where(specialty_registrations.c.registration_id == rid)
            ).one()
            new_version = conn.execute(
                select(registrations.c.data_version).where(registrations.c.id == rid)
            ).scalar_one()
        assert (row.status, row.decided_by) == (status, reviewer)
        assert row.reason == ("材料齐全,同意" if approve else "继续教育证明不实,驳回")
        assert item.status == status
        if approve:
            assert item.new_valid_until == RENEWED_UNTIL
            assert (spec.valid_until, spec.state, spec.lapse_reason) == (RENEWED_UNTIL, "valid", None)
            assert new_version == version + 1  # earlier certificates superseded
        else:
            assert item.new_valid_until is None
            # Rejected after the end: lapsed at once (R-REN-3), validity untouched.
            assert (spec.valid_until, spec.state, spec.lapse_reason) == (VALID_UNTIL, "lapsed", "rejected")
            assert new_version == version
        decisions = [
            e
            for action in ("renewal.approved", "renewal.rejected")
            for e in audit_events_for(engine, action, reg_no)
            if json.loads(e.payload)["application_id"] == app_id
        ]
        assert [(e.action, e.actor) for e in decisions] == [(f"renewal.{status}", reviewer)]
    assert_audit_chain_intact(engine)


# ---------------------------------------------------------------------------------------------- approval vs change


def test_approval_and_employer_change_at_once_both_supersede__R_REN_6_R_CHG_1(
    make_app: Callable[[date], App], engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Renewal approval and employer change both change printed data (R-CHG-1): whatever the interleaving,
    the registration's data version goes up once for each, so a certificate issued between them (at the
    approval's version) is superseded by the change."""
    from ecert.adapters.db.registry import SqlRegistry
    from ecert.services import changes

    setup = make_app(APPLY_DAY)
    (reg_no,) = import_holders(setup, tmp_path, 1)
    add_reviewer(setup, "rev_zj_a", monkeypatch)
    app_id = int(apply_for(setup, reg_no, ["建筑工程"])["application_id"])
    with engine.connect() as conn:
        before = conn.execute(
            select(registrations.c.data_version).where(registrations.c.registration_no == reg_no)
        ).scalar_one()

    version_read = threading.Event()
    approval_done = threading.Event()
    real_get = SqlRegistry.get

    def read_then_wait(self: SqlRegistry, registration_no: str) -> Any:
        reg = real_get(self, registration_no)  # the changer's view: the version before the approval
        if threading.current_thread().name == "changer":
            version_read.set()
            approval_done.wait(timeout=BARRIER_TIMEOUT)
        return reg

    monkeypatch.setattr(SqlRegistry, "get", read_then_wait)
    change_app = make_app(DECIDE_DAY)
    outcome = Outcome()

    def change() -> None:
        try:
            outcome.value = changes.change_employer(
                change_app.uow(),
                reg_no,
                name="浙江新聘建设有限公司",
                uscc=make_uscc("330100", "MA9NEW0PL"),
                actor="test",
                now=change_app.clock.now(),
            )
        except BaseException as exc:  # reported below
            outcome.error = exc

    changer = threading.Thread(target=change, name="changer")
    changer.start()
    assert version_read.wait(timeout=BARRIER_TIMEOUT)
    decided = decide(make_app(DECIDE_DAY), app_id, approve=True, reviewer="rev_zj_a")
    approval_done.set()
    changer.join(timeout=60)
    assert not changer.is_alive()
    assert outcome.error is None, repr(outcome.error)
    assert decided["status"] == "approved"
    with engine.connect() as conn:
        after = conn.execute(
            select(registrations.c.data_version).where(registrations.c.registration_no == reg_no)
        ).scalar_one()
    assert after == before + 2, f"data_version {before} -> {after}: one of two printed-data changes was lost"
