"""Issuance from two processes at once with no audit lock (issue 16 item 1, R-ACC-1): every event
reaches the Merkle tree exactly once, in some order, while a sequencer runs beside them (PostgreSQL:
SQLite has one writer at a time anyway)."""

from __future__ import annotations

import multiprocessing
import time
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from test_audit_merkle import KEY, T0, _certificate, _now

from ecert.adapters.db import audit
from ecert.adapters.db.audit import AuditLog
from ecert.adapters.db.certificates import SqlCertificates
from ecert.adapters.db.engine import make_engine
from ecert.adapters.db.tables import audit_events, audit_leaves, certificates

pytestmark = pytest.mark.db
PER_PROCESS = 40


def issue(url: str, prefix: str, n: int) -> None:
    """As services/issuance.py writes an issuance: the certificate row and its event, one transaction each."""
    engine = make_engine(url)
    try:
        for i in range(n):
            with engine.begin() as conn:
                serial = f"{prefix}{i:015d}"
                digest = SqlCertificates(conn).add(_certificate(serial))
                AuditLog(conn).append(at=T0, actor="holder", action="certificate.issue", subject=serial,
                                      payload={"serial": serial, "row_sha256": digest})  # fmt: skip
    finally:
        engine.dispose()


def test_two_issuing_processes_and_a_sequencer_lose_no_event__R_ACC_1(
    ecert: Any, engine: Engine, db_url: str, tmp_path: Any
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers: PostgreSQL (SQLite takes one writer at a time)")
    from test_audit_schema import write_registry

    assert ecert("import", str(write_registry(tmp_path / "a.csv", 1)), "--json", today="2021-03-01").exit_code == 0
    spawn = multiprocessing.get_context("fork")  # a new engine in the child; nothing of the parent's pool is used
    workers = [spawn.Process(target=issue, args=(db_url, p, PER_PROCESS)) for p in ("A", "B")]
    for w in workers:
        w.start()
    runs = 0
    while any(w.is_alive() for w in workers):  # the web process's sequencer, meanwhile
        audit.sequence(engine, KEY, _now)
        runs += 1
        time.sleep(0.05)
    for w in workers:
        w.join()
        assert w.exitcode == 0
    audit.sequence(engine, KEY, _now, full=True)
    with engine.connect() as conn:
        events = conn.execute(select(func.count()).select_from(audit_events)).scalar_one()
        leaves = conn.execute(select(func.count(func.distinct(audit_leaves.c.event_id)))).scalar_one()
        issued = conn.execute(select(func.count()).select_from(certificates)).scalar_one()
        issue_events = conn.execute(
            select(func.count()).where(audit_events.c.action == "certificate.issue").select_from(audit_events)
        ).scalar_one()
        result = audit.check(conn, KEY)
    assert issued == issue_events == 2 * PER_PROCESS and events == leaves  # + the import's events
    assert result.intact and result.size == events and result.unsequenced == 0, result.problems
    assert runs > 1
