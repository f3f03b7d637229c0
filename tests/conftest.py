"""Shared fixtures. Database tests run on SQLite always and on PostgreSQL too when
ECERT_TEST_DATABASE_URL is set (.ci/run sets it). Each test gets its own empty database:
a fresh SQLite file, or a fresh PostgreSQL schema dropped afterwards — no shared state."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from sqlalchemy import Engine
from typer.testing import CliRunner

from ecert.adapters.db.engine import make_engine, upgrade
from ecert.bootstrap import App, bootstrap
from ecert.config import Settings
from ecert.domain.dates import CST
from ecert.testing import pg_schema

if TYPE_CHECKING:
    from cryptography import x509

    from ecert.adapters.signing.pki import DemoPki

PG_URL = os.environ.get("ECERT_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


# Wall-clock hours (China time) at which tests marked ``wall_clock`` run, each once: the edges of the
# CST/UTC date split (00:00–08:00 CST is the previous UTC day) and the last minute of a CST day. A test
# whose outcome depends on the hour it runs at fails here at any hour of the day (R-DATE-1).
PINNED_HOURS = ["00:30", "07:59", "08:00", "23:59"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("wall_clock") is not None:
        metafunc.parametrize("pinned_wall_clock", PINNED_HOURS, indirect=True, ids=[f"cst{h}" for h in PINNED_HOURS])


@pytest.fixture(autouse=True)
def pinned_wall_clock(request: pytest.FixtureRequest) -> Iterator[datetime | None]:
    """For a ``wall_clock`` test: the process's wall clock set to the parametrized China-time hour
    (its latest occurrence), then ticking (time-machine moves ``datetime.now``, ``time.time`` and friends
    together). Other tests run on the real clock, unless ECERT_TEST_WALL_CLOCK pins them all."""
    # ECERT_TEST_WALL_CLOCK=HH:MM pins every other test too: `ECERT_TEST_WALL_CLOCK=00:30 scripts/test`.
    hour = getattr(request, "param", None) or os.environ.get("ECERT_TEST_WALL_CLOCK") or None
    if hour is None:
        yield None
        return
    hh, mm = (int(x) for x in str(hour).split(":"))
    # The latest such moment that has already passed: a clock never ahead of PostgreSQL's own, which
    # the job queue compares with (a retry scheduled "now" in this process must be due there too).
    real = datetime.now(CST)
    start = datetime.combine(real.date(), time(hh, mm), CST)
    if start > real:
        start -= timedelta(days=1)
    with time_machine.travel(start, tick=True):
        yield start


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ecert.db'}"
        return
    assert PG_URL is not None
    with pg_schema(PG_URL) as url:
        yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def make_app(engine: Engine, db_url: str) -> Any:
    def factory(today: date, policy_file: Path | None = None) -> App:
        return bootstrap(Settings(database_url=db_url, today_override=today, policy_file=policy_file), engine=engine)

    return factory


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture
def ecert(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run the ``ecert`` CLI in-process: ``ecert("holder", "show", X, "--json", today="2021-03-01")``."""
    from ecert.entrypoints.cli import cli

    monkeypatch.chdir(tmp_path)

    def run(*args: str, today: str | None = None, lang: str | None = None, input: str | None = None) -> CliResult:
        env = {"ECERT_DATABASE_URL": db_url, "ECERT_TODAY": today or "", "ECERT_LANG": lang or ""}
        runner = CliRunner()
        res = runner.invoke(cli, list(args), env=env, input=input, catch_exceptions=False)
        return CliResult(res.exit_code, res.stdout, res.stderr)

    return run


@pytest.fixture(scope="module")
def demo_pki(tmp_path_factory: pytest.TempPathFactory) -> DemoPki:
    """A DEMO PKI (root, seal key and certificate) made once per test module."""
    from ecert.adapters.signing import pki

    return pki.create_demo_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def demo_root(demo_pki: DemoPki) -> x509.Certificate:
    """The root certificate of :func:`demo_pki`, the trust anchor its seal signatures validate against."""
    from helpers_signing import load_cert

    return load_cert(demo_pki.root_cert)
