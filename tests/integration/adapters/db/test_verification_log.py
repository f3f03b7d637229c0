"""R-ACC-1: every verification — the QR page (its fast path too), the API, a PDF upload, the CLI — is
in the tamper-evident audit log: rows of ``verification_events`` sealed in batches by chained
``verification.batch`` events, whose digests the chain check recomputes. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, insert, select, text, update

import ecert.bootstrap as composition_root
from ecert.adapters import keystore, ratelimit
from ecert.adapters.db.audit import BATCH_ACTION, AuditLog, ChainCheck
from ecert.adapters.db.tables import audit_events, verification_events
from ecert.adapters.db.verification_log import VerificationLog
from ecert.bootstrap import App, bootstrap, web_parts
from ecert.config import Settings
from ecert.entrypoints.web import metrics
from ecert.entrypoints.web.app import create_app
from ecert.services import issuance
from ecert.services.demo import seed_demo
from ecert.services.views import authority
from helpers_app import watch_fast_path
from helpers_audit import tamper
from helpers_documents import issue_to_a_demo_holder

TODAY = date(2021, 3, 1)
V = verification_events.c


@dataclass
class Env:
    engine: Engine
    core: App


@pytest.fixture
def env(db_url: str, engine: Engine, tmp_path: Path) -> Env:
    keys = keystore.key_settings_from_env({"ECERT_KEYS_DIR": str(tmp_path / "keys")})
    keystore.ensure_keys(keys)
    core = bootstrap(Settings(database_url=db_url, today_override=TODAY), engine=engine, keys=keys)
    return Env(engine, core)


@pytest.fixture(autouse=True)
def no_throttle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(composition_root, "make_rate_limiter", lambda settings: ratelimit.ClientBuckets(100_000))


def _issue(core: App) -> issuance.IssuedCertificate:
    seed_demo(core.uow, 40, seed=2021, today=TODAY, now=core.clock.now())
    return issue_to_a_demo_holder(core, 40)


def _rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(verification_events).order_by(V.id)))


def _batches(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        q = select(audit_events).where(audit_events.c.action == BATCH_ACTION).order_by(audit_events.c.id)
        return list(conn.execute(q))


def _check(engine: Engine) -> ChainCheck:
    with engine.connect() as conn:
        return AuditLog(conn).check()


def _covered(engine: Engine) -> None:
    """Every row lies in exactly one chained batch that names it, and the whole chain checks out."""
    rows = _rows(engine)
    claims = [(b.subject, json.loads(b.payload)) for b in _batches(engine)]
    for row in rows:
        [(subject, _)] = [(s, p) for s, p in claims if p["count"] and p["first_id"] <= row.id <= p["last_id"]]
        assert subject == row.batch_id
    assert sum(p["count"] for _, p in claims) == len(rows)
    check = _check(engine)
    assert check.intact and check.verifications == len(rows), check


# ----------------------------------------------------------------------------------------- web


def test_qr_fast_path_api_and_pdf_uploads_end_up_in_chained_batches__R_ACC_1(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert = _issue(env.core)
    token = cert.qr.split("/V/", 1)[1]
    fast = watch_fast_path(monkeypatch)
    pdf = {"file": ("c.pdf", cert.pdf, "application/pdf")}
    with TestClient(create_app(env.core)) as c:  # the lifespan: its writer runs, and flushes at the end
        assert c.get(f"/V/{token}").status_code == 200
        assert fast == [f"/V/{token}"]  # the page came through the fast path
        assert c.get(f"/api/v1/verify/{token}").json()["status"] == "valid"
        assert c.post("/verify", files=pdf).status_code == 200
        assert c.post("/api/v1/verify/pdf", files=pdf).json()["status"] == "valid"
        assert c.get("/V/NOT-A-TOKEN").status_code == 200
    got = [(r.channel, r.serial, r.registration_no, r.status) for r in _rows(env.engine)]
    no = cert_registration_no(env, cert.serial)
    assert got == [
        ("qr", cert.serial, no, "valid"),
        ("api", cert.serial, no, "valid"),
        ("pdf", cert.serial, no, "valid"),
        ("api", cert.serial, no, "valid"),
        ("qr", None, None, "indeterminate"),
    ]
    _covered(env.engine)
    chain = authority.audit_chain(env.core.uow())
    assert chain["intact"] and chain["verifications"] == 5


def cert_registration_no(env: Env, serial: str) -> str:
    with env.engine.connect() as conn:
        return str(
            conn.execute(text("SELECT registration_no FROM certificates WHERE serial = :s"), {"s": serial}).scalar_one()
        )


def test_the_writer_flushes_while_the_server_runs__R_ACC_1(env: Env) -> None:
    cert = _issue(env.core)
    quick = VerificationLog(env.engine, env.core.clock.now, interval=0.05)
    with TestClient(create_app(env.core, web_parts(env.core, verification_log=quick))) as c:
        assert c.get("/V/" + cert.qr.split("/V/", 1)[1]).status_code == 200
        deadline = time.monotonic() + 10
        while not _rows(env.engine) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [r.status for r in _rows(env.engine)] == ["valid"]  # before shutdown: the background task
    _covered(env.engine)


def test_a_full_log_never_fails_the_public_page_and_the_chain_counts_the_drops__log_buffer_relaxation(env: Env) -> None:
    cert = _issue(env.core)
    full = VerificationLog(env.engine, env.core.clock.now, capacity=0, on_drop=metrics.VERIFY_LOG_DROPPED.inc)
    app = create_app(env.core, web_parts(env.core, verification_log=full))  # as if the database had not
    # taken a batch for a while
    before = _dropped_metric()
    with TestClient(app) as c:
        assert c.get("/V/" + cert.qr.split("/V/", 1)[1]).status_code == 200
        assert c.get("/api/v1/verify/" + cert.qr.split("/V/", 1)[1]).json()["status"] == "valid"
    assert _dropped_metric() == before + 2
    [batch] = _batches(env.engine)  # the loss itself is in the chain
    assert json.loads(batch.payload)["dropped"] == 2 and json.loads(batch.payload)["count"] == 0
    assert _rows(env.engine) == []
    assert _check(env.engine).intact


def _dropped_metric() -> float:
    return metrics.REGISTRY.get_sample_value("ecert_verification_log_dropped_total") or 0.0


def test_nothing_about_the_verifier_is_stored__R_ACC_1() -> None:
    assert set(verification_events.c.keys()) == {
        "id", "at", "channel", "serial", "registration_no", "status", "batch_id",
    }  # fmt: skip


# ----------------------------------------------------------------------------------------- CLI


def test_cli_verify_qr_and_verify_are_logged__R_ACC_1(ecert: Any, engine: Engine, tmp_path: Path) -> None:
    res = ecert("demo", "--holders", "40", "--json", today="2021-03-01")
    assert res.exit_code == 0, res.stdout + res.stderr
    for no in res.json()["sample_registration_nos"]:
        out = tmp_path / "c.pdf"
        issued = ecert("cert", "issue", no, "--confirm", "--out", str(out), "--json", today="2021-03-01")
        if issued.exit_code == 0:
            break
    else:
        raise AssertionError("no issuable demo holder")
    serial = issued.json()["serial"]
    assert ecert("verify-qr", issued.json()["qr"], "--json", today="2021-03-01").json()["status"] == "valid"
    assert [(r.channel, r.serial, r.registration_no, r.status) for r in _rows(engine)] == [("cli", serial, no, "valid")]
    assert ecert("verify", str(out), "--json", today="2021-03-01").json()["status"] == "valid"
    assert ecert("verify-qr", "hello world", "--json", today="2021-03-01").json()["status"] == "indeterminate"
    assert [(r.channel, r.status) for r in _rows(engine)] == [
        ("cli", "valid"),
        ("cli", "valid"),
        ("cli", "indeterminate"),
    ]
    assert len(_batches(engine)) == 3  # each written before the process printed its verdict
    _covered(engine)


# ----------------------------------------------------------------------------------------- tampering


def _logged(core: App, *batches: int) -> list[Any]:
    """Batches of verifications written through the log, with another audit event between them."""
    vlog = VerificationLog(core.engine, core.clock.now)
    for i, n in enumerate(batches):
        for k in range(n):
            vlog.record("qr", f"S{i:02d}{k:013d}", f"R{i}-{k}", "valid")
        assert vlog.flush() == n
        with core.uow() as uow:
            uow.audit.append(at=core.clock.now(), actor="t", action="test.other", subject=None, payload={"i": i})
            uow.commit()
    return _batches(core.engine)


def _edit(engine: Engine, stmt: Any) -> None:
    with tamper(engine) as conn:
        conn.execute(stmt)


def _id_of(engine: Engine, batch: Any, k: int) -> int:
    return int(json.loads(batch.payload)["first_id"]) + k


def test_an_edited_verification_row_is_found__R_ACC_1(env: Env) -> None:
    first, second = _logged(env.core, 3, 2)
    _covered(env.engine)
    _edit(env.engine, update(verification_events).where(V.id == _id_of(env.engine, second, 1)).values(status="revoked"))
    check = _check(env.engine)
    assert check.first_broken_id == second.id and not check.intact
    with env.engine.connect() as conn:
        assert AuditLog(conn).verify() == second.id
    chain = authority.audit_chain(env.core.uow())
    assert (chain["intact"], chain["first_broken_id"]) == (False, second.id)
    _edit(env.engine, update(verification_events).where(V.id == _id_of(env.engine, first, 0)).values(status="revoked"))
    assert _check(env.engine).first_broken_id == first.id  # the first bad batch is named


def test_a_deleted_verification_row_is_found__R_ACC_1(env: Env) -> None:
    first, _ = _logged(env.core, 3, 2)
    _edit(env.engine, delete(verification_events).where(V.id == _id_of(env.engine, first, 2)))
    assert _check(env.engine).first_broken_id == first.id


@pytest.mark.parametrize("column", ["at", "serial", "registration_no", "channel", "batch_id"])
def test_any_edited_column_is_found__R_ACC_1(env: Env, column: str) -> None:
    [batch] = _logged(env.core, 2)
    value: Any = {"at": env.core.clock.now().replace(year=2020), "channel": "api", "batch_id": "f" * 32}.get(
        column, "X"
    )
    _edit(env.engine, update(verification_events).where(V.id == _id_of(env.engine, batch, 0)).values({column: value}))
    assert _check(env.engine).first_broken_id == batch.id


def test_a_row_added_after_the_last_batch_is_found__R_ACC_1(env: Env) -> None:
    _logged(env.core, 2)
    row = {"at": env.core.clock.now(), "channel": "qr", "serial": None, "registration_no": None, "status": "valid"}
    with env.engine.begin() as conn:
        added = conn.execute(insert(verification_events).values(**row, batch_id="f" * 32).returning(V.id)).scalar_one()
    check = _check(env.engine)
    assert (check.first_broken_id, check.unlogged_verification_id, check.intact) == (None, added, False)
    chain = authority.audit_chain(env.core.uow())
    assert (chain["intact"], chain["first_unlogged_verification_id"]) == (False, added)


def test_removing_the_last_batch_event_leaves_its_rows_unaccounted_for__R_ACC_1(env: Env) -> None:
    _, second = _logged(env.core, 2, 2)
    with tamper(env.engine) as conn:  # the last events, before the sequencer took them
        conn.execute(delete(audit_events).where(audit_events.c.id > second.id))
        conn.execute(delete(audit_events).where(audit_events.c.id == second.id))
    assert _check(env.engine).unlogged_verification_id == _id_of(env.engine, second, 0)


def test_a_row_added_in_a_gap_between_batches_breaks_the_next_batch__R_ACC_1(env: Env) -> None:
    [first] = _logged(env.core, 2)
    last = _id_of(env.engine, first, 1)
    row = {"at": env.core.clock.now(), "channel": "qr", "serial": None, "registration_no": None, "status": "valid"}
    if env.engine.dialect.name == "postgresql":  # ids a rolled-back batch took stay unused
        _edit(
            env.engine,
            text("SELECT setval(pg_get_serial_sequence('verification_events', 'id'), :n)").bindparams(n=last + 50),
        )
    else:  # SQLite takes the highest id + 1: a row up there makes the gap (and is removed below)
        _edit(env.engine, insert(verification_events).values(id=last + 50, **row, batch_id="g" * 32))
    _, second = _logged(env.core, 2)
    assert _id_of(env.engine, second, 0) == last + 51
    if env.engine.dialect.name != "postgresql":
        assert _check(env.engine).first_broken_id == second.id  # the row was inside the next batch's range
        _edit(env.engine, delete(verification_events).where(V.id == last + 50))
    assert _check(env.engine).intact  # a gap of unused ids is fine
    _edit(env.engine, insert(verification_events).values(id=last + 10, **row, batch_id="h" * 32))
    assert _check(env.engine).first_broken_id == second.id


def test_an_edited_batch_event_is_found_by_its_hash__R_ACC_1(env: Env) -> None:
    first, _ = _logged(env.core, 1, 1)
    payload = json.dumps(json.loads(first.payload) | {"dropped": 5})
    _edit(env.engine, update(audit_events).where(audit_events.c.id == first.id).values(payload=payload))
    assert _check(env.engine).first_broken_id == first.id


# ----------------------------------------------------------------------------------------- concurrency


def test_concurrent_writers_and_checks_keep_the_chain_whole__R_ACC_1(env: Env) -> None:
    """Two processes' logs flushing at once, other audit events in between, and chain checks running
    meanwhile (a batch committed during a check must not look like an added row)."""
    core, rounds = env.core, 15
    errors: list[BaseException] = []
    checks: list[ChainCheck] = []
    stop = threading.Event()

    def writer(w: int) -> None:
        try:
            vlog = VerificationLog(core.engine, core.clock.now)
            for i in range(rounds):
                for k in range(1 + (i + w) % 7):
                    vlog.record("api", f"W{w}{i:03d}{k:011d}", None, "valid")
                vlog.flush()
                if i % 3 == w:
                    with core.uow() as uow:
                        uow.audit.append(at=core.clock.now(), actor="t", action="test.other", subject=None, payload={})
                        uow.commit()
        except BaseException as exc:
            errors.append(exc)

    def checker() -> None:
        try:
            while not stop.is_set():
                checks.append(_check(core.engine))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(2)]
    watch = threading.Thread(target=checker)
    watch.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    watch.join()
    assert errors == []
    assert checks and all(c.intact for c in checks), [c for c in checks if not c.intact][:1]
    assert len(_rows(env.engine)) == sum(1 + (i + w) % 7 for w in range(2) for i in range(rounds))
    _covered(env.engine)
