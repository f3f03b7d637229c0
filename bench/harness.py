"""What the benchmarks share: issuing a certificate, the timing loop and the JSON line each of them ends with.

Imported by the scripts of this folder as ``harness`` (the folder is on the import path when a script
runs; bench/issuance.py imports it before dropping the folder for bench/http.py's sake; the test that
imports bench/verify.py loads this module first).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import date
from typing import Any


def issue(app: Any, number: str, today: date, formats: tuple[str, ...] = ("pdf",)) -> Any:
    """``number``'s certificate, issued now by ``app`` (an ``ecert.bootstrap.App``) as the benchmarks issue
    it: confirmed, actor ``bench``, as the files of ``formats`` (``"pdf"``, ``"ofd"``). Returns the service's
    result (its ``pdf``, its ``ofd``)."""
    from ecert.services import issuance  # imported on use: the benches set ECERT_TODAY before ecert loads

    return issuance.issue(
        app.uow(),
        number,
        confirm=True,
        actor="bench",
        today=today,
        now=app.clock.now(),
        policy=app.policy,
        docs=app.documents,
        formats=formats,
    )


def times_ms(fn: Callable[[int], object], n: int) -> list[float]:
    """Milliseconds each of the calls ``fn(0)`` … ``fn(n - 1)`` took."""
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def print_metric(
    metric: str,
    unit: str,
    ecert: float,
    baseline: float,
    digits: int | None,
    *,
    higher_is_better: bool = False,
    **extra: object,
) -> None:
    """A benchmark's last line: ``metric``, ``unit``, ``ecert`` and ``baseline`` rounded to ``digits``
    (``None``: a whole number), then ``extra``, then ``ratio``: how many times better ecert does than the
    baseline (baseline / ecert for a time, ecert / baseline when ``higher_is_better``), 2 digits."""
    ratio = ecert / baseline if higher_is_better else baseline / ecert
    line = {
        "metric": metric,
        "unit": unit,
        "ecert": round(ecert, digits),
        "baseline": round(baseline, digits),
        **extra,
        "ratio": round(ratio, 2),
    }
    print(json.dumps(line), flush=True)
