"""``bootstrap.web_parts``: what one web process shares, built by the composition root (issue 11,
item 5): the QR check's registry read is chosen there, PostgreSQL's async one-statement read or
SQLite's synchronous read on a worker thread."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine

from ecert.adapters import keystore
from ecert.adapters.ratelimit import ClientBuckets
from ecert.bootstrap import App, bootstrap, web_parts
from ecert.config import Settings


def _core(url: str, tmp_path: Path) -> App:
    keys = keystore.key_settings_from_env({"ECERT_KEYS_DIR": str(tmp_path / "keys")})
    return bootstrap(Settings(database_url=url), engine=create_engine(url), keys=keys)


def test_sqlite_reads_through_the_unit_of_work(tmp_path: Path) -> None:
    parts = web_parts(_core("sqlite://", tmp_path))
    assert parts.fast_verify.snapshot is None
    assert parts.fast_verify.log is parts.verification_log
    assert isinstance(parts.limiter, ClientBuckets)  # no ECERT_REDIS_URL: per process


def test_postgresql_reads_with_one_statement_and_connects_only_when_asked(tmp_path: Path) -> None:
    parts = web_parts(_core("postgresql+psycopg://nobody@127.0.0.1:9/none", tmp_path))  # nothing listens
    assert parts.fast_verify.snapshot is not None


def test_each_call_builds_its_own_parts_and_takes_what_it_is_given(tmp_path: Path) -> None:
    core = _core("sqlite://", tmp_path)
    mine = ClientBuckets(2)
    a, b = web_parts(core), web_parts(core, limiter=mine)
    assert a.limiter is not b.limiter and b.limiter is mine
    assert a.verification_log is not b.verification_log
