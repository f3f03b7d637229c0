"""The employer's roster pages (issue 13 item 3; R-ACC-1), on SQLite and PostgreSQL: upload, the progress
page, the three downloads; only the employer who asked sees its run; a refused roster stores nothing;
on PostgreSQL a large roster runs as a ``roster`` job on the queue and the progress page follows it."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ecert.adapters import keystore, queue
from ecert.adapters.db.tables import roster_runs
from ecert.bootstrap import App, bootstrap
from ecert.config import RosterSettings, Settings
from ecert.entrypoints.jobs import tasks
from helpers_app import signed_in
from helpers_cli import UNKNOWN_NO, USCC_A, USCC_B
from helpers_roster import TODAY, Cases, build_cases, write_roster

PASSWORD = "roster-pass-2021"


def _app(db_url: str, tmp_path: Path, **roster: int) -> App:
    keys = keystore.key_settings_from_env({"ECERT_KEYS_DIR": str(tmp_path / "var" / "keys")})
    settings = Settings(database_url=db_url, today_override=date.fromisoformat(TODAY))
    if roster:
        settings = replace(settings, roster=RosterSettings(**roster))
    return bootstrap(settings, keys=keys)


def _user(ecert: Any, name: str, *args: str) -> None:
    res = ecert("user", "add", name, *args, "--password-stdin", "--json", input=PASSWORD + "\n", today=TODAY)
    assert res.exit_code == 0, res.stdout


@pytest.fixture
def world(ecert: Any, tmp_path: Path) -> Cases:
    cases = build_cases(ecert, tmp_path)
    _user(ecert, "boss-a", "--role", "employer", "--uscc", USCC_A)
    _user(ecert, "boss-b", "--role", "employer", "--uscc", USCC_B)
    _user(ecert, "holder-1", "--role", "holder", "--registration-no", cases.valid)
    return cases


def _csrf(client: TestClient) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', client.get("/roster").text)
    assert m is not None
    return m.group(1)


def _upload(client: TestClient, path: Path, on: str = "") -> Any:
    with path.open("rb") as f:
        return client.post(
            "/roster", data={"csrf": _csrf(client), "date": on}, files={"file": (path.name, f)}, follow_redirects=False
        )


def _rows(client: TestClient, run: str) -> dict[str, dict[str, Any]]:
    res = client.get(f"{run}/report.json")
    assert res.status_code == 200 and res.headers["content-type"].startswith("application/json")
    return {r["registration_no"]: r for r in json.loads(res.content)["report"]["rows"]}


def test_an_employer_uploads_a_roster_and_downloads_the_signed_report__R_ACC_1(
    world: Cases, db_url: str, tmp_path: Path
) -> None:
    core = _app(db_url, tmp_path)
    boss = signed_in(core, "boss-a", PASSWORD)
    roster = write_roster(tmp_path / "roster.csv", [[world.valid, "建筑工程"], [world.other, ""], [UNKNOWN_NO, ""]])
    res = _upload(boss, roster)
    assert res.status_code == 303, res.text
    run = res.headers["location"]
    page = boss.get(run)
    assert page.status_code == 200 and 'data-status="done"' in page.text and 'class="count-rows">3<' in page.text
    # The page lists the rows with their reason codes (the files have them all).
    assert f'data-key="{world.valid}" data-reason-codes="ok"' in page.text
    assert f'data-key="{world.other}" data-reason-codes="not_employed_by_you"' in page.text
    rows = _rows(boss, run)
    assert rows[world.valid]["reason_codes"] == ["ok"]
    assert rows[world.other]["reason_codes"] == ["not_employed_by_you"] and rows[world.other]["name"] is None
    assert rows[UNKNOWN_NO]["reason_codes"] == ["not_found"]
    pdf = boss.get(f"{run}/report.pdf")
    assert pdf.headers["content-type"] == "application/pdf" and b"/ByteRange" in pdf.content
    assert boss.get(f"{run}/report.csv").content.decode("utf-8-sig").startswith("row,file,registration_no")
    # R-ACC-1: the other employer, a holder and the public get nothing of this run.
    other = signed_in(core, "boss-b", PASSWORD)
    assert other.get(run).status_code == 404 and other.get(f"{run}/report.json").status_code == 404
    holder = signed_in(core, "holder-1", PASSWORD)
    assert holder.get(run).status_code == 403 and holder.get("/roster").status_code == 403
    anonymous = TestClient(boss.app, follow_redirects=False)
    assert anonymous.get(f"{run}/report.pdf").status_code in (303, 401)


def test_a_refused_roster_says_why_and_stores_nothing(world: Cases, db_url: str, tmp_path: Path) -> None:
    core = _app(db_url, tmp_path)
    boss = signed_in(core, "boss-a", PASSWORD)
    roster = write_roster(tmp_path / "roster.csv", [[world.valid, ""]])
    res = _upload(boss, roster, on="2021-03-02")
    assert res.status_code == 400 and "晚于今天" in res.text  # roster_date_future, in the page's language
    with core.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(roster_runs)).scalar_one() == 0


def test_a_large_roster_runs_as_a_job_with_a_progress_page(world: Cases, db_url: str, tmp_path: Path) -> None:
    core = _app(db_url, tmp_path, job_rows=2)
    boss = signed_in(core, "boss-a", PASSWORD)
    roster = write_roster(tmp_path / "roster.csv", [[world.valid, ""], [world.expired, "公路工程"], [world.other, ""]])
    run = _upload(boss, roster).headers["location"]
    if queue.backend_for(core.engine) == queue.BACKEND_PROCRASTINATE:
        page = boss.get(run)
        assert 'data-status="queued"' in page.text and '<meta http-equiv="refresh"' in page.text
        queue.run_worker(tasks.queue_app(core.engine), context={"ecert": core}, wait=False)
    page = boss.get(run)
    assert 'data-status="done"' in page.text and "refresh" not in page.text
    assert _rows(boss, run)[world.expired]["reason_codes"] == ["specialty_not_valid_on_date"]
