"""Faults (issue 16 §5): the database and Redis going away under the service, and the output disk filling up.

The machine's PostgreSQL and Redis are shared with other test runs, so they are never restarted here: the
service reaches them through a small TCP proxy of the test's own (:class:`Proxy`) that the test cuts (every
open connection dropped, new ones closed at once: what a restarting server looks like to its clients) and
restores.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import pathlib
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from ecert.adapters import keystore
from ecert.adapters.db.engine import upgrade
from ecert.adapters.db.tables import audit_events, certificates
from ecert.adapters.pdf_inspect import signed_metadata
from ecert.bootstrap import bootstrap
from ecert.config import load_settings
from ecert.entrypoints.web.app import create_app
from ecert.entrypoints.web.deps import parts
from ecert.services import accounts, batch
from ecert.services.demo import seed_demo
from ecert.testing import pg_schema

PG = os.environ.get("ECERT_TEST_DATABASE_URL")
REDIS = os.environ.get("ECERT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TODAY = date(2021, 3, 1)
PASSWORD = "faults-password-1"


@pytest.fixture(scope="module")
def demo_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The DEMO keys, made once for the module (the DEMO SM2 seal takes seconds); each test copies them."""
    keys_dir = tmp_path_factory.mktemp("faults") / "keys"
    keystore.ensure_keys(keystore.key_settings_from_env({"ECERT_KEYS_DIR": str(keys_dir)}))
    return keys_dir


def app_env(tmp_path: Path, demo_keys: Path, database_url: str, **more: str) -> dict[str, str]:
    """The ``ECERT_*`` variables of a test's own App (its copy of the DEMO keys, the drill date)."""
    shutil.copytree(demo_keys, tmp_path / "keys")
    return {
        "ECERT_DATABASE_URL": database_url, "ECERT_KEYS_DIR": str(tmp_path / "keys"), "ECERT_TODAY": TODAY.isoformat(),
        **more,
    }  # fmt: skip


