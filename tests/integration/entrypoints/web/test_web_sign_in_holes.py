"""The sign-in's holes (issue 16 §3), on SQLite and PostgreSQL: a stranger's wrong passwords slow the
account down for unknown clients but never lock out its owner's known device (growing delays, not a
hard lock); one password-hash verification whatever the account (no user-name discovery by timing);
cross-site sign-in posts refused (login CSRF), clients without ``Origin`` still served."""

from __future__ import annotations

import os
import uuid
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from ecert.adapters import keystore
from ecert.adapters.db.sessions import SqlFailures
from ecert.adapters.db.tables import users
from ecert.bootstrap import bootstrap
from ecert.config import RateLimitSettings, Settings
from ecert.domain.errors import EcertError
from ecert.entrypoints.web.app import create_app
from ecert.entrypoints.web.known_devices import DEVICE_COOKIE
from ecert.services import accounts, demo

TODAY = date(2021, 3, 1)
REDIS = os.environ.get("ECERT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PASSWORD = "holder-pass-2021"
T0 = 1_800_000_000.0


class CountingHasher(PasswordHasher):
    """argon2 with cheap parameters that counts its verifications (the work a sign-in does): those of
    an argon2 hash (anything else is refused before any hashing, so it costs nothing)."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=64, parallelism=1)
        self.verifications = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        if (hash.decode() if isinstance(hash, bytes) else hash).startswith("$argon2"):
            self.verifications += 1
        return super().verify(hash, password)


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    h = CountingHasher()
    monkeypatch.setattr(accounts, "_hasher", h)
    return h


class Site:
    def __init__(
        self, db_url: str, engine: Engine, keys_dir: Path, redis_url: str | None = None, *, seed: bool = True
    ) -> None:
        keys = keystore.key_settings_from_env({"ECERT_KEYS_DIR": str(keys_dir)})
        limits = RateLimitSettings(redis_url=redis_url, redis_prefix=f"test-{uuid.uuid4().hex[:8]}")
        settings = Settings(database_url=db_url, today_override=TODAY, ratelimit=limits)
        self.core = bootstrap(settings, engine=engine, keys=keys)
        if seed:
            demo.seed_demo(self.core.uow, 3, seed=2021, today=TODAY, now=self.core.clock.now(), signatures=0)
            with self.core.uow() as uow:
                numbers = uow.registry.sample_numbers(2)
            for name, reg_no in (("owner", numbers[0]), ("other", numbers[1])):
                accounts.add_user(
                    self.core.uow(), name, role="holder", registration_no=reg_no, password=PASSWORD, actor="test",
                    now=self.core.clock.now(),
                )  # fmt: skip
        self.app = create_app(self.core)
        self.at(T0)

    def at(self, unix_time: float) -> None:
        self.app.state.ctx.wall_time = lambda: unix_time

    def client(self) -> TestClient:
        return TestClient(self.app, follow_redirects=False)


@pytest.fixture
def site(db_url: str, engine: Engine, tmp_path: Path, hasher: CountingHasher) -> Site:
    return Site(db_url, engine, tmp_path / "keys")


def _api(c: TestClient, username: str, password: str, **headers: str) -> Any:
    return c.post("/api/v1/session", json={"username": username, "password": password}, headers=headers)


def _form(c: TestClient, username: str, password: str, **headers: str) -> Any:
    return c.post("/login", data={"username": username, "password": password}, headers=headers)


# ------------------------------------------------------------------------------ lock-out by anyone


def test_a_strangers_wrong_passwords_slow_unknown_clients_down_but_never_lock_out_a_known_device(site: Site) -> None:
    owner = site.client()
    assert _api(owner, "owner", PASSWORD).status_code == 200
    assert owner.cookies.get(DEVICE_COOKIE)  # this client is now a known device of "owner"
    owner.delete("/api/v1/session")

    stranger = site.client()
    codes = [_api(stranger, "owner", f"guess-{i}").status_code for i in range(7)]
    assert codes == [401] * 5 + [429, 429]
    # An unknown client is slowed down for this account, even with the right password …
    assert _form(site.client(), "owner", PASSWORD).status_code == 429
    # … but the owner's known device signs in, on the form and on the API.
    assert _form(owner, "owner", PASSWORD).status_code == 303
    assert _api(owner, "owner", PASSWORD).status_code == 200
    # A known device is throttled by its own failures (a copied cookie buys no free guesses).
    assert [_api(owner, "owner", "wrong").status_code for _ in range(6)] == [401] * 5 + [429]

    # For unknown clients the delays grow and pass: no hard lock.
    refused = _api(site.client(), "owner", PASSWORD)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "30"
    site.at(T0 + 31)
    assert _api(site.client(), "owner", "wrong").status_code == 401  # the sixth: the next waits twice as long
    assert _api(site.client(), "owner", PASSWORD).headers["Retry-After"] == "60"
    site.at(T0 + 31 + 61)
    assert _api(site.client(), "owner", PASSWORD).status_code == 200


def test_a_device_cookie_counts_only_for_its_account_and_only_when_its_signature_holds(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = site.client()
    assert _api(other, "other", PASSWORD).status_code == 200
    cookie = other.cookies[DEVICE_COOKIE]
    version, _name, issued, mac = cookie.split(".")
    assert [_api(site.client(), "owner", "wrong").status_code for _ in range(5)] == [401] * 5
    for value in (cookie, f"{version}.{'b3duZXI'}.{issued}.{mac}", "v1.b3duZXI.1800000000.AAAAAAAAAAAAAAAAAAAAAA"):
        forged = site.client()
        forged.cookies.set(DEVICE_COOKIE, value)
        assert _api(forged, "owner", PASSWORD).status_code == 429, value  # "b3duZXI" is base64url of "owner"
    # Without an application secret (a read-only keys directory lacking one) sign-ins still work, with
    # no device cookie: every client is an unknown one.
    monkeypatch.setattr(keystore, "app_secret", lambda *_: (_ for _ in ()).throw(EcertError("bad_keys")))
    site.at(T0 + 3600)
    plain = site.client()
    assert _api(plain, "other", PASSWORD).status_code == 200 and DEVICE_COOKIE not in plain.cookies


def test_with_redis_the_counts_live_there_and_an_outage_falls_back_to_the_database(
    db_url: str, engine: Engine, tmp_path: Path, hasher: CountingHasher
) -> None:
    import redis

    site = Site(db_url, engine, tmp_path / "keys", redis_url=REDIS)
    store = site.app.state.web.login_failures
    assert [_api(site.client(), "owner", "wrong").status_code for _ in range(6)] == [401] * 5 + [429]
    key = f"{store.prefix}:login:login:user:owner"
    assert int(redis.Redis.from_url(REDIS).hget(key, "count") or 0) == 5  # in Redis, not in the table
    assert SqlFailures(engine).failures("login:user:owner") is None
    redis.Redis.from_url(REDIS).delete(key, f"{store.prefix}:login:login:ip:testclient")

    # Redis unreachable (nothing listens on port 9): the table counts instead (never fail-open), and
    # the errors are counted.
    down = Site(db_url, engine, tmp_path / "keys", redis_url="redis://127.0.0.1:9/0", seed=False)
    assert [_api(down.client(), "other", "wrong").status_code for _ in range(6)] == [401] * 5 + [429]
    assert down.app.state.web.login_failures.errors > 0
    assert SqlFailures(engine).failures("login:user:other") is not None


# ------------------------------------------------ user-name discovery by timing, and login CSRF

CROSS_SITE = [
    {"Origin": "https://evil.example"},
    {"Origin": "null"},  # a sandboxed frame, with no Sec-Fetch-Site to say where it is
    {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site", "Origin": "http://testserver"},
]
SAME_SITE_OR_NO_BROWSER = [
    {},  # curl, scripts: no Origin, no Sec-Fetch-Site
    {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},  # this service's own page
    {"Origin": "https://verify.example.gov.cn"},  # ECERT_BASE_URL's origin
    {"Sec-Fetch-Site": "none"},  # typed or bookmarked
    {"Origin": "null", "Sec-Fetch-Site": "same-origin"},  # our own page, its origin hidden by a Referrer-Policy
]


def test_one_hash_verification_whatever_the_account_and_cross_site_sign_ins_refused(
    site: Site, hasher: CountingHasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = site.client()
    for username, password, status, change in (
        ("owner", "wrong-password", 401, {}),  # an existing account, wrong password
        ("nobody-by-that-name", "wrong-password", 401, {}),  # no such account
        ("other", PASSWORD, 401, {"disabled": True}),  # a disabled account, even with its password
        # an account without a password, as a platform-only one is stored (services/platform_signin.py)
        ("other", "!platform-only", 401, {"disabled": False, "password_hash": "!platform-only"}),
        ("owner", PASSWORD, 200, {}),
    ):
        if change:
            with site.core.engine.begin() as conn:
                conn.execute(update(users).where(users.c.username == username).values(**change))
        before = hasher.verifications
        assert _api(c, username, password).status_code == status
        assert hasher.verifications - before == 1, (username, change)

    # Login CSRF: a browser's cross-site post is refused, a same-origin or non-browser one served.
    monkeypatch.setattr(site.core, "keys", replace(site.core.keys, base_url="https://verify.example.gov.cn/v"))
    for headers in CROSS_SITE:
        form = _form(site.client(), "owner", PASSWORD, **headers)
        assert form.status_code == 403 and "ecert_session" not in form.headers.get("set-cookie", ""), headers
        api = _api(site.client(), "owner", PASSWORD, **headers)
        assert api.status_code == 403 and api.json()["error"]["code"] == "cross_site_refused", headers
        assert "ecert_session" not in api.headers.get("set-cookie", "")
    for headers in SAME_SITE_OR_NO_BROWSER:
        assert _form(site.client(), "owner", PASSWORD, **headers).status_code == 303, headers
        assert _api(site.client(), "owner", PASSWORD, **headers).status_code == 200, headers
