"""Benchmark: registry import at scale (issue "registry", 1,000,000 rows; issue "national scale").

Writes a synthetic CSV of N rows (default 1,000,000; or, with ``--holders H``, every row of H holders,
about 1.45 rows a holder), then runs the real ``ecert import`` in a
child process on SQLite and (if reachable) PostgreSQL, and measures wall time and the child's peak
resident memory. Then ``ecert sweep`` on the imported registry. A row-at-a-time ORM baseline
(one SELECT + INSERT per row through a Session, the obvious way) runs on a sample in the same run,
and the ratio compares rows per second.

    .venv/bin/python bench/import.py [--rows 1000000 | --holders 1000000] [--baseline-rows 20000]
                                     [--pg URL|--no-pg] [--no-sqlite]

Prints one JSON object per measurement (rows and holders both), and last one line per database
``{"metric", "unit", "ecert", "baseline", "ratio"}`` (rows/s, higher is better).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from sqlalchemy.exc import OperationalError

from ecert.services.synthetic import HEADER, generate_rows
from ecert.testing import pg_schema
from harness import print_metric

TODAY = "2021-03-01"
ECERT = str(Path(sys.executable).parent / "ecert")


def write_csv(path: Path, rows: int | None = None, holders: int | None = None) -> int:
    """``rows`` rows (cut off mid-holder if need be), or every row of ``holders`` holders. Returns the row count."""
    n = 0
    limit = rows if holders is None else None
    # generate_rows yields ~1.45 rows a holder; for a row count, stop there
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for row in generate_rows(holders if holders is not None else rows or 0, today=date.fromisoformat(TODAY)):
            w.writerow(row)
            n += 1
            if limit is not None and n >= limit:
                break
    return n


def run_child(args: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[float, float, str]:
    """(seconds, peak RSS in MB of this child alone, stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    # A fresh wrapper process per measurement so RUSAGE_CHILDREN's max is this child's own.
    code = (
        "import resource,subprocess,sys,json;"
        "p=subprocess.run(sys.argv[1:],capture_output=True,text=True);"
        "print(json.dumps({'rc':p.returncode,'out':p.stdout,'err':p.stderr[-2000:],"
        "'rss':resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))"
    )
    p = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True, cwd=cwd
    )
    dt = time.perf_counter() - t0
    del before
    res = json.loads(p.stdout)
    if res["rc"] != 0:
        raise SystemExit(f"{args} failed: {res['err']}\n{res['out'][:2000]}")
    return dt, res["rss"] / 1024, res["out"]


def measure(label: str, url: str, csv_path: Path, rows: int) -> dict[str, object]:
    env = {**os.environ, "ECERT_DATABASE_URL": url, "ECERT_TODAY": TODAY}
    run_child([ECERT, "init"], env, csv_path.parent)
    t_import, rss, out = run_child([ECERT, "import", str(csv_path), "--json"], env, csv_path.parent)
    result = json.loads(out)
    assert result["rows"] == rows, result
    t_reimport, rss2, out2 = run_child([ECERT, "import", str(csv_path), "--json"], env, csv_path.parent)
    env_sweep = {**env, "ECERT_TODAY": "2022-07-01"}
    t_sweep, _rss3, out3 = run_child([ECERT, "sweep", "--json"], env_sweep, csv_path.parent)
    rec = {
        "db": label,
        "rows": rows,
        "holders": result["imported"],  # a fresh database: every registration of the file is new
        "import_s": round(t_import, 2),
        "import_rows_per_s": round(rows / t_import),
        "import_peak_rss_mb": round(rss, 1),
        "reimport_s": round(t_reimport, 2),
        "reimport_peak_rss_mb": round(rss2, 1),
        "reimport_result": json.loads(out2),
        "sweep_s": round(t_sweep, 2),
        "sweep_result": json.loads(out3),
    }
    print(json.dumps(rec, ensure_ascii=False), flush=True)
    return rec