class Proxy:
    """127.0.0.1:``port`` → ``target``. :meth:`cut` drops every open connection and closes new ones at once
    until :meth:`restore`."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.up = threading.Event()
        self.up.set()
        self.lock = threading.Lock()
        self.open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            if not self.up.is_set():
                client.close()
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.up.clear()
        with self.lock:
            dropped, self.open = self.open, []
        for s in dropped:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def restore(self) -> None:
        self.up.set()

    def close(self) -> None:
        self.cut()
        self.listener.close()


# --------------------------------------------------------------------------------------- PostgreSQL


@pytest.fixture
def served_through_proxy(tmp_path: Path, demo_keys: Path) -> Iterator[tuple[TestClient, Proxy, Any]]:
    """The web app on a fresh PostgreSQL schema reached through a :class:`Proxy`, with a signed-in holder who
    can download; yields (client, proxy, the request body of a download)."""
    assert PG, "the faults tests need PostgreSQL: set ECERT_TEST_DATABASE_URL (scripts/test does)"
    base = make_url(PG)
    with pg_schema(PG, "faults") as direct:
        proxy = Proxy(base.host or "127.0.0.1", base.port or 5432)
        url = make_url(direct).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        core = bootstrap(load_settings(environ=app_env(tmp_path, demo_keys, url)))
        try:
            upgrade(core.engine)
            seed_demo(core.uow, 8, seed=16, today=TODAY, now=core.clock.now(), signatures=8)
            with core.uow() as uow:
                numbers = uow.registry.sample_numbers(8)
            with TestClient(create_app(core)) as client:
                for i, no in enumerate(numbers):
                    accounts.add_user(
                        core.uow(), f"holder-{i}", role="holder", password=PASSWORD, registration_no=no,
                        actor="test", now=core.clock.now(),
                    )  # fmt: skip
                    login = client.post("/api/v1/session", json={"username": f"holder-{i}", "password": PASSWORD})
                    assert login.status_code == 200, login.text
                    window = client.get("/api/v1/me").json().get("window") or {}
                    if window.get("usage_from"):
                        client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
                        body = {"confirm": True, **{k: window[k] for k in ("usage_from", "usage_until")}}
                        break
                    client.cookies.clear()
                else:
                    pytest.fail("no demo holder can download on the drill date")
                yield client, proxy, body
        finally:
            proxy.close()
            core.engine.dispose()


def counts(engine: Any) -> tuple[int, int]:
    """(certificates, their issuance audit events) as the database has them."""
    with engine.connect() as conn:
        n_certs = conn.execute(select(func.count()).select_from(certificates)).scalar_one()
        n_events = conn.execute(
            select(func.count()).select_from(audit_events).where(audit_events.c.action.like("certificate.%"))
        ).scalar_one()
    return n_certs, n_events


def test_downloads_answer_503_while_postgresql_is_away_and_recover(
    served_through_proxy: tuple[TestClient, Proxy, Any],
) -> None:
    client, proxy, body = served_through_proxy
    engine = client.app.state.ctx.core.engine  # type: ignore[attr-defined]
    first = client.post("/api/v1/me/certificates", json=body)
    assert first.status_code == 200

    # Downloads go on while the database goes away for a moment, twice (mid-request, some of them).
    statuses: list[int] = []
    stop = threading.Event()

    def fault() -> None:
        for _ in range(2):
            time.sleep(0.3)
            proxy.cut()
            time.sleep(0.6)
            proxy.restore()
        stop.set()

    faults = threading.Thread(target=fault)
    faults.start()
    while not stop.is_set():
        res = client.post("/api/v1/me/certificates", json=body)
        statuses.append(res.status_code)
        if res.status_code != 200:
            assert res.status_code == 503, (res.status_code, res.text)
            assert res.json()["error"]["code"] == "database_error", res.text
    faults.join()
    assert 503 in statuses, statuses  # the cut was seen
    assert set(statuses) <= {200, 503}, statuses

    # Recovered: the next download works, and every certificate written has its audit event (one transaction).
    assert client.post("/api/v1/me/certificates", json=body).status_code == 200
    n_certs, n_events = counts(engine)
    assert n_certs == n_events, (n_certs, n_events)
    ok = statuses.count(200) + 2  # with the one before and the one after
    assert ok <= n_certs <= ok + statuses.count(503), (n_certs, statuses)


def test_the_qr_page_answers_503_while_postgresql_is_away_and_recovers(
    served_through_proxy: tuple[TestClient, Proxy, Any],
) -> None:
    client, proxy, body = served_through_proxy
    meta = signed_metadata(client.post("/api/v1/me/certificates", json=body).content)
    assert meta is not None
    path = "/V/" + meta["EcertQR"].split("/V/", 1)[1]
    anonymous = TestClient(client.app)  # the QR page's fast path (a signed-in visitor goes through the routes)
    for visitor in (anonymous, client):
        assert visitor.get(path).status_code == 200
        proxy.cut()
        try:
            page = visitor.get(path)
            assert page.status_code == 503, page.text[:300]
            assert "服务暂时不可用" in page.text
        finally:
            proxy.restore()
        assert visitor.get(path).status_code == 200


# --------------------------------------------------------------------------------------------- Redis


def test_rate_limits_fall_back_per_process_while_redis_is_away_and_say_so(
    tmp_path: Path, demo_keys: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import redis

    redis.Redis.from_url(REDIS).ping()  # Redis runs on the machines (127.0.0.1:6379); fail loudly if not
    target = make_url(REDIS.replace("redis://", "postgresql://", 1))  # only its host and port are read
    proxy = Proxy(target.host or "127.0.0.1", target.port or 6379)
    token = uuid.uuid4().hex
    env = app_env(
        tmp_path, demo_keys, f"sqlite:///{tmp_path / 'r.db'}",
        ECERT_REDIS_URL=f"redis://127.0.0.1:{proxy.port}/{target.database or 0}",
        ECERT_REDIS_PREFIX=f"test-{token[:8]}", ECERT_VERIFY_RATE="3", ECERT_METRICS_TOKEN=token,
    )  # fmt: skip
    core = bootstrap(load_settings(environ=env))
    upgrade(core.engine)
    try:
        with TestClient(create_app(core)) as client:
            limiter = parts(client.app).limiter
            limiter.retry_seconds = 0.2  # type: ignore[attr-defined]  # (5 s in service)

            def statuses(n: int, client_ip: str) -> list[int]:
                # 3 a minute for each address; a new address for each phase, so that each is counted from zero
                # wherever it is counted (this client shares the app, whose lifespan the first one runs).
                other = TestClient(client.app, client=(client_ip, 50000))
                return [other.get("/api/v1/verify/AAAA").status_code for _ in range(n)]

            def fallback_metric() -> str:
                page = client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).text
                return next(line for line in page.splitlines() if line.startswith("ecert_rate_limit_fallback "))

            assert statuses(4, "203.0.113.1") == [200, 200, 200, 429]  # counted in Redis
            assert fallback_metric() == "ecert_rate_limit_fallback 0.0"

            proxy.cut()
            with caplog.at_level(logging.INFO, logger="ecert.ratelimit"):
                assert statuses(5, "203.0.113.2") == [200, 200, 200, 429, 429]  # limited here, not waved through
                assert fallback_metric() == "ecert_rate_limit_fallback 1.0"
                warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
                assert len(warnings) == 1 and "limiting per process" in warnings[0].getMessage(), caplog.text

                proxy.restore()
                time.sleep(0.3)
                assert statuses(4, "203.0.113.3") == [200, 200, 200, 429]
                assert fallback_metric() == "ecert_rate_limit_fallback 0.0"
                assert any("shared again" in r.getMessage() for r in caplog.records), caplog.text
            assert (
                int(
                    redis.Redis.from_url(REDIS).get(f"test-{token[:8]}:rl:verify:203.0.113.3:{int(time.time() // 60)}")
                    or 0
                )
                >= 1
            )
    finally:
        proxy.close()
        core.engine.dispose()


# ------------------------------------------------------------------------------------- the output disk


def test_a_batch_whose_disk_fills_up_records_only_the_files_it_wrote(
    tmp_path: Path, demo_keys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No tmpfs can be mounted without privileges: the disk fills up through the file writes instead, after two
    files (the batch's one worker process is forked from this one, and inherits the patch)."""
    settings = load_settings(environ=app_env(tmp_path, demo_keys, f"sqlite:///{tmp_path / 'b.db'}"))
    core = bootstrap(settings)
    upgrade(core.engine)
    seed_demo(core.uow, 8, seed=16, today=TODAY, now=core.clock.now(), signatures=8)
    with core.uow() as uow:
        numbers = uow.registry.sample_numbers(8)
    out = tmp_path / "out"
    written: list[Path] = []
    real_write = pathlib.Path.write_bytes

    def disk(self: Path, data: Any) -> int:
        if self.parent == out and len(written) >= 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        n = real_write(self, data)
        if self.parent == out:
            written.append(self)
        return n

    monkeypatch.setattr(pathlib.Path, "write_bytes", disk)
    result = batch.issue_batch(settings, numbers, out, actor="test", workers=1)

    files = sorted(p.name for p in out.iterdir())
    assert len(files) == result.issued == 2, (files, result.as_dict())
    assert all(f.endswith(".pdf") and not f.startswith(".") for f in files), files  # no temporary file left
    assert result.refused.get("out_write_failed", 0) >= 1, result.as_dict()
    n_certs, n_events = counts(core.engine)
    assert n_certs == n_events == 2, (n_certs, n_events)  # nothing recorded for the files not written
    with core.engine.connect() as conn:
        serials = set(conn.execute(select(certificates.c.serial)).scalars())
    assert {f.rsplit("-", 1)[1].removesuffix(".pdf") for f in files} == serials
    core.engine.dispose()
