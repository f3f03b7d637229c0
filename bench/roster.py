"""Benchmark: one roster report (issue 13 item 3) — a 10,000-row roster against a 1,000,000-holder registry,
on SQLite and PostgreSQL; goal ≤ 5 s including the signed report (JSON signed as a JWS, the sealed PDF table,
the CSV), against a baseline in the same run of 10,000 single answers through the existing per-registration
API, ``services.history.registration_on`` (what ``ecert attest REG_NO`` and ``/api/v1/attest`` read: one
transaction a number), ratio ≥ 20×.

Builds the registry with the real import (synthetic holders, services/synthetic.py) into a fresh database,
then times ``ecert roster verify``'s work in-process: read the CSV roster, answer every row from the history
(set-based reads), record the audit event, sign, render and seal the PDF, write the CSV. The roster is the
first ``--rows`` numbers of the registry, half of them of the employer asked as (the rest say only
``not_employed_by_you``), and every 7th asks for a specialty.

    .venv/bin/python bench/roster.py [--holders 1000000] [--rows 10000] [--baseline N] [--pg URL|--no-pg] [--no-sqlite]

``--baseline N`` times N single answers and scales to ``--rows`` (default: all of them). Prints one JSON object per
database, and last one line per database ``{"metric", "unit", "ecert", "baseline", "ratio"}`` (seconds).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path

from harness import print_metric

# bench/http.py would shadow the standard library's http (httpx imports it): drop the folder once harness is in.
sys.path.remove(os.path.dirname(os.path.realpath(__file__)))

TODAY = date(2021, 9, 1)
PG_DEFAULT = os.environ.get("ECERT_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def build(url: str, keys_dir: Path, holders: int, work: Path) -> object:
    from ecert.adapters import keystore
    from ecert.adapters.db.engine import make_engine, upgrade
    from ecert.bootstrap import bootstrap
    from ecert.config import Settings
    from ecert.services import registry_import
    from ecert.services.synthetic import HEADER, generate_rows

    keys = keystore.key_settings_from_env({"ECERT_KEYS_DIR": str(keys_dir)})
    keystore.ensure_keys(keys)
    engine = make_engine(url)
    upgrade(engine)
    app = bootstrap(Settings(database_url=url, today_override=TODAY), engine=engine, keys=keys)
    registry_csv = work / "registry.csv"
    with registry_csv.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        w.writerows(generate_rows(holders, today=TODAY))
    t0 = time.perf_counter()
    registry_import.import_registry(app.uow(), registry_csv, today=TODAY, now=app.clock.now(), actor="bench")
    print(json.dumps({"step": "import", "holders": holders, "s": round(time.perf_counter() - t0, 1)}), flush=True)
    return app


def roster_file(work: Path, registry_csv: Path, rows: int) -> tuple[Path, str, list[str]]:
    """The roster: ``rows`` numbers; the employer asked as is the one of the most of them."""
    numbers: dict[str, tuple[str, str]] = {}
    with registry_csv.open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            numbers.setdefault(r["registration_no"], (r["employer_uscc"], r["specialty"]))
            if len(numbers) >= rows:
                break
    uscc = Counter(u for u, _ in numbers.values()).most_common(1)[0][0]
    path = work / "roster.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["registration_no", "specialty"])
        for i, (no, (_, spec)) in enumerate(numbers.items()):
            w.writerow([no, spec if i % 7 == 0 else ""])
    return path, uscc, list(numbers)


def measure(label: str, url: str, holders: int, rows: int, baseline_n: int | None) -> dict[str, object]:
    from ecert.entrypoints.jobs.definitions import build_roster_report
    from ecert.services import history
    from ecert.services import roster as roster_service

    with tempfile.TemporaryDirectory(prefix="ecert-bench-roster-") as tmp:
        work = Path(tmp)
        app = build(url, work / "keys", holders, work)
        roster_csv, uscc, numbers = roster_file(work, work / "registry.csv", rows)
        app.documents  # noqa: B018 - keys and fonts load once, as in a running service
        app.attestation_signer  # noqa: B018
        t0 = time.perf_counter()
        cfg = app.settings.roster
        roster = roster_service.read_roster(roster_csv, max_rows=max(rows, cfg.max_rows), max_bytes=cfg.max_bytes)
        report = build_roster_report(app, roster, uscc=uscc, on=TODAY, actor="bench")
        for kind, data in report.files.items():
            (work / f"roster.{kind}").write_bytes(data)
        ecert_s = time.perf_counter() - t0
        n = min(baseline_n or len(numbers), len(numbers))
        now = datetime.combine(TODAY, dtime(12), tzinfo=app.clock.now().tzinfo)
        t0 = time.perf_counter()
        for no in numbers[:n]:
            history.registration_on(app.uow(), no, TODAY, now=now, policy=app.policy)
        base_s = (time.perf_counter() - t0) * len(numbers) / n
        out = {
            "database": label,
            "holders": holders,
            "rows": len(roster.items),
            "counts": {k: v for k, v in report.body["counts"].items() if k != "by_reason"},
            "pdf_bytes": len(report.files["pdf"]),
            "ecert_s": round(ecert_s, 2),
            "baseline_s": round(base_s, 2),
            "baseline_measured": n,
        }
        print(json.dumps(out), flush=True)
        app.engine.dispose()
        return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--holders", type=int, default=1_000_000)
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--baseline", type=int, default=None, help="single answers timed (scaled to --rows)")
    ap.add_argument("--pg", default=PG_DEFAULT)
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--no-sqlite", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("ECERT_LANG", "zh")
    results = []
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory(prefix="ecert-bench-db-") as d:
            results.append(measure("sqlite", f"sqlite:///{d}/ecert.db", args.holders, args.rows, args.baseline))
    if not args.no_pg:
        from ecert.testing import pg_schema

        with pg_schema(args.pg, "bench") as url:
            results.append(measure("postgresql", url, args.holders, args.rows, args.baseline))
    for r in results:
        ecert_s, base_s = float(r["ecert_s"]), float(r["baseline_s"])  # type: ignore[arg-type]
        print_metric(f"roster_report_{r['database']}", "s", ecert_s, base_s, 2, holders=r["holders"], rows=r["rows"])
    sys.exit(0)


if __name__ == "__main__":
    main()
