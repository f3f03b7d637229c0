"""Helpers for the web, CLI and end-to-end tests: the demo registry behind an App with its own seal keys,
a signed-in test client, the QR page's fast path watched, the registry import's columns."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyotp
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from ecert.adapters import keystore
from ecert.adapters.clock import Clock
from ecert.adapters.db.tables import users
from ecert.bootstrap import App, bootstrap
from ecert.config import Settings
from ecert.entrypoints.web.app import create_app
from ecert.entrypoints.web.qr_fast_path import QrPageFastPath
from ecert.services import registry
from ecert.services.demo import seed_demo
from helpers_cli import COLUMNS

IMPORT_COLUMNS = COLUMNS  # the registry import's columns in the documented order (docs/cli.md)


def demo_app(db_url: str, engine: Engine, keys_dir: Path, *, today: date, clock: Clock | None = None) -> App:
    """An App on the test database with its own seal keys in ``keys_dir``, dated ``today``, over the
    demo registry of 40 holders (seed 2021). ``clock``, if given, replaces the app's clock before the
    registry is seeded."""
    keys = keystore.key_settings_from_env({"ECERT_KEYS_DIR": str(keys_dir)})
    keystore.ensure_keys(keys)
    core = bootstrap(Settings(database_url=db_url, today_override=today), engine=engine, keys=keys)
    if clock is not None:
        core.clock = clock
    seed_demo(core.uow, 40, seed=2021, today=today, now=core.clock.now())
    return core


@dataclass
class DemoEnv:
    """The demo registry's App and what it takes to build another one on the same database."""

    db_url: str
    engine: Engine
    keys: keystore.KeySettings
    core: App

    @classmethod
    def seeded(cls, db_url: str, engine: Engine, keys_dir: Path, *, today: date) -> DemoEnv:
        core = demo_app(db_url, engine, keys_dir, today=today)
        return cls(db_url, engine, core.keys, core)

    def at(self, today: date) -> App:
        """Another core on the same database with another date (ECERT_TODAY, for drills and tests)."""
        return bootstrap(Settings(database_url=self.db_url, today_override=today), engine=self.engine, keys=self.keys)


@dataclass
class Served:
    """An App and the web app made from it, which the tests' clients talk to."""

    core: App
    app: FastAPI = field(init=False)

    def __post_init__(self) -> None:
        self.app = create_app(self.core)

    @property
    def engine(self) -> Engine:
        return self.core.engine


def signed_in(app: Any, username: str, password: str) -> TestClient:
    """A client of ``app`` (an App, or a web app already made from one) signed in through the login form;
    a reviewer or admin also passes the second factor (enrolling first if need be)."""
    client = TestClient(create_app(app) if isinstance(app, App) else app)
    res = client.post("/login", data={"username": username, "password": password}, follow_redirects=False)
    assert res.status_code == 303, res.text
    if res.headers["location"].startswith("/login/second-factor"):
        pass_second_factor_page(client, username)
    return client


# --------------------------------------------------------------------------- the staff second factor

TOTP_JS = Path(__file__).resolve().parent / "totp" / "totp.js"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


def otplib_code(secret: str, unix_time: float) -> str:
    """The code of ``secret`` at ``unix_time`` as npm otplib computes it: an implementation independent of
    pyotp (tests/totp, installed by scripts/setup)."""
    assert (TOTP_JS.parent / "node_modules" / "otplib").is_dir(), "run scripts/setup (npm ci in tests/totp)"
    done = subprocess.run(
        ["node", str(TOTP_JS), secret, str(int(unix_time))], capture_output=True, text=True, check=True, timeout=30
    )
    code = done.stdout.strip()
    assert re.fullmatch(r"\d{6}", code), done.stdout + done.stderr
    return code


def factor_row(core: App, username: str) -> Any:
    """The user's second factor as the service reads it: the TOTP secret decrypted (stored encrypted,
    adapters/db/second_factor.py), when it was enrolled, the last step accepted."""
    with core.uow() as uow:
        state = uow.second_factors.state(username)
    assert state is not None, username
    return SimpleNamespace(totp_secret=state.secret, totp_enrolled_at=state.enrolled_at, totp_last_step=state.last_step)


def stored_totp_secret(engine: Engine, username: str) -> str | None:
    """``users.totp_secret`` as stored (encrypted)."""
    with engine.connect() as conn:
        value: str | None = conn.execute(select(users.c.totp_secret).where(users.c.username == username)).scalar_one()
    return value


