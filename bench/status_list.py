"""Benchmark: the signed status list (issue 14 item 2) for 1,000,000 certificates with 5 % superseded or
revoked, on SQLite and PostgreSQL; goals: ≤ 200 KB compressed and rebuilt in ≤ 5 s.

Fills a fresh database with 500,000 registrations and two certificates each (rows written directly:
the registry's content does not matter here, only who is current): 12,500 registrations revoked (25,000
certificates) and 12,500 whose data changed since issue (25,000 certificates superseded). Then times
``services.status_list.build`` — one statement reading the listed certificates with their neighbours in
sorted order (window functions over all of them), the serial-prefix list encoded, signed (JWS, Ed25519)
and stored — against a baseline in the same run: the listed serials read (the database filters and
sorts them), written as a plain JSON list and gzip'd: what a list of whole serials would be, without
the format of adapters/status_list.py. Sizes: the published JWS as served, and gzip'd as a web server
sends it (level 6).

    .venv/bin/python bench/status_list.py [--certificates 1000000] [--share 0.05] [--pg URL|--no-pg] [--no-sqlite]

Prints one JSON object per database, then last one line ``{"metric", "unit", "ecert", "baseline", …, "ratio"}``:
the list's compressed size in KB against the gzip'd JSON list (the build times of both databases are in it).
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from typing import Any

from harness import print_metric

# bench/http.py would shadow the standard library's http (httpx imports it): drop the folder once harness is in.
sys.path.remove(os.path.dirname(os.path.realpath(__file__)))

PG_DEFAULT = os.environ.get("ECERT_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PER_REGISTRATION = 2
TODAY = date(2021, 3, 1)


def fill(engine: Any, certificates: int, share: float) -> tuple[int, int]:
    """Registrations and certificates, written directly (COPY on PostgreSQL); (certificates, listed)."""
    rnd = random.Random(14)
    n_reg = certificates // PER_REGISTRATION
    listed_regs = int(n_reg * share)
    revoked = set(range(0, listed_regs, 2))  # half of the listed registrations revoked…
    changed = set(range(1, listed_regs, 2))  # …half changed since issue (their certificates superseded)
    order = list(range(n_reg))
    rnd.shuffle(order)  # listed registrations spread over the table
    now = datetime(2021, 3, 1, 2, 0, tzinfo=UTC)
    reg_cols = ["id", "registration_no", "province_code", "name", "gender", "birth_date", "id_number",
                "employer_name", "employer_uscc", "status", "data_version", "created_at", "updated_at"]  # fmt: skip
    cert_cols = ["serial", "registration_id", "registration_no", "data_version", "identifier", "usage_from",
                 "usage_until", "issue_date", "content_digest", "seal_key_id", "qr_kid", "confirmed_by",
                 "confirmed_at", "issued_at"]  # fmt: skip

    sqlite = engine.dialect.name == "sqlite"
    # On SQLite, dates and instants as SQLAlchemy stores them there (text), once.
    day: Any = TODAY.isoformat() if sqlite else TODAY
    at: Any = now.replace(tzinfo=None).isoformat(" ", "microseconds") if sqlite else now
    total = n_reg * PER_REGISTRATION
    b32 = base64.b32encode(rnd.randbytes(10 * total)).decode("ascii")  # one call: 16 characters a serial

    def reg_rows() -> Any:
        for i in range(n_reg):
            k = order[i]
            status, version = "revoked" if k in revoked else "active", 2 if k in changed else 1
            yield (i + 1, f"浙33{i:015d}", "33", "张三", "男", day, "330102198005170000", "某建设有限公司",
                   "91330100MA0BC1D2E0", status, version, at, at)  # fmt: skip

    def cert_rows() -> Any:
        for j in range(total):
            serial = b32[16 * j : 16 * j + 16]
            i = j // PER_REGISTRATION
            yield (serial, i + 1, f"浙33{i:015d}", 1, f"bench.{serial}", day, day, day, "00" * 32, "seal", "kid00000",
                   "bench", at, at)  # fmt: skip

    t0 = time.perf_counter()
    if engine.dialect.name == "postgresql":
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            for table, cols, rows in (
                ("registrations", reg_cols, reg_rows()),
                ("certificates", cert_cols, cert_rows()),
            ):
                with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            cur.execute("SELECT setval(pg_get_serial_sequence('registrations', 'id'), max(id)) FROM registrations")
            cur.execute("ANALYZE registrations; ANALYZE certificates")
            raw.commit()
        finally:
            raw.close()
    else:  # sqlite3's executemany of plain tuples, dates as SQLAlchemy stores them on SQLite (text)
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            for table, cols, rows in (
                ("registrations", reg_cols, reg_rows()),
                ("certificates", cert_cols, cert_rows()),
            ):
                sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
                cur.executemany(sql, rows)
            raw.commit()
        finally:
            raw.close()
    print(json.dumps({"step": "fill", "database": engine.dialect.name, "s": round(time.perf_counter() - t0, 1)}),
          flush=True)  # fmt: skip
    return total, len(revoked | changed) * PER_REGISTRATION


def measure(label: str, url: str, certificates: int, share: float) -> dict[str, Any]:
    from sqlalchemy import text

    from ecert.adapters import status_list as fmt
    from ecert.adapters.db.engine import make_engine, upgrade
    from ecert.adapters.db.status_lists import _FLAG
    from ecert.adapters.db.unit_of_work import SqlUnitOfWork
    from ecert.adapters.qr_token import generate_key
    from ecert.adapters.signing.jws import JwsSigner
    from ecert.services import status_list

    engine = make_engine(url)
    upgrade(engine)
    baseline_sql = text(
        "SELECT c.serial FROM certificates c JOIN registrations r ON r.id = c.registration_id"
        f" WHERE {_FLAG} > 0 ORDER BY c.serial"
    )
    total, listed = fill(engine, certificates, share)
    key = generate_key()
    signer = JwsSigner(key)
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        built = status_list.build(SqlUnitOfWork(engine), signer=signer, now=datetime.now(UTC))
        runs.append(time.perf_counter() - t0)
    assert (built.listed, built.covered) == (listed, total), (built.listed, built.covered)
    verified = fmt.verify(built.jws, {signer.kid: key.public_key()})
    assert verified.count == listed
    jws_gz = len(gzip.compress(built.jws.encode("ascii"), 6))

    base_runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        with engine.connect() as conn:
            serials = [r[0] for r in conn.execute(baseline_sql)]
        doc = json.dumps({"issued_at": datetime.now(UTC).isoformat(), "serials": serials}).encode()
        base_gz = gzip.compress(doc, 6)
        base_runs.append(time.perf_counter() - t0)
    engine.dispose()
    out = {
        "database": label, "certificates": total, "listed": listed, "prefix_bits": verified.prefix_bits,
        "build_s": round(min(runs), 2), "jws_kb": round(len(built.jws) / 1000, 1),
        "jws_gzip_kb": round(jws_gz / 1000, 1),
        "baseline_build_s": round(min(base_runs), 2), "baseline_json_gzip_kb": round(len(base_gz) / 1000, 1),
    }  # fmt: skip
    print(json.dumps(out), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--certificates", type=int, default=1_000_000)
    ap.add_argument("--share", type=float, default=0.05, help="share of certificates superseded or revoked")
    ap.add_argument("--pg", default=PG_DEFAULT)
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--no-sqlite", action="store_true")
    args = ap.parse_args()
    results = []
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory(prefix="ecert-bench-db-") as d:
            results.append(measure("sqlite", f"sqlite:///{d}/ecert.db", args.certificates, args.share))
    if not args.no_pg:
        from ecert.testing import pg_schema

        with pg_schema(args.pg, "bench") as url:
            results.append(measure("postgresql", url, args.certificates, args.share))
    last = results[-1]
    extra = {f"build_s_{r['database']}": r["build_s"] for r in results}
    extra.update({f"baseline_build_s_{r['database']}": r["baseline_build_s"] for r in results})
    print_metric(
        "status_list_gzip_kb", "KB", float(last["jws_gzip_kb"]), float(last["baseline_json_gzip_kb"]), 1,
        certificates=last["certificates"], listed=last["listed"], goal_kb=200, goal_build_s=5, **extra,
    )  # fmt: skip
    sys.exit(0)


if __name__ == "__main__":
    main()
