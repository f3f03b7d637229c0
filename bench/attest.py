"""Benchmark: signed attestations (issue 13 item 2) — goal ≥ 1,000 a second on one core.

Builds a synthetic registry with the real import (bench/roster.py ``build``) on SQLite and PostgreSQL, then
answers "was it valid on date T" for ``--n`` distinct registration numbers, one after the other, through the
service (``services.attestation.attest``: the history read in one transaction, the rule, the document, RFC 8785
canonical JSON and an EdDSA compact JWS) — what ``ecert attest`` and ``GET /api/v1/attest`` run for each
answer. Every answer is checked (a JWS of three parts whose payload is the document's canonical form).

Baseline, in the same run: the same answers with the libraries as they come — the document canonicalised by
the ``rfc8785`` package rather than ecert's checked ``json.dumps`` fast path (adapters/signing/jws.py), then
signed by joserfc — so the ratio shows what the fast path gives and the absolute figure is the goal's.

    .venv/bin/python bench/attest.py [--holders 10000] [--n 3000] [--pg URL|--no-pg] [--no-sqlite]

Prints one JSON object per database, and last one line per database
``{"metric", "unit", "ecert", "baseline", "ratio"}`` (attestations a second, higher is better).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import print_metric
from roster import PG_DEFAULT, TODAY, build

if os.path.dirname(os.path.realpath(__file__)) in sys.path:  # bench/http.py would shadow http
    sys.path.remove(os.path.dirname(os.path.realpath(__file__)))


def _numbers(app: Any, n: int) -> list[str]:
    with app.uow() as uow:
        return list(uow.registry.sample_numbers(n))


def _run(app: Any, numbers: list[str], canonical: Any) -> float:
    """Attestations a second for ``numbers`` with ``canonical`` as the JWS payload's canonicaliser."""
    from ecert.adapters.signing import jws as jws_adapter
    from ecert.services import attestation

    saved = jws_adapter.canonical
    jws_adapter.canonical = canonical
    try:
        now = app.clock.now()
        signer = app.attestation_signer
        t0 = time.perf_counter()
        for no in numbers:
            att = attestation.attest(app.uow(), no, TODAY, now=now, policy=app.policy, signer=signer)
            payload = att.jws.split(".")[1]
            body = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
            if json.loads(body) != att.document:
                raise SystemExit(f"{no}: the JWS payload is not the document")
        return len(numbers) / (time.perf_counter() - t0)
    finally:
        jws_adapter.canonical = saved


def measure(label: str, url: str, holders: int, n: int) -> dict[str, Any]:
    import rfc8785

    from ecert.adapters.signing import jws as jws_adapter

    with tempfile.TemporaryDirectory(prefix="ecert-bench-attest-") as tmp:
        work = Path(tmp)
        app: Any = build(url, work / "keys", holders, work)
        numbers = _numbers(app, n)
        _run(app, numbers[:50], jws_adapter.canonical)  # warm: keys, statements, fonts are not in the figure
        ecert = _run(app, numbers, jws_adapter.canonical)
        baseline = _run(app, numbers, lambda doc: rfc8785.dumps(dict(doc)))
        out = {"database": label, "holders": holders, "n": len(numbers), "ecert_per_s": round(ecert),
               "baseline_per_s": round(baseline)}  # fmt: skip
        print(json.dumps(out), flush=True)
        app.engine.dispose()
        return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--holders", type=int, default=10_000)
    ap.add_argument("--n", type=int, default=3_000)
    ap.add_argument("--pg", default=PG_DEFAULT)
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--no-sqlite", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("ECERT_LANG", "zh")
    results = []
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory(prefix="ecert-bench-db-") as d:
            results.append(measure("sqlite", f"sqlite:///{d}/ecert.db", args.holders, args.n))
    if not args.no_pg:
        from ecert.testing import pg_schema

        with pg_schema(args.pg, "bench") as url:
            results.append(measure("postgresql", url, args.holders, args.n))
    for r in results:
        print_metric(f"attestations_{r['database']}", "per_s", r["ecert_per_s"], r["baseline_per_s"], None,
                     higher_is_better=True, holders=r["holders"], n=r["n"])  # fmt: skip


if __name__ == "__main__":
    main()
