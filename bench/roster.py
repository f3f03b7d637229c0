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
from datetime import date
from pathlib import Path
from typing import Any

from harness import print_metric

# bench/http.py would shadow the standard library's http (httpx imports it): drop the folder once harness is in.
if os.path.dirname(os.path.realpath(__file__)) in sys.path:
    sys.path.remove(os.path.dirname(os.path.realpath(__file__)))

TODAY = date(2021, 12, 1)
ROSTER_ROWS = [10_000]  # set from --rows
PG_DEFAULT = os.environ.get("ECERT_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def build(url: str, keys_dir: Path, holders: int, work: Path) -> object:
    from ecert.adapters import keystore
    from ecert.adapters.db.engine import make_engine, upgrade
    from ecert.bootstrap import bootstrap
    from ecert.config import RateLimitSettings, Settings
    from ecert.services import registry_import
    from ecert.services.synthetic import HEADER, generate_rows

    keys = keystore.key_settings_from_env({"ECERT_KEYS_DIR": str(keys_dir)})
    keystore.ensure_keys(keys)
    engine = make_engine(url)
    upgrade(engine)
    settings = Settings(database_url=url, today_override=TODAY, ratelimit=RateLimitSettings(per_minute=1e12))
    app = bootstrap(settings, engine=engine, keys=keys)
    registry_csv = work / "registry.csv"
    i_no, i_emp, i_uscc = HEADER.index("registration_no"), HEADER.index("employer_name"), HEADER.index("employer_uscc")
    employer: tuple[str, str] | None = None
    seen: dict[str, int] = {}
    with registry_csv.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for row in generate_rows(holders, today=TODAY):
            # The roster's company employs every other one of the first ``ROSTER_ROWS`` holders (a real roster
            # is mostly the company's own people; the synthetic registry spreads 20 holders per company).
            k = seen.setdefault(row[i_no], len(seen))
            if employer is None:
                employer = (row[i_emp], row[i_uscc])
            if k < ROSTER_ROWS[0] and k % 2 == 0:
                row = list(row)
                row[i_emp], row[i_uscc] = employer
            w.writerow(row)
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


def _check(no: str, r: Any) -> None:
    if r.status_code != 200 or r.json()["attestation"].count(".") != 2:
        raise SystemExit(f"baseline: {no}: HTTP {r.status_code} {r.text[:200]}")


def http_baseline(url: str, keys_dir: Path, numbers: list[str]) -> float:
    """Seconds for ``len(numbers)`` single answers through the existing API as a relying party without
    rosters asks today: ``GET /api/v1/attest?registration_no=…&date=…`` of ``ecert serve`` (one worker,
    on the same database and keys), one request after the other on one kept-alive connection, the
    per-client rate limit lifted. Every answer must be a 200 with a signed attestation, or the run fails."""
    import httpx

    from ecert.testing import serving

    env = {
        **os.environ,
        "ECERT_DATABASE_URL": url,
        "ECERT_KEYS_DIR": str(keys_dir),
        "ECERT_TODAY": TODAY.isoformat(),
        "ECERT_VERIFY_RATE": "1000000000000",
    }
    with serving(env, timeout=120) as (base, _), httpx.Client(base_url=base, timeout=60) as client:
        _check(numbers[0], client.get("/api/v1/attest", params={"registration_no": numbers[0], "date": str(TODAY)}))
        t0 = time.perf_counter()
        for no in numbers:
            _check(no, client.get("/api/v1/attest", params={"registration_no": no, "date": TODAY.isoformat()}))
        return time.perf_counter() - t0


def api_baseline(app: object, numbers: list[str]) -> float:
    """As :func:`http_baseline`, on the service's own ASGI app in this process (no network, no server,
    no HTTP parsing: a floor for what single answers cost, printed beside it)."""
    import asyncio

    import httpx

    from ecert.entrypoints.web.app import create_app, lifespan

    web = create_app(app)  # type: ignore[arg-type]

    async def run() -> float:
        async with (
            lifespan(web),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://bench.invalid") as client,
        ):
            t0 = time.perf_counter()
            for no in numbers:
                _check(no, await client.get("/api/v1/attest", params={"registration_no": no, "date": str(TODAY)}))
            return time.perf_counter() - t0

    return asyncio.run(run())


def measure(label: str, url: str, holders: int, rows: int, baseline_n: int | None) -> dict[str, object]:
    from ecert.entrypoints.jobs.definitions import build_roster_report
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
        in_process_s = api_baseline(app, numbers[:n]) * len(numbers) / n
        base_s = http_baseline(url, work / "keys", numbers[:n]) * len(numbers) / n
        out = {
            "database": label,
            "holders": holders,
            "rows": len(roster.items),
            "counts": {k: v for k, v in report.body["counts"].items() if k != "by_reason"},
            "pdf_bytes": len(report.files["pdf"]),
            "ecert_s": round(ecert_s, 2),
            "baseline_s": round(base_s, 2),
            "baseline_measured": n,
            "baseline_in_process_s": round(in_process_s, 2),
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
    ROSTER_ROWS[0] = args.rows
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
