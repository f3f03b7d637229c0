"""Soak: the web service under the target load for a long time (issue 16 §5).

The service of bench/http.py (its ``started``: ``ecert serve --workers 2`` on PostgreSQL, a fresh schema, a DEMO
registry, certificates issued to verify, holders signed in), then, minute after minute, both loads of the
performance targets at once, each from its own ``wrk`` (Debian package):

- QR verifications: ``GET /V/<token>`` cycling over the issued tokens (target ≥ 3,000/s, p99 ≤ 20 ms);
- downloads: ``POST /api/v1/me/certificates`` (confirm, issue, seal, record, audit) as the next signed-in
  holder in turn (target ≥ 300/s, p99 ≤ 100 ms).

Every 5 seconds it reads the resident memory (``VmRSS``) of every process of the server (the supervisor and its
workers). Prints one JSON object a minute (requests per second, p99, errors, memory) and, last, one line
``{"metric": "soak", "unit": "errors", "ecert": <errors>, "minutes", "qr_p99_ms": [...], "download_p99_ms": [...],
"rss_mb": {"start", "peak", "end"}, "rss_growth_pct", ...}``. Errors: non-2xx answers and socket errors of
either load. Exit status 1 if there was any error.

    .venv/bin/python bench/soak.py [--minutes 10] [--holders 1000] [--workers 2] [--pg URL]
"""

from __future__ import annotations

import sys

# bench/http.py is named like the standard library's ``http`` package, and this folder is on the import path
# when this script runs: drop it before anything imports ``http.client``, then load bench/http.py by its path.
sys.path[:] = [p for p in sys.path if p not in ("", __import__("os").path.dirname(__file__))]

import argparse
import importlib.util
import json
import os
import threading
from pathlib import Path
from typing import Any

_spec = importlib.util.spec_from_file_location("bench_http", Path(__file__).with_name("http.py"))
assert _spec is not None and _spec.loader is not None
bench_http = importlib.util.module_from_spec(_spec)
sys.modules["bench_http"] = bench_http  # its dataclasses look their module up
_spec.loader.exec_module(bench_http)

SAMPLE_S = 5
TARGETS = {"qr_rps": 3000, "qr_p99_ms": 20, "download_rps": 300, "download_p99_ms": 100}


def group_rss_mb(pgid: int) -> dict[int, float]:
    """Resident memory (MB) of every live process in process group ``pgid`` (the server and its workers)."""
    out: dict[int, float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != pgid:
                continue
            status = Path(entry.path, "status").read_text()
        except (OSError, ProcessLookupError):
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                out[int(entry.name)] = int(line.split()[1]) / 1024
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=int, default=10)
    ap.add_argument("--holders", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=300)
    ap.add_argument("--download-holders", type=int, default=32)
    ap.add_argument("--connections", type=int, default=16, help="wrk connections of each load")
    ap.add_argument(
        "--pg", default=os.environ.get("ECERT_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    )
    args = ap.parse_args()
    with bench_http.started(
        args.holders, pg=args.pg, workers=args.workers, tokens=args.tokens, download_holders=args.download_holders
    ) as svc:
        return soak(svc, args)


def _load(into: dict[str, dict[str, float]], name: str, url: str, script: Path, connections: int) -> None:
    """One minute of one load (wrk), its figures put in ``into[name]``."""
    into[name] = bench_http.wrk(url, seconds=60, connections=connections, script=script)


def soak(svc: Any, args: argparse.Namespace) -> int:
    pgid = svc.server.pid
    samples: list[float] = []  # total RSS of the server's processes, one every SAMPLE_S seconds
    stop = threading.Event()

    def sample() -> None:
        while True:
            samples.append(sum(group_rss_mb(pgid).values()))
            if stop.wait(SAMPLE_S):
                return

    start_rss = group_rss_mb(pgid)
    print(json.dumps({"rss_mb_at_start": {str(p): round(v, 1) for p, v in start_rss.items()}}), flush=True)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    minutes: list[dict[str, Any]] = []
    try:
        for minute in range(1, args.minutes + 1):
            got: dict[str, dict[str, float]] = {}

            loads = [
                threading.Thread(target=_load, args=(got, "qr", svc.base, svc.qr_script, args.connections)),
                threading.Thread(
                    target=_load,
                    args=(got, "download", f"{svc.base}/api/v1/me/certificates", svc.download_script, args.connections),
                ),
            ]
            for t in loads:
                t.start()
            for t in loads:
                t.join()
            if svc.server.poll() is not None:
                raise RuntimeError(f"the server exited with {svc.server.returncode} in minute {minute}")
            qr, dl = got["qr"], got["download"]
            row = {
                "minute": minute,
                "qr_rps": round(qr["rps"]),
                "qr_p99_ms": qr["p99_ms"],
                "download_rps": round(dl["rps"]),
                "download_p99_ms": dl["p99_ms"],
                "errors": int(qr["non_2xx"] + qr["socket_errors"] + dl["non_2xx"] + dl["socket_errors"]),
                "rss_mb": round(samples[-1], 1) if samples else None,
            }
            minutes.append(row)
            print(json.dumps(row), flush=True)
    finally:
        stop.set()
        sampler.join()
    end_rss = group_rss_mb(pgid)
    start_total, end_total = sum(start_rss.values()), sum(end_rss.values())
    # Flat: compared with the end of the first minute (workers load their caches and fonts on first use).
    warm = next((s for i, s in enumerate(samples) if i * SAMPLE_S >= 60), samples[0])
    errors = sum(m["errors"] for m in minutes)
    print(
        json.dumps(
            {
                "metric": "soak",
                "unit": "errors",
                "ecert": errors,
                "minutes": len(minutes),
                "qr_rps": [m["qr_rps"] for m in minutes],
                "qr_p99_ms": [m["qr_p99_ms"] for m in minutes],
                "download_rps": [m["download_rps"] for m in minutes],
                "download_p99_ms": [m["download_p99_ms"] for m in minutes],
                "targets": TARGETS,
                "rss_mb": {
                    "start": round(start_total, 1),
                    "after_first_minute": round(warm, 1),
                    "peak": round(max(samples), 1),
                    "end": round(end_total, 1),
                },
                "rss_growth_pct": round((end_total / warm - 1) * 100, 1),
                "processes": len(end_rss),
            }
        ),
        flush=True,
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
