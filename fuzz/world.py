"""What every fuzz target shares (issue 16 §5): a DEMO registry on SQLite with its own seal keys, the sealed
files the real code makes (the seed corpus, generated at start: nothing binary is kept in the repository),
the oracle's bookkeeping, and the libFuzzer run.

A target is ``fuzz/<name>.py``; it imports this module inside ``atheris.instrument_imports`` (so ecert's code
is instrumented for coverage), builds a :class:`World`, and hands :func:`run` a one-input function that raises
:class:`WrongVerdict` when the oracle fails. Any other exception escaping it is a crash: libFuzzer stops, writes
the input to ``crash-*`` in the stats folder and the run fails.

Every few seconds, and at the end, the target writes ``<stats>/<name>.json``: executions, the slowest input
(milliseconds of CPU time, and the input itself as ``<name>.slowest``; the longest wall time too, which on a
shared machine includes waiting for a core), the verdicts seen. ``scripts/fuzz`` reads these.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import atheris

from ecert.adapters import keystore
from ecert.adapters.db.engine import upgrade
from ecert.bootstrap import App, bootstrap
from ecert.config import Settings
from ecert.domain.errors import EcertError
from ecert.services import issuance
from ecert.services.demo import seed_demo

TODAY = date(2021, 3, 1)  # the drill date of the benches: one clock for issuing, sealing and verifying
# ECERT_FUZZ_LIE=1: each target calls every verdict valid, to show that its oracle then fails the run (the
# start-up check is skipped so that the lie reaches the fuzzer). Never set in a real run.
LIE = os.environ.get("ECERT_FUZZ_LIE") == "1"


class WrongVerdict(AssertionError):
    """The oracle failed: a file whose signed bytes changed was judged valid, or a refused import changed the
    registry. Raised from a target's one-input function, it stops the run as a crash (with the input kept)."""


@dataclass
class World:
    """An App (SQLite, DEMO PDF and SM2 keys) and one certificate it issued, as PDF and OFD."""

    work: Path
    app: App
    registration_no: str
    pdf: bytes
    ofd: bytes
    qr: str  # the QR code's text: <BASE>/V/<TOKEN>


def build_world(work: Path | None = None, holders: int = 12) -> World:
    """``ECERT_FUZZ_KEYS``: a DEMO keys folder to use (fuzz/run.py makes one for all targets: 4 s saved each)."""
    work = work or Path(tempfile.mkdtemp(prefix="ecert-fuzz-"))
    keys = keystore.key_settings_from_env({"ECERT_KEYS_DIR": os.environ.get("ECERT_FUZZ_KEYS") or str(work / "keys")})
    app = bootstrap(Settings(database_url=f"sqlite:///{work / 'fuzz.db'}", today_override=TODAY), keys=keys)
    upgrade(app.engine)
    keystore.ensure_keys(keys)
    if app.documents.ofd is None:
        raise RuntimeError(f"no OFD maker: {app.documents.ofd_problem}")
    seed_demo(app.uow, holders, seed=16, today=TODAY, now=app.clock.now(), signatures=holders)
    with app.uow() as uow:
        numbers = uow.registry.sample_numbers(holders)
    for no in numbers:
        try:
            cert = issuance.issue(
                app.uow(), no, confirm=True, actor="fuzz", today=TODAY, now=app.clock.now(),
                policy=app.policy, docs=app.documents, formats=("pdf", "ofd"),
            )  # fmt: skip
        except EcertError:  # this holder cannot download today (R-USE-4)
            continue
        assert cert.pdf is not None and cert.ofd is not None
        return World(work, app, no, cert.pdf, cert.ofd, cert.qr)
    raise RuntimeError("no demo holder could download on the drill date")


@dataclass
class Stats:
    """Executions, the slowest input and the verdicts seen, written to ``<folder>/<name>.json``."""

    name: str
    folder: Path
    executions: int = 0
    slowest_ms: float = 0.0  # CPU time of the slowest input (the machine may be shared: wall time says less)
    slowest_wall_ms: float = 0.0
    verdicts: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)
    _written: float = 0.0

    def record(self, data: bytes, cpu_seconds: float, wall_seconds: float, verdict: str) -> None:
        self.executions += 1
        self.verdicts[verdict] += 1
        self.slowest_wall_ms = max(self.slowest_wall_ms, wall_seconds * 1000)
        ms = cpu_seconds * 1000
        if ms > self.slowest_ms:
            self.slowest_ms = ms
            (self.folder / f"{self.name}.slowest").write_bytes(data)
        now = time.monotonic()
        if now - self._written > 2:
            self.write()

    def write(self) -> None:
        self._written = time.monotonic()
        figures = {
            "target": self.name,
            "executions": self.executions,
            "seconds": round(self._written - self.started, 1),
            "slowest_ms": round(self.slowest_ms, 2),
            "slowest_wall_ms": round(self.slowest_wall_ms, 2),
            "slowest_input": str(self.folder / f"{self.name}.slowest"),
            "verdicts": dict(self.verdicts.most_common()),
        }
        tmp = self.folder / f".{self.name}.json"
        tmp.write_text(json.dumps(figures), encoding="utf-8")
        tmp.replace(self.folder / f"{self.name}.json")


def run(
    name: str,
    one_input: Callable[[bytes], str],
    seeds: Iterable[bytes],
    *,
    max_len: int,
    custom_mutator: Callable[[bytes, int, int], bytes] | None = None,
) -> None:
    """Fuzz ``one_input`` (returns the verdict's name, for the figures) with libFuzzer. Arguments after the
    script's name go to libFuzzer (``-max_total_time=…``, ``-runs=…``); the corpus is a folder of the seeds
    unless one is given. ``custom_mutator``: see atheris (data, max_size, seed → data). ``ECERT_FUZZ_STATS``
    names the stats folder (default: a temporary one)."""
    folder = Path(os.environ.get("ECERT_FUZZ_STATS") or tempfile.mkdtemp(prefix="ecert-fuzz-stats-"))
    folder.mkdir(parents=True, exist_ok=True)
    stats = Stats(name, folder)
    args = [a for a in sys.argv[1:] if a.startswith("-")]
    corpora = [a for a in sys.argv[1:] if not a.startswith("-")]
    if not corpora:
        corpus = folder / f"corpus-{name}"
        corpus.mkdir(exist_ok=True)
        for i, seed in enumerate(seeds):
            (corpus / f"seed-{i}").write_bytes(seed)
        corpora = [str(corpus)]

    def test_one_input(data: bytes) -> None:
        c0, t0 = time.thread_time(), time.perf_counter()
        verdict = one_input(data)
        stats.record(data, time.thread_time() - c0, time.perf_counter() - t0, verdict)

    argv = [
        sys.argv[0], *args, f"-max_len={max_len}", f"-artifact_prefix={folder}/{name}-", "-print_final_stats=1",
        *corpora,
    ]  # fmt: skip
    try:
        atheris.Setup(argv, test_one_input, custom_mutator=custom_mutator)
        atheris.Fuzz()
    finally:
        stats.write()


def check_oracle(label: str, verdict: Callable[[], Any], expect_valid: bool) -> None:
    """At start: the oracle's own inputs judged as they must be (the seed valid, a flipped signed byte not),
    so that a verifier that stopped seeing anything cannot pass the run."""
    if LIE:
        return
    got = verdict()
    if (got == "valid") != expect_valid:
        raise SystemExit(f"fuzz: the oracle's check failed before fuzzing: {label} judged {got}")
