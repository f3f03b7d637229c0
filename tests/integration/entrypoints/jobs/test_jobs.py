"""Jobs run in-process (SQLite default, or ``--now``): re-sealing after a seal-key rotation, bulk
export, sweep. Run on SQLite and on PostgreSQL (per-test schema). The queue itself (procrastinate)
is in test_jobs_queue.py; a worker killed mid-job in tests/e2e/test_jobs_kill.py."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from ecert.adapters.db.tables import certificates, reseal_pending
from ecert.bootstrap import bootstrap
from ecert.config import Settings
from ecert.domain.ids import make_uscc
from ecert.services import issuance
from ecert.services.registry_import import REQUIRED_COLUMNS
from ecert.services.reseal import plan_reseal, reseal
from helpers_jobs import certificates_per_registration, current_certificates_by_key, rotate_demo_seal_key

TODAY = "2021-11-01"  # nationwide rollout: every province issues (R-SCOPE-1)


def _issue_sample(ecert: Any, tmp_path: Path) -> dict[str, str]:
    """A demo registry and one certificate for each sample holder the rules allow: {reg_no: pdf path}."""
    demo = ecert("demo", "--holders", "30", "--json", today=TODAY)
    assert demo.exit_code == 0, demo.stdout + demo.stderr
    issued = {}
    for n in demo.json()["sample_registration_nos"]:
        pdf = tmp_path / f"old-{n}.pdf"
        if ecert("cert", "issue", n, "--confirm", "--out", str(pdf), "--json", today=TODAY).exit_code == 0:
            issued[n] = str(pdf)
    assert len(issued) >= 4, issued
    return issued


def test_reseal_after_key_rotation_reissues_each_current_certificate_once__R_DOC_2_R_CHG_1(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    issued = _issue_sample(ecert, tmp_path)
    with engine.connect() as conn:  # the sample's and those the demo cases hold (no longer current)
        before = conn.execute(select(func.count()).select_from(certificates)).scalar_one()
    old_key = next(iter(current_certificates_by_key(engine)))
    new_key = rotate_demo_seal_key(tmp_path / "var" / "keys")
    assert new_key != old_key

    res = ecert("jobs", "enqueue", "reseal", "--out-dir", "out", "--now", "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout + res.stderr
    d = res.json()
    assert d["backend"] == "in-process" and d["status"] == "succeeded"
    assert (d["result"]["planned"], d["result"]["resealed"], d["result"]["key_id"]) == (
        len(issued),
        len(issued),
        new_key,
    )

    # Every current certificate is now sealed with the new key, one per registration.
    assert current_certificates_by_key(engine) == {new_key: len(issued)}
    assert certificates_per_registration(engine, new_key) == dict.fromkeys(issued, 1)
    for n, old_pdf in issued.items():
        new_pdf = tmp_path / "out" / f"{n}.pdf"
        v = ecert("verify", str(new_pdf), "--json", today=TODAY).json()
        assert v["status"] == "valid", v
        with engine.connect() as conn:
            key = conn.execute(select(certificates.c.seal_key_id).where(certificates.c.serial == v["serial"]))
            assert key.scalar_one() == new_key
        old = ecert("verify", old_pdf, "--json", today=TODAY).json()
        assert old["status"] == "superseded", old  # R-CHG-1: the old seal's certificate is no longer current
    assert not list((tmp_path / "out").glob(".*.tmp"))

    again = ecert("jobs", "enqueue", "reseal", "--out-dir", "out", "--now", "--json", today=TODAY).json()["result"]
    assert (again["planned"], again["resealed"], again["already_done"]) == (0, 0, 0)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(certificates)).scalar_one() == before + len(issued)


def _app(db_url: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("ECERT_KEYS_DIR", str(tmp_path / "var" / "keys"))
    for k in ("ECERT_SEAL_KEY", "ECERT_SEAL_CERT", "ECERT_SEAL_PKCS12", "ECERT_PKCS11_MODULE", "ECERT_TSA_URL"):
        monkeypatch.delenv(k, raising=False)
    from datetime import date

    return bootstrap(Settings(database_url=db_url, today_override=date.fromisoformat(TODAY)), engine=engine)


def test_reseal_restarted_after_a_crash_finishes_without_duplicates(
    ecert: Any, engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The states a kill can leave: planned but nothing issued; one issued but not crossed off the
    worklist (killed between issue's commit and the delete); a run stopped halfway."""
    issued = _issue_sample(ecert, tmp_path)
    new_key = rotate_demo_seal_key(tmp_path / "var" / "keys")
    a = _app(db_url, engine, tmp_path, monkeypatch)
    assert a.documents.sealer.key_id == new_key
    planned = plan_reseal(a.uow(), key_id=new_key, today=a.clock.today(), now=a.clock.now(), actor="test")
    assert planned == len(issued)
    with a.uow() as uow:  # recorded set-based, one row each (R-CHG-1)
        for no in issued:
            [last] = uow.registry.supersessions(no)[-1:]
            assert (last.cause, last.actor, last.to_version) == ("reseal", "test", last.from_version + 1)
    assert plan_reseal(a.uow(), key_id=new_key, today=a.clock.today(), now=a.clock.now(), actor="test") == 0

    first = sorted(issued)[0]
    issuance.issue(
        a.uow(), first, confirm=True, actor="test", today=a.clock.today(), now=a.clock.now(), policy=a.policy,
        docs=a.documents,
    )  # fmt: skip

    class Killed(Exception):
        pass

    def die_after_two(done: int, total: int) -> None:
        if done == 2:
            raise Killed

    out = tmp_path / "out"
    with pytest.raises(Killed):
        reseal(
            a.uow, docs=a.documents, policy=a.policy, today=a.clock.today(), now=a.clock.now, actor="test",
            out_dir=out, progress=die_after_two,
        )  # fmt: skip
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(reseal_pending)).scalar_one() == len(issued) - 2

    result = reseal(
        a.uow, docs=a.documents, policy=a.policy, today=a.clock.today(), now=a.clock.now, actor="test", out_dir=out
    )
    assert result.planned == 0
    assert result.already_done + result.resealed == len(issued) - 2
    assert certificates_per_registration(engine, new_key) == dict.fromkeys(issued, 1)
    assert current_certificates_by_key(engine) == {new_key: len(issued)}