def baseline_orm(url: str, csv_path: Path, rows: int) -> float:
    """The obvious row-at-a-time import: per row, validate, SELECT the registration, INSERT/UPDATE it
    and its specialty through an ORM Session, one commit at the end. Returns rows per second."""
    from sqlalchemy.orm import Session

    from ecert.adapters.db.engine import make_engine, upgrade
    from ecert.adapters.db.tables import registrations, specialty_registrations
    from ecert.services.registry_import import validate_row

    engine = make_engine(url)
    upgrade(engine)
    today = date.fromisoformat(TODAY)
    t0 = time.perf_counter()
    with csv_path.open(encoding="utf-8") as f, Session(engine) as s:
        reader = csv.reader(f)
        header = next(reader)
        for i, rec in enumerate(reader, start=2):
            if i - 1 > rows:
                break
            staged, probs, _ = validate_row(i, dict(zip(header, rec, strict=False)), today, csv_path.parent)
            assert staged is not None, probs
            (_, reg_no, prov, name, rare, gender, birth, idn, emp, uscc, spec, until, ce, email) = staged
            reg_id = s.execute(
                registrations.select()
                .with_only_columns(registrations.c.id)
                .where(registrations.c.registration_no == reg_no)
            ).scalar_one_or_none()
            now = time.time()
            from datetime import UTC, datetime

            stamp = datetime.fromtimestamp(now, UTC)
            values = dict(
                registration_no=reg_no,
                province_code=prov,
                name=name,
                name_rare_chars=rare,
                gender=gender,
                birth_date=date.fromisoformat(birth),
                id_number=idn,
                employer_name=emp,
                employer_uscc=uscc,
                ce_hours=ce,
                email=email,
                created_at=stamp,
                updated_at=stamp,
            )
            if reg_id is None:
                reg_id = s.execute(registrations.insert().values(**values)).inserted_primary_key[0]  # type: ignore[index]
            else:
                s.execute(registrations.update().where(registrations.c.id == reg_id).values(**values))
            s.execute(
                specialty_registrations.insert().values(
                    registration_id=reg_id, specialty=spec, valid_until=date.fromisoformat(until)
                )
            )
        s.commit()
    dt = time.perf_counter() - t0
    engine.dispose()
    return rows / dt


def main() -> None:
    ap = argparse.ArgumentParser()
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--rows", type=int, default=None, help="rows of the file (default 1,000,000)")
    size.add_argument("--holders", type=int, default=None, help="every row of this many holders (~1.45 rows each)")
    ap.add_argument("--baseline-rows", type=int, default=20_000)
    ap.add_argument(
        "--pg", default=os.environ.get("ECERT_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    )
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--no-sqlite", action="store_true")
    args = ap.parse_args()
    if args.rows is None and args.holders is None:
        args.rows = 1_000_000

    work = Path(tempfile.mkdtemp(prefix="ecert-bench-"))
    try:
        csv_path = work / "registry.csv"
        t0 = time.perf_counter()
        rows = write_csv(csv_path, rows=args.rows, holders=args.holders)
        print(
            json.dumps(
                {
                    "generated_rows": rows,
                    "generated_holders": args.holders,
                    "csv_mb": round(csv_path.stat().st_size / 1e6, 1),
                    "generate_s": round(time.perf_counter() - t0, 1),
                }
            ),
            flush=True,
        )
        base_csv = work / "baseline.csv"
        n = write_csv(base_csv, rows=args.baseline_rows)
        results: list[tuple[str, dict[str, object], float]] = []
        if not args.no_sqlite:
            rec = measure("sqlite", f"sqlite:///{work / 'ecert.db'}", csv_path, rows)
            results.append(("sqlite", rec, baseline_orm(f"sqlite:///{work / 'baseline.db'}", base_csv, n)))
        if not args.no_pg:
            try:
                with pg_schema(args.pg, "bench") as url:
                    rec = measure("postgresql", url, csv_path, rows)
                with pg_schema(args.pg, "bench") as url:
                    results.append(("postgresql", rec, baseline_orm(url, base_csv, n)))
            except OperationalError as exc:  # no PostgreSQL here: report and go on with SQLite only
                print(json.dumps({"db": "postgresql", "skipped": str(exc)[:200]}), flush=True)
        # The baseline runs on a sample in the same run; rows per second compare.
        for db, rec, base_rate in results:
            ecert_rate = float(rec["import_rows_per_s"])  # type: ignore[arg-type]
            print_metric(
                f"import_rows_per_s_{db}", "rows/s", ecert_rate, base_rate, None, higher_is_better=True, baseline_rows=n
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
