"""Benchmark: the web service under load (issue "web service", speed; issue "national scale").

Starts ``ecert serve`` on PostgreSQL (a fresh schema) with a DEMO registry of ``--holders``
holders, issues a set of certificates, then drives load from another process on 127.0.0.1 with
``wrk`` (Debian package; bounded duration and connections) against

(a) the public QR verification page ``/V/<token>`` (cycling over the issued tokens), and
(b) confirm-and-download: ``POST /api/v1/me/certificates`` as signed-in holders (``--download-holders``
    of them, each request for the next one in turn, as when many holders download at once; each
    request confirms the window and issues, seals and records a new certificate, with its audit event).

``--holders`` takes a comma-separated list (``1000,1000000``): the whole measurement runs once per
registry size, and a last line compares the QR page's latency at the largest size with the smallest
(issue "national scale": within 10%).

Prints one JSON object per measurement (requests/s, p50/p99 latency in ms), and last one line
``{"metric", "unit", "ecert", "baseline", "ratio"}`` for the QR page against the service's own
``/healthz`` in the same run (the ceiling of the stack with no work).

    .venv/bin/python bench/http.py [--holders 100000] [--seconds 15] [--workers 2] [--pg URL]
"""

from __future__ import annotations

import sys

# This file is named like the standard library's ``http`` package (the issue names it so): drop
# its own folder from the import path before anything imports ``http.client``.
sys.path[:] = [p for p in sys.path if p not in ("", __import__("os").path.dirname(__file__))]

import argparse
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ecert.testing import ECERT, issued_sample, pg_schema, serving, token_of

PASSWORD = "bench-password-1"


