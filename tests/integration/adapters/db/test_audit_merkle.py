"""The audit log as a Merkle-tree transparency log (issue 16 item 1, R-ACC-1; adapters/db/audit.py), on
SQLite and PostgreSQL: what someone who can write the database does to it, and that the check finds it.

Each tampering goes around PostgreSQL's append-only trigger the way such a person would (as the
database owner, ``session_replication_role = replica``); the trigger itself is tested last."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, Engine, delete, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from ecert.adapters import signed_note
from ecert.adapters.db import audit
from ecert.adapters.db.audit import AuditLog, ChainCheck, NoteKey
from ecert.adapters.db.certificates import SqlCertificates
from ecert.adapters.db.tables import (
    audit_checkpoints,
    audit_events,
    audit_leaves,
    certificates,
    registrations,
    verification_events,
)
from ecert.adapters.db.verification_log import verification, write_batch
from ecert.adapters.keystore import key_settings_from_env
from ecert.bootstrap import bootstrap
from ecert.config import Settings
from ecert.domain.certificate import CertificateRecord
from ecert.domain.ids import make_registration_no
from ecert.entrypoints.jobs.definitions import JOBS
from helpers_audit import tamper

pytestmark = pytest.mark.db

KEY = NoteKey("ecert.test/audit", Ed25519PrivateKey.from_private_bytes(b"k" * 32))
T0 = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)
REG_NO = make_registration_no("浙", "33", 2010, 2012, 1)  # the first row of test_audit_schema.write_registry


def _now() -> datetime:
    return datetime.now(UTC)


def append(engine: Engine, n: int, start: int = 0) -> None:
    """``n`` events, one transaction (as many changes would write them)."""
    with engine.begin() as conn:
        log = AuditLog(conn)
        for i in range(start, start + n):
            log.append(at=T0 + timedelta(seconds=i), actor="tester", action="test.event", subject=f"S{i}",
                       payload={"n": i, "name": "𠮷"})  # fmt: skip


def sequence(engine: Engine) -> str:
    note = audit.sequence(engine, KEY, _now).note
    assert note is not None
    return note


def check(engine: Engine, trusted: str | None = None) -> ChainCheck:
    with engine.connect() as conn:
        return audit.check(conn, KEY, trusted)


def codes(result: ChainCheck) -> set[str]:
    return {c for c, _zh, _en in result.problems}


def event_ids(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(select(audit_events.c.id).order_by(audit_events.c.id)).scalars())


def test_truncation_by_one_and_by_fifty_is_found__R_ACC_1(engine: Engine) -> None:
    append(engine, 10)
    kept = sequence(engine)  # a checkpoint someone kept (ecert audit checkpoint --out)
    assert signed_note.verify(kept, KEY.name, KEY.public_key).size == 10
    append(engine, 50, 10)
    latest = sequence(engine)
    result = check(engine, kept)  # untouched: intact, and the kept checkpoint is a prefix of today's tree
    assert result.intact and result.size == 60 and result.events == 60, result.problems
    assert result.checkpoint is not None and result.checkpoint["note"] == latest
    ids = event_ids(engine)
    # By one: the last event and its leaf gone; the latest checkpoint still says 60.
    with tamper(engine) as conn:
        conn.execute(delete(audit_events).where(audit_events.c.id == ids[-1]))
        conn.execute(delete(audit_leaves).where(audit_leaves.c.leaf_index == 59))
    result = check(engine)
    assert "truncated" in codes(result) and result.size == 59
    # By fifty, the checkpoints after the tenth event removed too: the database alone now looks whole…
    with tamper(engine) as conn:
        conn.execute(delete(audit_events).where(audit_events.c.id.in_(ids[10:])))
        conn.execute(delete(audit_leaves).where(audit_leaves.c.leaf_index >= 10))
        conn.execute(delete(audit_checkpoints).where(audit_checkpoints.c.tree_size > 10))
    assert check(engine).intact and check(engine).size == 10
    # … but not against the checkpoint published before: 10 < 60.
    result = check(engine, latest)
    assert "truncated" in codes(result) and not result.intact
    assert check(engine, kept).intact


def test_a_deleted_verification_batch_event_is_found__R_ACC_1(engine: Engine) -> None:
    append(engine, 3)
    records = [verification(T0, "qr", "ABCDEFGHJKMNPQRS", None, "valid") for _ in range(5)]
    write_batch(engine, records, now=T0)
    write_batch(engine, records[:2], now=T0)
    note = sequence(engine)
    assert check(engine).intact and check(engine).verifications == 7
    with engine.connect() as conn:
        last = conn.execute(select(func.max(audit_events.c.id))).scalar_one()
        batch_id = conn.execute(select(audit_events.c.subject).where(audit_events.c.id == last)).scalar_one()
    with tamper(engine) as conn:  # the last batch: its event, its rows, its leaf and its checkpoint
        conn.execute(delete(verification_events).where(verification_events.c.batch_id == batch_id))
        conn.execute(delete(audit_events).where(audit_events.c.id == last))
        conn.execute(delete(audit_leaves).where(audit_leaves.c.event_id == last))
    assert "truncated" in codes(check(engine))
    with tamper(engine) as conn:
        conn.execute(delete(audit_checkpoints))
    assert "truncated" in codes(check(engine, note))


def test_a_rewritten_and_rehashed_middle_is_found__R_ACC_1(engine: Engine) -> None:
    append(engine, 20)
    note = sequence(engine)
    victim = event_ids(engine)[9]
    with engine.connect() as conn:
        row = conn.execute(select(audit_events).where(audit_events.c.id == victim)).one()
    forged = {**json.loads(row.payload), "n": 999}
    leaf = audit.event_leaf(audit.canonical(row.at.replace(tzinfo=UTC), row.actor, row.action, row.subject, forged))
    with tamper(engine) as conn:  # the event, its leaf hash, every checkpoint re-made — under another key
        conn.execute(
            update(audit_events).where(audit_events.c.id == victim).values(payload=json.dumps(forged), hash=leaf.hex())
        )
        conn.execute(update(audit_leaves).where(audit_leaves.c.event_id == victim).values(leaf_hash=leaf.hex()))
        hashes = [
            bytes.fromhex(h) for h in conn.execute(select(audit_leaves.c.leaf_hash).order_by("leaf_index")).scalars()
        ]
        from ecert.domain import merkle

        root = merkle.root(hashes)
        forged_note = signed_note.sign(
            signed_note.Checkpoint(KEY.name, 20, root, T0), KEY.name, Ed25519PrivateKey.generate()
        )
        conn.execute(update(audit_checkpoints).values(root_hash=root.hex(), note=forged_note))
    result = check(engine)
    assert "checkpoint_invalid" in codes(result) and not result.intact
    assert "inconsistent" in codes(check(engine, note))


def test_a_reordered_pair_and_an_inserted_event_are_found__R_ACC_1(engine: Engine) -> None:
    append(engine, 8)
    note = sequence(engine)
    with engine.connect() as conn:
        leaves = list(conn.execute(select(audit_leaves).order_by(audit_leaves.c.leaf_index)))

    def relay(conn: Connection, rows: list[tuple[int, str]], start: int) -> None:
        conn.execute(delete(audit_leaves).where(audit_leaves.c.leaf_index >= start))
        conn.execute(
            insert(audit_leaves),
            [{"leaf_index": start + i, "event_id": e, "leaf_hash": h} for i, (e, h) in enumerate(rows)],
        )

    original = [(int(r.event_id), str(r.leaf_hash)) for r in leaves]
    with tamper(engine) as conn:  # leaves 3 and 4 swap places, each still matching its own event
        relay(conn, [original[4], original[3], *original[5:]], 3)
    result = check(engine)
    assert "root_mismatch" in codes(result) and not result.intact
    assert "inconsistent" in codes(check(engine, note))
    with tamper(engine) as conn:
        relay(conn, original[3:], 3)
    assert check(engine, note).intact
    forged = {"n": -1}
    body = audit.canonical(T0, "tester", "test.event", "forged", forged)
    with tamper(engine) as conn:  # an event slipped in at leaf 5, the later ones moved up by one
        new_id = conn.execute(
            insert(audit_events).values(at=T0, actor="tester", action="test.event", subject="forged",
                                        payload=json.dumps(forged), hash=audit.event_leaf(body).hex())
            .returning(audit_events.c.id)
        ).scalar_one()  # fmt: skip
        relay(conn, [(new_id, audit.event_leaf(body).hex()), *original[5:]], 5)
    result = check(engine)
    assert "root_mismatch" in codes(result) and not result.intact
    assert "inconsistent" in codes(check(engine, note))


def _certificate(serial: str) -> CertificateRecord:
    return CertificateRecord(
        serial=serial, registration_no=REG_NO, data_version=1, identifier=f"ID-{serial}",
        usage_from=date(2026, 12, 6), usage_until=date(2027, 3, 5), issue_date=date(2026, 12, 6),
        content_digest="ab" * 32, seal_key_id="cd" * 32, qr_kid="0a1b2c3d", confirmed_by="holder",
        confirmed_at=T0, issued_at=T0,
    )  # fmt: skip


def test_an_edited_removed_or_added_certificate_row_is_found__R_ACC_1(
    ecert: Any, engine: Engine, tmp_path: Any
) -> None:
    from test_audit_schema import write_registry

    assert ecert("import", str(write_registry(tmp_path / "a.csv", 1)), "--json", today="2021-03-01").exit_code == 0
    with engine.begin() as conn:  # as services/issuance.py: the row, and its digest in the issue event
        for serial in ("AAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBB"):
            digest = SqlCertificates(conn).add(_certificate(serial))
            AuditLog(conn).append(at=T0, actor="holder", action="certificate.issue", subject=REG_NO,
                                  payload={"serial": serial, "row_sha256": digest})  # fmt: skip
    sequence(engine)
    assert check(engine).intact
    with tamper(engine) as conn:
        conn.execute(
            update(certificates).where(certificates.c.serial == "AAAAAAAAAAAAAAAA").values(usage_until=date(2030, 1, 1))
        )
    assert codes(check(engine)) == {"registry_row_changed"}
    with tamper(engine) as conn:
        conn.execute(
            update(certificates).where(certificates.c.serial == "AAAAAAAAAAAAAAAA").values(usage_until=date(2027, 3, 5))
        )
        conn.execute(delete(certificates).where(certificates.c.serial == "BBBBBBBBBBBBBBBB"))
    assert codes(check(engine)) == {"registry_row_missing"}
    with tamper(engine) as conn:
        SqlCertificates(conn).add(_certificate("BBBBBBBBBBBBBBBB"))
        SqlCertificates(conn).add(_certificate("CCCCCCCCCCCCCCCC"))
    assert codes(check(engine)) == {"registry_row_unlogged"}
    with tamper(engine) as conn:
        conn.execute(delete(certificates).where(certificates.c.serial.in_(["BBBBBBBBBBBBBBBB", "CCCCCCCCCCCCCCCC"])))
        conn.execute(update(certificates).values(seal_key_id="ee" * 32))  # A, the one row left, edited
    assert codes(check(engine)) == {"registry_row_changed", "registry_row_missing"}


def test_registration_rows_changed_through_ecert_check_out_and_edited_by_hand_are_found__R_ACC_1(
    ecert: Any, engine: Engine, tmp_path: Any
) -> None:
    """Registrations: the import, a change of employer (supersede) and a revocation log the rows they
    write (``registry.rows``); an edit by hand is then found, and so is a registration added by hand."""
    from test_audit_schema import write_registry

    assert ecert("import", str(write_registry(tmp_path / "a.csv", 2)), "--json", today="2021-03-01").exit_code == 0
    assert (
        ecert("import", str(write_registry(tmp_path / "b.csv", 3, "另一公司")), "--json", today="2021-03-02").exit_code
        == 0
    )
    assert (
        ecert(
            "revoke",
            REG_NO,
            "--reason",
            "测试",
            "--basis",
            "文号",
            "--effective",
            "2021-03-03",
            "--json",
            today="2021-03-03",
        ).exit_code
        == 0
    )
    assert check(engine).intact, check(engine).problems
    with tamper(engine) as conn:
        conn.execute(update(registrations).where(registrations.c.registration_no == REG_NO).values(status="active"))
    result = check(engine)
    assert codes(result) == {"registry_row_changed"} and REG_NO in result.problems[0][2]


def test_events_committed_but_never_sequenced_are_sequenced_by_the_next_run__R_ACC_1(
    engine: Engine, db_url: str, tmp_path: Any
) -> None:
    """A crash between commit and sequencing: the events are in the table, with no leaf; the next
    sequencer (the restarted process's first, full run) takes them."""
    append(engine, 4)
    sequence(engine)
    append(engine, audit.WINDOW // 1000, 100)  # committed; the process "dies" before its sequencer runs
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(audit_leaves)).scalar_one() == 4
        assert check(engine).unsequenced == audit.WINDOW // 1000
    # The restarted side: here the worker's job (entrypoints/jobs), a full run like the web's first.
    app = bootstrap(
        Settings(database_url=db_url), engine=engine, keys=key_settings_from_env({"ECERT_KEYS_DIR": str(tmp_path)})
    )
    app.__dict__["audit_key"] = KEY  # the test's audit key instead of one made in tmp_path
    step = JOBS["audit_sequence"].fn(app)
    assert step == {"added": audit.WINDOW // 1000, "size": 4 + audit.WINDOW // 1000}
    result = check(engine)
    assert result.intact and result.unsequenced == 0 and result.size == step["size"]
    append(engine, 2, 200)  # and one edited before the sequencer took it: the hash written with it says so
    victim = event_ids(engine)[-1]
    with tamper(engine) as conn:
        conn.execute(update(audit_events).where(audit_events.c.id == victim).values(actor="someone else"))
    result = check(engine)
    assert "event_altered" in codes(result) and result.first_broken_id == victim


def test_postgresql_refuses_update_delete_and_truncate_on_the_log__R_ACC_1(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the append-only trigger is PostgreSQL's (SQLite: a file the application owns)")
    append(engine, 2)
    write_batch(engine, [verification(T0, "qr", None, None, "valid")], now=T0)
    sequence(engine)
    for table in (audit_events, audit_leaves, audit_checkpoints, verification_events):
        for stmt in (update(table).values({table.c[list(table.c.keys())[1]]: None}), delete(table)):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(stmt)
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {table.name}"))
    assert check(engine).intact


def test_an_independent_verifier_accepts_the_checkpoints_and_proofs_and_refuses_a_forgery__R_ACC_1(
    engine: Engine,
) -> None:
    """tests/independent/verify_audit.py (stdlib + cryptography, the RFC's recursive definitions, C2SP
    read from its text) checks what ecert publishes: the signed checkpoints, the events' tree, the
    inclusion proofs and the consistency proof between two checkpoints."""
    import subprocess
    import sys
    from pathlib import Path

    append(engine, 13)
    old_note = sequence(engine)
    append(engine, 8, 13)
    note = sequence(engine)
    e, lf = audit_events.c, audit_leaves.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(lf.leaf_index, e.id, e.at, e.actor, e.action, e.subject, e.payload)
            .join(audit_events, e.id == lf.event_id)
            .order_by(lf.leaf_index)
        ).all()
        proofs = [audit.inclusion(conn, int(r.id)) for r in rows if r.leaf_index in (0, 5, 12, 20)]
        cons = audit.consistency(conn, 13)
    assert cons is not None and all(p is not None for p in proofs)
    given = {
        "vkey": KEY.verifier_key,
        "note": note,
        "old_note": old_note,
        "events": [{"at": r.at.replace(tzinfo=UTC).isoformat() if r.at.tzinfo is None else r.at.isoformat(),
                    "actor": r.actor, "action": r.action, "subject": r.subject, "payload": r.payload} for r in rows],
        "inclusion": [{"index": p["leaf_index"], "size": p["tree_size"], "proof": p["proof"]} for p in proofs if p],
        "consistency": {"first": cons["first"], "second": cons["second"], "proof": cons["proof"]},
    }  # fmt: skip
    script = Path(__file__).parents[3] / "independent" / "verify_audit.py"

    def run(doc: dict[str, Any]) -> dict[str, Any]:
        out = subprocess.run(
            [sys.executable, str(script)], input=json.dumps(doc), capture_output=True, text=True, check=False
        )
        result: dict[str, Any] = json.loads(out.stdout)
        assert out.returncode == (0 if result["ok"] else 1)
        return result

    assert run(given) == {"ok": True, "errors": []}
    forged = json.loads(json.dumps(given))
    forged["events"][5]["payload"] = json.dumps({"n": 999, "name": "𠮷"})
    assert not run(forged)["ok"]
    bad_proof = json.loads(json.dumps(given))
    bad_proof["consistency"]["proof"][0] = "00" * 32
    assert run(bad_proof)["errors"] == ["the consistency proof does not join the two checkpoints"]
    other_key = json.loads(json.dumps(given))
    other_key["note"] = signed_note.sign(signed_note.parse(note)[0], KEY.name, Ed25519PrivateKey.generate())
    assert run(other_key)["errors"][0].startswith("checkpoint:")
