"""A worker killed mid-job (SIGKILL) loses nothing and duplicates nothing: real ``ecert jobs worker``
processes on PostgreSQL re-sealing a few hundred certificates after a seal-key rotation.

The first worker is killed once it has re-sealed some; its job stays ``doing`` under a worker whose
heartbeat has stopped. A second worker takes the job over (adapters/queue.recover_stalled_jobs) and
runs it again from the start; the job is idempotent (services/reseal.py), so in the end every
registration has exactly one certificate under the new key, and every old one is superseded."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, func, select, text

from ecert.adapters.db.tables import reseal_pending
from ecert.testing import ECERT, pg_schema
from helpers_jobs import certificates_per_registration, current_certificates_by_key, rotate_demo_seal_key

PG = os.environ.get("ECERT_TEST_DATABASE_URL")
STALLED_AFTER = 2  # seconds: the workers' heartbeat timeout, short for the test


@pytest.fixture
def pg_env(tmp_path: Path) -> Iterator[tuple[dict[str, str], Engine]]:
    if not PG:
        if os.environ.get("CI"):
            pytest.fail("the kill test needs PostgreSQL: set ECERT_TEST_DATABASE_URL (scripts/test does)")
        pytest.skip("needs ECERT_TEST_DATABASE_URL")
    with pg_schema(PG) as url:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ECERT_")},
            "ECERT_DATABASE_URL": url,
            "ECERT_KEYS_DIR": str(tmp_path / "keys"),
            "ECERT_TODAY": "2021-11-01",  # nationwide rollout: every province issues (R-SCOPE-1)
        }
        engine = create_engine(url)
        try:
            yield env, engine
        finally:
            engine.dispose()


def _ecert(env: dict[str, str], cwd: Path, *args: str) -> Any:
    res = subprocess.run([ECERT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    return json.loads(res.stdout)


def _pending(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(reseal_pending)).scalar_one())


def test_worker_killed_mid_reseal_job_then_another_finishes_it_exactly_once__R_DOC_2_R_CHG_1(
    pg_env: tuple[dict[str, str], Engine], tmp_path: Path
) -> None:
    env, engine = pg_env
    _ecert(env, tmp_path, "demo", "--holders", "300", "--json")
    _ecert(env, tmp_path, "jobs", "enqueue", "export", "--out", "reg.csv", "--now", "--json")
    with (tmp_path / "reg.csv").open(encoding="utf-8") as f:
        numbers = sorted({row["registration_no"] for row in csv.DictReader(f)})
    (tmp_path / "nos.txt").write_text("\n".join(numbers), encoding="utf-8")
    issued = _ecert(env, tmp_path, "cert", "batch", "nos.txt", "--out-dir", "old", "--workers", "2", "--json")
    n = issued["issued"]
    assert n >= 100, issued  # enough work that the kill lands mid-job

    new_key = rotate_demo_seal_key(tmp_path / "keys")
    queued = _ecert(env, tmp_path, "jobs", "enqueue", "reseal", "--out-dir", "new", "--json")
    job_id = queued["job_id"]
    assert queued["planned"] == n and _pending(engine) == n

    worker_args = [ECERT, "jobs", "worker", "--stalled-after", str(STALLED_AFTER)]
    first = subprocess.Popen(worker_args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while _pending(engine) > n - 10:
            assert first.poll() is None, first.stderr.read().decode() if first.stderr else ""
            assert time.monotonic() < deadline, "the first worker made no progress"
            time.sleep(0.02)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    killed_at = time.monotonic()
    left = _pending(engine)
    assert 0 < left < n, f"the kill did not land mid-job ({left} of {n} left)"
    with engine.connect() as conn:
        status = conn.execute(text("SELECT status::text FROM procrastinate_jobs WHERE id = :j"), {"j": job_id})
        assert status.scalar_one() == "doing"  # nobody finished it: the worker died holding it
    # Done so far, each once — plus the one in flight if the kill fell between its issue's commit
    # and crossing it off the worklist (the next run must then skip it, not issue it again).
    done = certificates_per_registration(engine, new_key)
    assert n - left <= len(done) <= n - left + 1 and set(done.values()) == {1}

    time.sleep(max(0.0, STALLED_AFTER + 0.5 - (time.monotonic() - killed_at)))  # its heartbeat is now stale
    second = subprocess.run(
        [*worker_args, "--until-empty"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert second.returncode == 0, second.stderr
    assert f"took over stalled jobs [{job_id}]" in second.stderr

    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT status::text, attempts FROM procrastinate_jobs WHERE id = :j"), {"j": job_id}
        ).one()
    assert row.status == "succeeded"
    assert _pending(engine) == 0
    # Exactly once in effect: one new-key certificate per registration, none missing, none doubled.
    per_registration = certificates_per_registration(engine, new_key)
    assert len(per_registration) == n and set(per_registration.values()) == {1}
    assert current_certificates_by_key(engine) == {new_key: n}
    pdfs = sorted((tmp_path / "new").glob("*.pdf"))
    assert len(pdfs) == n and not list((tmp_path / "new").glob(".*"))
    for pdf in (pdfs[0], pdfs[-1]):
        assert _ecert(env, tmp_path, "verify", str(pdf), "--json")["status"] == "valid"
    old = sorted((tmp_path / "old").glob("*.pdf"))[0]
    assert _ecert(env, tmp_path, "verify", str(old), "--json")["status"] == "superseded"
