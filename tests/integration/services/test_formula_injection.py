"""Formula injection (issue 16 §3): a free-text import field that starts like a formula is refused
with a row-level error, an employer change is refused the same way, and every text cell of the CSV
exports is neutralised (domain/spreadsheet.py, the one rule). SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, update
from test_registry_import import TODAY, _details, holder, row, snapshot, write_csv

from ecert.adapters.db.tables import registrations

CALC = "=cmd|' /C calc'!A0"


BAD_CELLS = [  # (column, value): one row each
    ("employer_name", CALC),
    ("employer_name", "@SUM(1+1)*cmd|' /C calc'!A0"),
    ("employer_name", '＝HYPERLINK("http://x")'),
    ("employer_name", "\t=1+1"),
    ("email", "=1+1@example.cn"),
    ("email", "-2+3@example.cn"),
]


def test_an_import_cell_that_starts_like_a_formula_is_refused_by_row_and_column(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    good = holder(30)
    rows = [row(good, email="a@example.cn")]
    rows += [row(holder(31 + i), **{column: value}) for i, (column, value) in enumerate(BAD_CELLS)]
    path = write_csv(tmp_path / "r.csv", rows, header=[*row(good), "email"])
    before = snapshot(engine)
    details = _details(ecert("import", str(path), "--json", today=TODAY))
    assert [(d["row"], d["column"]) for d in details] == [(3 + i, c) for i, (c, _v) in enumerate(BAD_CELLS)]
    assert all("公式" in d["message"] for d in details)  # says why (zh first)
    assert snapshot(engine) == before  # all or nothing


def test_an_employer_change_to_a_formula_is_refused_and_the_csv_export_neutralises_every_text_cell(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    a, b = holder(34), holder(35)
    path = write_csv(tmp_path / "r.csv", [row(a, email="a@example.cn"), row(b)], header=[*row(a), "email"])
    assert ecert("import", str(path), "--json", today=TODAY).exit_code == 0
    # An employer change to a formula is refused like the import's cell.
    args = ("change", "employer", a["registration_no"], "--name", CALC, "--uscc", a["employer_uscc"], "--json")
    refused = ecert(*args, today=TODAY)
    assert refused.exit_code == 2 and refused.json()["error"]["code"] == "bad_input", refused.stdout
    # A row stored before the import refused formulas (written straight into the table).
    with engine.begin() as conn:
        conn.execute(
            update(registrations)
            .where(registrations.c.registration_no == a["registration_no"])
            .values(employer_name=CALC, email="+1@example.cn")
        )
    res = ecert("jobs", "enqueue", "export", "--out", "reg.csv", "--now", "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout + res.stderr
    with (tmp_path / "reg.csv").open(encoding="utf-8") as f:
        rows = {r["registration_no"]: r for r in csv.DictReader(f)}
    assert rows[a["registration_no"]]["employer_name"] == "'" + CALC
    assert rows[a["registration_no"]]["email"] == "'+1@example.cn"
    assert rows[b["registration_no"]]["employer_name"] == b["employer_name"]  # plain text unchanged
    for r in rows.values():
        assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in r.values()), r
    args = ("--format", "jsonl", "--out", "reg.jsonl", "--now", "--json")
    assert ecert("jobs", "enqueue", "export", *args, today=TODAY).exit_code == 0
    lines = [json.loads(x) for x in (tmp_path / "reg.jsonl").read_text("utf-8").splitlines()]
    assert {x["employer_name"] for x in lines if x["registration_no"] == a["registration_no"]} == {CALC}