@contextmanager
def profiled(pid: int, out: Path, seconds: int) -> Iterator[None]:
    """py-spy (``pip install py-spy``) sampling the server and its workers while the body runs."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [spy, "record", "--pid", str(pid), "--subprocesses", "--format", "raw", "--output", str(out)]
    proc = subprocess.Popen([*cmd, "--duration", str(seconds)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        proc.wait(timeout=seconds + 30)
        print(json.dumps({"profile": str(out)}), flush=True)


def wrk(url: str, *, seconds: int, connections: int, script: Path | None = None) -> dict[str, float]:
    cmd = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--latency", "--timeout", "5s"]
    if script is not None:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if m is None:
            return float("nan")
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "p50_ms": ms("50%"),
        "p90_ms": ms("90%"),
        "p99_ms": ms("99%"),
        "requests": float(total.group(1)) if total else 0.0,
        "non_2xx": float(non2xx.group(1)) if non2xx else 0.0,
        "socket_errors": float(sum(int(g) for g in sockets.groups())) if sockets else 0.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--holders", default="100000", help="registry sizes, comma-separated")
    ap.add_argument("--download-holders", type=int, default=32)
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=300)
    ap.add_argument(
        "--profile", type=Path, default=None,
        help="folder: record each measurement's server processes with py-spy (folded stacks, for flame graphs)",
    )  # fmt: skip
    ap.add_argument(
        "--pg", default=os.environ.get("ECERT_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    )
    args = ap.parse_args()
    assert shutil.which("wrk"), "wrk is missing: run scripts/setup"
    sizes = [int(n.replace("_", "")) for n in args.holders.split(",") if n.strip()]
    runs = [measure(n, args) for n in sizes]
    if len(runs) > 1:
        small, large = min(runs, key=lambda r: r["holders"]), max(runs, key=lambda r: r["holders"])
        print(
            json.dumps(
                {
                    "measure": "qr_latency_vs_size",
                    "holders": [small["holders"], large["holders"]],
                    "p50_ms": [small["qr"]["p50_ms"], large["qr"]["p50_ms"]],
                    "p99_ms": [small["qr"]["p99_ms"], large["qr"]["p99_ms"]],
                    "p50_growth": round(large["qr"]["p50_ms"] / small["qr"]["p50_ms"] - 1, 3),
                }
            ),
            flush=True,
        )
    last = runs[-1]
    dl = last["download"]
    print(
        json.dumps({"metric": "download_rps", "unit": "req/s", "ecert": round(dl["rps"]), "p99_ms": dl["p99_ms"]}),
        flush=True,
    )
    print(
        json.dumps(
            {
                "metric": "qr_page_rps",
                "unit": "req/s",
                "ecert": round(last["qr"]["rps"]),
                "baseline": round(last["ceiling"]["rps"]),
                "ratio": round(last["qr"]["rps"] / last["ceiling"]["rps"], 3),
            }
        ),
        flush=True,
    )


def measure(holders: int, args: argparse.Namespace) -> dict[str, Any]:
    with started(holders, pg=args.pg, workers=args.workers, tokens=args.tokens,
                 download_holders=args.download_holders) as svc:  # fmt: skip

        def measured(name: str, url: str, connections: int, script: Path | None = None) -> dict[str, float]:
            if args.profile is None:
                return wrk(url, seconds=args.seconds, connections=connections, script=script)
            with profiled(svc.server.pid, args.profile / f"{name}-{holders}.folded", args.seconds):
                return wrk(url, seconds=args.seconds, connections=connections, script=script)

        ceiling = measured("healthz", f"{svc.base}/healthz", 16)
        print(json.dumps({"measure": "healthz (no work)", "holders": holders, **ceiling}), flush=True)
        qr = measured("qr_page", svc.base, 16, svc.qr_script)
        print(json.dumps({"measure": "qr_page", "holders": holders, **qr}), flush=True)
        dl = measured("download", f"{svc.base}/api/v1/me/certificates", 16, svc.download_script)
        print(
            json.dumps({"measure": "confirm_and_download", "holders": holders, "downloaders": svc.downloaders, **dl}),
            flush=True,
        )
        return {"holders": holders, "ceiling": ceiling, "qr": qr, "download": dl}


@dataclass
class Service:
    """``ecert serve`` on PostgreSQL over a DEMO registry, with what the load needs: wrk scripts cycling over
    issued certificates' QR pages (``qr_script``) and over signed-in holders' confirm-and-download requests
    (``download_script``)."""

    base: str
    server: subprocess.Popen[bytes]
    work: Path
    qr_script: Path
    download_script: Path
    downloaders: int


@contextmanager
def started(holders: int, *, pg: str, workers: int, tokens: int, download_holders: int) -> Iterator[Service]:
    """The service of the measurements (bench/soak.py runs the same): a fresh schema on ``pg`` with ``holders``
    DEMO holders, ``tokens`` certificates issued to verify, ``download_holders`` holders signed in; stopped and
    dropped afterwards."""
    work = Path(tempfile.mkdtemp(prefix="ecert-bench-http-"))
    try:
        with pg_schema(pg, "bench") as url:
            yield from _started(holders, url, work, workers=workers, n_tokens=tokens, n_down=download_holders)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _started(holders: int, url: str, work: Path, *, workers: int, n_tokens: int, n_down: int) -> Iterator[Service]:
    env = {
        **os.environ,
        "ECERT_DATABASE_URL": url,
        "ECERT_KEYS_DIR": str(work / "keys"),
        "ECERT_VERIFY_RATE": "100000000",  # the per-client limit would otherwise stop the load generator
    }
    with ExitStack() as stack:
        t0 = time.perf_counter()
        subprocess.run([ECERT, "init"], env=env, check=True, capture_output=True)
        n_sign = n_tokens * 2 + n_down * 2
        subprocess.run(
            [ECERT, "demo", "--holders", str(holders), "--signatures", str(n_sign), "--json"],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        print(json.dumps({"seeded_holders": holders, "seed_s": round(time.perf_counter() - t0, 1)}), flush=True)

        # Certificates to verify, issued through the real service code.
        os.environ.update({k: env[k] for k in ("ECERT_DATABASE_URL", "ECERT_KEYS_DIR")})
        from ecert.bootstrap import bootstrap
        from ecert.config import load_settings
        from ecert.services import accounts

        core = bootstrap(load_settings())
        tokens: list[str] = []
        downloaders: list[str] = []
        for no, issued in issued_sample(core, n_sign, actor="bench"):
            if len(downloaders) < n_down:
                downloaders.append(no)
            else:
                tokens.append(token_of(issued))
            if len(tokens) >= n_tokens:
                break
        assert downloaders and tokens, "no issuable demo holders"
        for i, no in enumerate(downloaders):
            accounts.add_user(
                core.uow(), f"bench-holder-{i}", role="holder", password=PASSWORD, registration_no=no,
                actor="bench", now=core.clock.now(),
            )  # fmt: skip
        core.engine.dispose()

        base, server = stack.enter_context(serving(env, workers=workers, timeout=60))

        paths = work / "paths.lua"
        paths.write_text(
            "local paths = {" + ",".join(f'"/V/{t}"' for t in tokens) + "}\n"
            "local i = 0\n"
            "request = function()\n  i = i % #paths + 1\n  return wrk.format('GET', paths[i])\nend\n",
            encoding="utf-8",
        )
        with httpx.Client(base_url=base) as client:
            assert "有效" in client.get(f"/V/{tokens[0]}").text
        # Each downloader signs in; a request goes out as the next holder in turn (cookie + CSRF token).
        sessions = []
        for i in range(len(downloaders)):
            with httpx.Client(base_url=base) as client:
                login = client.post("/api/v1/session", json={"username": f"bench-holder-{i}", "password": PASSWORD})
                assert login.status_code == 200, login.text
                window = client.get("/api/v1/me").json().get("window") or {}
                cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
            body = json.dumps(
                {"confirm": True, "usage_from": window.get("usage_from"), "usage_until": window.get("usage_until")}
            )
            sessions.append((cookie, login.json()["csrf_token"], body))
        download = work / "download.lua"
        download.write_text(
            "local s = {" + ",".join("{" + ",".join(json.dumps(v) for v in sess) + "}" for sess in sessions) + "}\n"
            "local i = 0\n"
            "request = function()\n"
            "  i = i % #s + 1\n"
            "  local h = {}\n"
            "  h['Content-Type'] = 'application/json'\n"
            "  h['Cookie'] = s[i][1]\n"
            "  h['X-CSRF-Token'] = s[i][2]\n"
            "  return wrk.format('POST', nil, h, s[i][3])\n"
            "end\n"
            "local bad = 0\n"
            "response = function(status, headers, body)\n"
            "  if status ~= 200 then\n"
            "    bad = bad + 1\n"
            "    if bad <= 3 then print('download answered ' .. status .. ': ' .. body) end\n"
            "  end\n"
            "end\n",
            encoding="utf-8",
        )
        yield Service(base, server, work, paths, download, len(sessions))


if __name__ == "__main__":
    main()
