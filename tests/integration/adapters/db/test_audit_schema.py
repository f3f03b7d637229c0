"""Audit log (R-ACC-1: append-only, tamper-evident) and schema (migrations == tables.metadata; ``ecert init``)."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, delete, func, inspect, select, update

from ecert.adapters.db.audit import AuditLog, canonical, event_leaf
from ecert.adapters.db.engine import make_engine, upgrade
from ecert.adapters.db.tables import audit_events, include_name, metadata
from ecert.domain.ids import make_id_number, make_registration_no, make_uscc
from ecert.domain.model import Gender
from helpers_audit import tamper
from helpers_cli import COLUMNS as HEADER


def write_registry(path: Path, n: int = 2, employer: str = "某建设公司") -> Path:
    uscc = make_uscc("330100", "MA4DE5F6G")
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for i in range(1, n + 1):
            birth = date(1980, 1, i)
            idn = make_id_number("330102", birth, i, Gender.MALE)
            reg = make_registration_no("浙", "33", 2010, 2012, i)
            w.writerow([reg, "张伟", "男", birth.isoformat(), idn, employer, uscc, "建筑工程", "2021-07-10"])
    return path


def events(engine: Engine) -> list[Any]:
    """The events of the changes (not the ``registry.rows`` digests each change also logs)."""
    with engine.connect() as conn:
        q = select(audit_events).where(audit_events.c.action != "registry.rows").order_by(audit_events.c.id)
        return list(conn.execute(q))


def verify(engine: Engine) -> int | None:
    with engine.connect() as conn:
        return AuditLog(conn).verify()


def test_import_writes_an_audit_event__R_ACC_1(ecert: Any, engine: Engine, tmp_path: Path) -> None:
    path = write_registry(tmp_path / "reg.csv")
    res = ecert("import", str(path), "--json", today="2021-03-01")
    assert res.exit_code == 0, res.stdout
    [ev] = events(engine)
    assert ev.action == "registry.import"
    assert ev.subject == "reg.csv"
    assert ev.actor
    assert ev.prev_hash is None  # no chain (migration 0014): the hash is the event's Merkle leaf
    body = canonical(
        ev.at if ev.at.tzinfo else ev.at.replace(tzinfo=UTC), ev.actor, ev.action, ev.subject, json.loads(ev.payload)
    )
    assert ev.hash == event_leaf(body).hex()
    payload = json.loads(ev.payload)
    assert (payload["imported"], payload["updated"], payload["rows"]) == (2, 0, 2)
    at = ev.at if ev.at.tzinfo else ev.at.replace(tzinfo=UTC)
    assert at.astimezone(UTC).date() in (date(2021, 2, 28), date(2021, 3, 1))  # ECERT_TODAY, recorded in UTC


def test_bad_import_writes_no_audit_event__R_ACC_1(ecert: Any, engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(",".join(HEADER) + "\n" + "x,张伟,男,1980-01-01,1,e,u,建筑工程,2021-01-01\n", encoding="utf-8")
    assert ecert("import", str(path), "--json", today="2021-03-01").exit_code == 2
    assert events(engine) == []


def test_audit_chain_verifies_and_an_edited_event_is_found__R_ACC_1(ecert: Any, engine: Engine, tmp_path: Path) -> None:
    assert ecert("import", str(write_registry(tmp_path / "a.csv")), "--json", today="2021-03-01").exit_code == 0
    assert ecert("import", str(write_registry(tmp_path / "b.csv", 3, "另一公司")), today="2021-03-02").exit_code == 0
    assert ecert("sweep", "--json", today="2021-07-11").json()["lapsed"] == 3
    assert ecert("sweep", "--json", today="2021-07-12").json()["lapsed"] == 0
    evs = events(engine)
    assert [e.action for e in evs] == ["registry.import", "registry.import", "registry.sweep"]
    assert verify(engine) is None
    audit = ecert("audit", "verify", "--json")  # sequenced, checked and signed
    with engine.connect() as conn:  # the three, and the registry rows each import logged (registry.rows)
        total = conn.execute(select(func.count()).select_from(audit_events)).scalar_one()
    assert (audit.exit_code, audit.json()["intact"], audit.json()["size"]) == (0, True, total) and total > 3, (
        audit.stdout
    )

    middle = evs[1]
    forged = json.loads(middle.payload)
    forged["imported"] = 0
    with tamper(engine) as conn:
        conn.execute(
            update(audit_events)
            .where(audit_events.c.id == middle.id)
            .values(payload=json.dumps(forged, sort_keys=True))
        )
    assert verify(engine) == middle.id
    with tamper(engine) as conn:
        conn.execute(update(audit_events).where(audit_events.c.id == middle.id).values(payload=middle.payload))
    assert verify(engine) is None


def test_audit_chain_detects_a_deleted_event_and_an_edited_actor__R_ACC_1(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    for i, name in enumerate(("a.csv", "b.csv", "c.csv"), start=1):
        res = ecert("import", str(write_registry(tmp_path / name, i)), "--json", today="2021-03-01")
        assert res.exit_code == 0
    assert ecert("audit", "verify", "--json").exit_code == 0  # sequenced: in the Merkle tree
    _first, second, third = events(engine)
    with tamper(engine) as conn:
        conn.execute(update(audit_events).where(audit_events.c.id == third.id).values(actor="someone else"))
    assert verify(engine) == third.id
    with tamper(engine) as conn:
        conn.execute(update(audit_events).where(audit_events.c.id == third.id).values(actor=third.actor))
        conn.execute(delete(audit_events).where(audit_events.c.id == second.id))
    assert verify(engine) == second.id  # its leaf has no event any more
    res = ecert("audit", "verify", "--json")
    assert res.exit_code == 1 and [p["code"] for p in res.json()["problems"]] == ["event_missing"]


def test_audit_append_through_the_unit_of_work_verifies_on_both_databases__R_ACC_1(make_app: Any) -> None:
    app = make_app(date(2021, 3, 1))
    with app.uow() as uow:
        for i in range(3):
            uow.audit.append(
                at=datetime(2021, 3, 1, 8, i, tzinfo=UTC),
                actor="tester",
                action="test.event",
                subject=f"S{i}",
                payload={"n": i, "name": "𠮷", "nested": {"b": [1, 2]}},
            )
        uow.commit()
    with app.uow() as uow:
        assert uow.audit.verify() is None
        assert uow.connection.execute(select(func.count()).select_from(audit_events)).scalar_one() == 3


def test_migration_0014_hashes_leaves_and_certificate_rows_as_audit_py_does__R_ACC_1() -> None:
    """Migration 0014 keeps its own copies of the leaf and certificate digests (a revision does the same
    whatever the code becomes): they must equal adapters/db/audit.py's, or the first check after the
    migration would report every old event and certificate as altered."""
    import importlib.util

    import ecert.adapters.db.audit as audit
    import ecert.adapters.db.migrations.versions as versions

    path = Path(versions.__path__[0]) / "0014_audit_log_merkle.py"
    spec = importlib.util.spec_from_file_location("m0014", path)
    assert spec is not None and spec.loader is not None
    m0014 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m0014)
    at = datetime(2021, 3, 1, 8, 0, 1, 5, tzinfo=UTC)
    payload = {"n": 1, "name": "𠮷", "nested": {"b": [1, 2]}, "when": None}
    assert m0014.canonical(at, "a", "b", None, payload) == audit.canonical(at, "a", "b", None, payload)
    assert (
        m0014.leaf_hash(audit.canonical(at, "a", "b", "s", payload))
        == audit.event_leaf(audit.canonical(at, "a", "b", "s", payload)).hex()
    )
    row = {c: f"v-{c}" for c in audit.CERTIFICATE_COLUMNS} | {
        "data_version": 3,
        "issue_date": date(2021, 3, 1),
        "issued_at": at,
    }
    assert m0014.certificate_digest(row) == audit.certificate_digest(row)
    assert m0014.CERTIFICATE_COLUMNS == audit.CERTIFICATE_COLUMNS
    assert m0014.REGISTRATION_COLUMNS == audit.REGISTRATION_COLUMNS
    reg = {c: f"v-{c}" for c in audit.REGISTRATION_COLUMNS} | {"birth_date": date(1980, 1, 1), "created_at": at}
    assert m0014.row_digest(reg, m0014.REGISTRATION_COLUMNS) == audit.registration_digest(reg)


# ---------------------------------------------------------------------------------------------- schema


def test_migrations_produce_exactly_the_table_metadata(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"include_name": include_name}), metadata)
    assert diff == []


def test_migrated_schema_has_every_table_and_index(engine: Engine) -> None:
    insp = inspect(engine)
    assert set(metadata.tables) <= set(insp.get_table_names())
    for name, table in metadata.tables.items():
        expected = {ix.name for ix in table.indexes}
        assert expected <= {ix["name"] for ix in insp.get_indexes(name)}, name


def test_init_twice_is_fine(ecert: Any, db_url: str) -> None:
    first = ecert("init", "--json")
    assert first.exit_code == 0, first.stdout + first.stderr
    head = first.json()["schema"]
    assert first.json()["previous"] is None
    second = ecert("init", "--json")
    assert second.exit_code == 0, second.stdout + second.stderr
    assert (second.json()["schema"], second.json()["previous"]) == (head, head)
    human = ecert("init")
    assert human.exit_code == 0
    eng = make_engine(db_url)
    try:
        assert upgrade(eng) == (head, head)  # already at the newest revision: nothing to do
        with eng.connect() as conn:
            assert (
                compare_metadata(MigrationContext.configure(conn, opts={"include_name": include_name}), metadata) == []
            )
    finally:
        eng.dispose()


def test_command_on_an_uninitialised_database_prints_one_json_error__contract_global(
    ecert: Any, db_url: str, request: pytest.FixtureRequest
) -> None:
    """No ``engine`` fixture: the schema was never created. ``--json`` must still print one JSON object."""
    for args in (("holder", "show", make_registration_no("浙", "33", 2010, 2012, 1), "--json"), ("sweep", "--json")):
        res = ecert(*args, today="2021-03-01")
        assert res.exit_code == 1, res.stdout
        assert res.json()["error"]["code"] == "database_error"