def test_export_registry_has_the_import_columns_and_certificates_their_state(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    issued = _issue_sample(ecert, tmp_path)
    res = ecert("jobs", "enqueue", "export", "--out", "reg.csv", "--now", "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout + res.stderr
    d = res.json()["result"]
    with (tmp_path / "reg.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == d["rows"] > 0
    assert list(rows[0])[: len(REQUIRED_COLUMNS)] == list(REQUIRED_COLUMNS)
    assert {r["registration_no"] for r in rows} >= set(issued)
    # What it wrote, ecert import takes back unchanged.
    again = ecert("import", "reg.csv", "--json", today=TODAY)
    assert again.exit_code == 0, again.stdout
    assert (again.json()["imported"], again.json()["updated"]) == (0, 0)

    changed = sorted(issued)[0]
    uscc = make_uscc("110100", "MA0BC1D2E")
    moved = ecert("change", "employer", changed, "--name", "新单位建设有限公司", "--uscc", uscc, "--json", today=TODAY)
    assert moved.exit_code == 0, moved.stdout
    args = ("--what", "certificates", "--format", "jsonl", "--out", "c.jsonl", "--now", "--json")
    res = ecert("jobs", "enqueue", "export", *args, today=TODAY)
    lines = [json.loads(x) for x in (tmp_path / "c.jsonl").read_text("utf-8").splitlines()]
    assert res.json()["result"]["rows"] == len(lines)
    mine = [x for x in lines if x["registration_no"] in issued]
    assert len(mine) == len(issued)
    states = {x["registration_no"]: x["registry_state"] for x in mine}
    assert states == {n: "superseded" if n == changed else "current" for n in issued}  # R-CHG-1
    # The others are the certificates the demo's revoked and superseded cases hold: none is current.
    assert all(x["registry_state"] != "current" for x in lines if x["registration_no"] not in issued)
    assert all(x["issued_at"].endswith("+00:00") for x in lines)

    bad = ecert("jobs", "enqueue", "export", "--what", "holders", "--out", "x", "--json")
    assert bad.exit_code == 2 and bad.json()["error"]["code"] == "bad_input"


def test_sweep_job_in_process_is_the_sweep_and_idempotent__R_LAPSE_1(ecert: Any, engine: Engine) -> None:
    ecert("demo", "--holders", "30", "--json", today=TODAY)
    first = ecert("jobs", "enqueue", "sweep", "--now", "--json", today=TODAY).json()
    assert first["status"] == "succeeded" and first["result"]["lapsed"] > 0
    second = ecert("jobs", "enqueue", "sweep", "--now", "--json", today=TODAY).json()
    assert second["result"]["lapsed"] == 0
    assert ecert("sweep", "--json", today=TODAY).json()["lapsed"] == 0
