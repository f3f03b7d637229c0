"""Run the fuzz targets of this folder (issue 16 §5) and report their figures; ``scripts/fuzz`` calls this.

    scripts/fuzz --short                      # CI: every target at once, 12 s of fuzzing each (≤ 60 s in all)
    scripts/fuzz --seconds 3000 --runs 1000000  # the long run: each target until 1,000,000 executions or 3000 s

Each target runs in its own process (``fuzz/fuzz_<target>.py``, libFuzzer through atheris), ``--jobs`` at a
time. Prints one JSON object per target (executions, executions per second, the slowest input's CPU
milliseconds, verdicts seen) and, last, one line
``{"metric": "fuzz", "executions": {...}, "crashes": N, "wrong_verdicts": N, ...}``.
Exit status 1 if any target crashed or its oracle failed (the input is kept in the ``--out`` folder as
``<target>-crash-*``; replay it with ``fuzz/fuzz_<target>.py FILE``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TARGETS = ("pdf", "ofd", "qr", "import")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--short", action="store_true", help="the CI run: all targets at once, 12 s of fuzzing each")
    ap.add_argument("--seconds", type=int, default=60, help="fuzzing time per target (after its start-up)")
    ap.add_argument("--runs", type=int, default=0, help="stop a target after this many executions (0: no limit)")
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--jobs", type=int, default=len(TARGETS), help="targets running at once")
    ap.add_argument("--timeout", type=int, default=20, help="seconds one input may take before it is a failure")
    ap.add_argument("--out", type=Path, default=None, help="folder for logs, stats, corpora and crashes")
    args = ap.parse_args()
    if args.short:
        args.seconds, args.jobs = 12, len(TARGETS)
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = set(targets) - set(TARGETS)
    if unknown:
        ap.error(f"unknown targets: {', '.join(sorted(unknown))}")
    out = args.out or Path(tempfile.mkdtemp(prefix="ecert-fuzz-"))
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "ECERT_FUZZ_STATS": str(out), "ECERT_FUZZ_KEYS": str(out / "keys")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE.parent / "src"), env.get("PYTHONPATH")) if p)
    # The DEMO keys, made once for every target (the DEMO SM2 seal alone takes seconds to make).
    make_keys = (
        "import sys; from ecert.adapters import keystore as k;"
        " k.ensure_keys(k.key_settings_from_env({'ECERT_KEYS_DIR': sys.argv[1]}))"
    )
    subprocess.run([sys.executable, "-c", make_keys, str(out / "keys")], env=env, check=True)
    flags = [f"-max_total_time={args.seconds}", f"-timeout={args.timeout}", "-rss_limit_mb=2048"]
    if args.runs:
        flags.append(f"-runs={args.runs}")

    t0 = time.monotonic()
    pending = list(targets)
    running: dict[str, tuple[subprocess.Popen[bytes], Any]] = {}
    results: dict[str, dict[str, Any]] = {}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped: stop the targets too (finally below)
    try:
        run_all(pending, running, results, args, flags, env, out)
    finally:
        for proc, _log in running.values():
            proc.terminate()

    failed = [r for r in results.values() if not r["ok"]]
    wrong = sum(1 for r in failed if r.get("wrong_verdict"))
    print(
        json.dumps(
            {
                "metric": "fuzz",
                "executions": {n: r["executions"] for n, r in results.items()},
                "slowest_ms": {n: r["slowest_ms"] for n, r in results.items()},
                "crashes": len(failed) - wrong,
                "wrong_verdicts": wrong,
                "seconds": round(time.monotonic() - t0, 1),
                "out": str(out),
            }
        ),
        flush=True,
    )
    return 1 if failed else 0


def run_all(
    pending: list[str],
    running: dict[str, tuple[subprocess.Popen[bytes], Any]],
    results: dict[str, dict[str, Any]],
    args: argparse.Namespace,
    flags: list[str],
    env: dict[str, str],
    out: Path,
) -> None:
    while pending or running:
        while pending and len(running) < args.jobs:
            name = pending.pop(0)
            log = (out / f"{name}.log").open("wb")
            cmd = [sys.executable, str(HERE / f"fuzz_{name}.py"), *flags]
            running[name] = (subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT), log)
        for name, (proc, log) in list(running.items()):
            if proc.poll() is not None:
                log.close()
                del running[name]
                results[name] = report(name, proc.returncode, out)
                print(json.dumps(results[name]), flush=True)
        time.sleep(0.2)


def report(name: str, code: int, out: Path) -> dict[str, object]:
    """A target's figures: libFuzzer's own count of executions and rate, and the target's stats file."""
    text = (out / f"{name}.log").read_text(encoding="utf-8", errors="replace")
    stats_file = out / f"{name}.json"
    stats = json.loads(stats_file.read_text(encoding="utf-8")) if stats_file.exists() else {}
    done = re.search(r"Done (\d+) runs in (\d+) second", text)
    rate = re.search(r"stat::average_exec_per_sec:\s+(\d+)", text)
    figures: dict[str, object] = {
        "target": name,
        "ok": code == 0,
        "executions": int(done.group(1)) if done else stats.get("executions", 0),
        "exec_per_s": int(rate.group(1)) if rate else None,
        "slowest_ms": stats.get("slowest_ms"),
        "slowest_wall_ms": stats.get("slowest_wall_ms"),
        "verdicts": stats.get("verdicts", {}),
    }
    if code != 0:
        figures["wrong_verdict"] = "WrongVerdict" in text
        figures["exit"] = code
        figures["artifacts"] = sorted(str(p) for p in out.glob(f"{name}-*"))
        figures["log_tail"] = text[-3000:]
    return figures


if __name__ == "__main__":
    sys.exit(main())