def fresh_code(core: App, username: str) -> str:
    """A code of ``username``'s secret the service accepts now and has not seen: the current step's, or the
    next one's (±1 step is accepted) when the current one was used; else it waits for the next step."""
    while True:
        row = factor_row(core, username)
        assert row.totp_secret, f"{username} has no TOTP secret"
        now = time.time()
        step = int(now // 30)
        for s in (step, step + 1):
            if row.totp_last_step is None or s > row.totp_last_step:
                return pyotp.TOTP(row.totp_secret).at(s * 30)
        time.sleep((step + 1) * 30 - now + 0.05)


def pass_second_factor_page(client: TestClient, username: str) -> None:
    """After the password: the second-factor page, enrolment included (the recovery codes page then)."""
    page = client.get("/login/second-factor", follow_redirects=False)
    assert page.status_code == 200, page.text[:300]
    csrf = CSRF_FIELD.search(page.text)
    assert csrf, page.text[:300]
    code = fresh_code(client.app.state.ctx.core, username)  # type: ignore[attr-defined]
    res = client.post("/login/second-factor", data={"code": code, "csrf": csrf.group(1)}, follow_redirects=False)
    assert res.status_code in (200, 303), res.text[:300]


def api_signed_in(client: TestClient, username: str, password: str) -> str:
    """Sign ``client`` in through ``POST /api/v1/session``; a reviewer or admin also passes the second factor
    (``POST /api/v1/session/second-factor``, enrolling first if need be). The session's CSRF token."""
    res = client.post("/api/v1/session", json={"username": username, "password": password})
    assert res.status_code == 200, res.text
    body = res.json()
    if body["second_factor"] in ("not_required", "passed"):
        return str(body["csrf_token"])
    if body["second_factor"] == "enrolment_required":
        assert client.get("/api/v1/session/second-factor").json()["secret"]
    code = fresh_code(client.app.state.ctx.core, username)  # type: ignore[attr-defined]
    passed = client.post(
        "/api/v1/session/second-factor", json={"code": code}, headers={"X-CSRF-Token": body["csrf_token"]}
    )
    assert passed.status_code == 200, passed.text
    return str(passed.json()["csrf_token"])


def watch_fast_path(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the QR page's fast path answers from now on, in order (it still answers them)."""
    served: list[str] = []
    respond = QrPageFastPath._respond

    async def spy(self: Any, scope: Any, receive: Any, send: Any) -> None:
        served.append(scope["path"])
        await respond(self, scope, receive, send)

    monkeypatch.setattr(QrPageFastPath, "_respond", spy)
    return served


def downloadable_demo_no(ecert: Any, today: str) -> str:
    """The first of ``ecert demo``'s sample holders (40 of them) who can download on ``today``
    (pilot province, valid specialty, signature)."""
    res = ecert("demo", "--holders", "40", "--json", today=today)
    assert res.exit_code == 0, res.stdout + res.stderr
    for no in res.json()["sample_registration_nos"]:
        if ecert("cert", "preview", no, "--json", today=today).exit_code == 0:
            return str(no)
    raise AssertionError(f"no demo holder can download on {today}")


def renewable_days(core: App, numbers: Iterable[str], *, after: date) -> Iterator[tuple[date, str, str, str]]:
    """(day, registration no., specialty, valid_until) for each specialty of the registrations ``numbers``
    that is ``renewable`` ten days before it ends, when that day is later than ``after`` and the holder
    is then more than 30 days short of 65 (R-REN-1, R-REN-5)."""
    for no in numbers:
        view = registry.show_holder(core.uow(), no, today=after, policy=core.policy)
        for s in view["specialties"]:
            day = date.fromisoformat(s["valid_until"]) - timedelta(days=10)
            if day <= after or date.fromisoformat(view["age65_date"]) <= day + timedelta(days=30):
                continue
            on_day = registry.show_holder(core.uow(), no, today=day, policy=core.policy)
            if {x["specialty"]: x["state"] for x in on_day["specialties"]}[s["specialty"]] == "renewable":
                yield day, no, s["specialty"], s["valid_until"]


SCRAPER_TOKEN = "test-scraper-token"


def scrape_metrics(core: App) -> str:
    """``/metrics`` as a configured scraper reads it (R-ACC-1: nobody else may): an app on the same
    database whose settings name a scraper token. The counters are the process's, whichever app counted."""
    settings = replace(core.settings, web=replace(core.settings.web, metrics_token=SCRAPER_TOKEN))
    scraper = App(settings, core.clock, core.policy, core.keys, core.engine)
    res = TestClient(create_app(scraper)).get("/metrics", headers={"Authorization": f"Bearer {SCRAPER_TOKEN}"})
    assert res.status_code == 200, res.text
    return res.text
