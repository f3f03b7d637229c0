"""The public QR page's fast path (issue "national scale"): one statement for the registry read, an
async autocommit connection on PostgreSQL, verified tokens remembered, the page served before the
framework's layers. None of it may change a verdict: every state here is checked against
``verification.verify_qr`` itself, on SQLite and PostgreSQL, and the page against the regular route."""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select, text

import ecert.bootstrap as composition_root
from ecert.adapters import keystore, qr_token, ratelimit
from ecert.adapters.db.engine import AsyncReadPool
from ecert.adapters.db.tables import registrations, renewal_applications, renewal_items, specialty_registrations
from ecert.bootstrap import App, web_parts
from ecert.domain.ids import make_uscc
from ecert.entrypoints.web.app import create_app
from ecert.services import changes, verification
from ecert.testing import issued_sample, token_of
from helpers_app import DemoEnv, scrape_metrics, watch_fast_path

TODAY = date(2021, 3, 1)


@pytest.fixture
def env(db_url: str, engine: Engine, tmp_path: Path) -> DemoEnv:
    return DemoEnv.seeded(db_url, engine, tmp_path / "keys", today=TODAY)


@pytest.fixture(autouse=True)
def no_throttle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(composition_root, "make_rate_limiter", lambda settings: ratelimit.ClientBuckets(100_000))


def _issued(core: App, n: int) -> list[tuple[str, str]]:
    """(registration number, token) of ``n`` freshly issued certificates."""
    out = [(no, token_of(cert)) for no, cert in islice(issued_sample(core, 40, actor="test"), n)]
    assert len(out) == n, "not enough issuable demo holders"
    return out


def _slow(core: App, token: str) -> dict[str, Any]:
    r = verification.verify_qr(
        core.uow(), token, keys=core.qr_public_keys, today=core.clock.today(), policy=core.policy
    )
    return r.as_dict("en")


def _fast(core: App, token: str) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        return (await web_parts(core).fast_verify.verify(token)).as_dict("en")

    return asyncio.run(run())


def _same(core: App, token: str) -> str:
    slow, fast = _slow(core, token), _fast(core, token)
    assert fast == slow
    return str(slow["status"])


def _untimed(html: str) -> str:
    """The page without the moment of its check (two requests may straddle a second)."""
    untimed, n = re.subn(r"<time [^>]*>[^<]*</time>", "<time/>", html)
    assert n == 1, "the verdict page says when the check was made"
    return untimed


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", "", html).split())


# ------------------------------------------------------------------------------------------ the read


def test_the_one_statement_reads_what_the_repositories_read(env: DemoEnv) -> None:
    (no, token), (other_no, _) = _issued(env.core, 2)
    serial = qr_token.decode(token, env.core.qr_public_keys).serial
    now = datetime.now(UTC)
    with env.engine.begin() as conn:  # a pending renewal item: the specialty's flag must come through
        reg_id = conn.execute(select(registrations.c.id).where(registrations.c.registration_no == no)).scalar_one()
        sr = specialty_registrations
        spec = conn.execute(select(sr.c.specialty, sr.c.valid_until).where(sr.c.registration_id == reg_id)).first()
        assert spec is not None
        app_id = conn.execute(
            insert(renewal_applications)
            .values(registration_id=reg_id, applied_on=TODAY, status="pending", committed=True, created_at=now)
            .returning(renewal_applications.c.id)
        ).scalar_one()
        conn.execute(
            insert(renewal_items).values(
                application_id=app_id, registration_id=reg_id, specialty=spec.specialty, status="pending",
                previous_valid_until=spec.valid_until,
            )
        )  # fmt: skip
    changes.revoke(
        env.core.uow(), other_no, reason="test", basis="《注册管理规定》第三十六条", effective="2021-02-01",
        actor="test", today=TODAY, now=env.core.clock.now(),
    )  # fmt: skip
    with env.core.uow() as uow:
        snap = uow.certificates.snapshot(serial)
        assert snap is not None
        assert snap.record == uow.certificates.get(serial)
        assert snap.registration == uow.registry.get(no)
        assert any(s.pending_application for s in snap.registration.specialties)
        assert snap.registration.has_signature
        assert uow.certificates.snapshot("A" * 16) is None
        other = uow.certificates.for_registration(other_no)[0]
        revoked = uow.certificates.snapshot(other.serial)
        assert revoked is not None and revoked.registration == uow.registry.get(other_no)
        assert (revoked.status_basis, revoked.status_effective) == ("《注册管理规定》第三十六条", date(2021, 2, 1))


# ------------------------------------------------------------------------------------------ verdicts


def test_fast_verdict_is_verify_qrs_in_every_state__R_DOC_4_R_CHG_1_R_USE_3(env: DemoEnv) -> None:
    (a, token_a), (b, token_b), (_c, token_c) = _issued(env.core, 3)
    core = env.core
    assert _same(core, token_a) == "valid"
    assert _same(core, f"HTTPS://ECERT.EXAMPLE/V/{token_a}") == "valid"  # the whole scanned URL
    claims = qr_token.decode(token_a, core.qr_public_keys)
    assert _same(env.at(claims.usage_until + timedelta(days=1)), token_a) == "expired"
    assert _same(env.at(claims.usage_from - timedelta(days=1)), token_a) == "not_yet_valid"
    # Forged, truncated, foreign: decided before any read, the same words either way.
    flipped = token_a[:-3] + ("A" if token_a[-3] != "A" else "B") + token_a[-2:]
    assert _same(core, flipped) in ("tampered", "indeterminate")
    assert _same(core, token_a[:40]) == "indeterminate"
    assert _same(core, "not a token at all") == "indeterminate"
    stranger = qr_token.generate_key()
    foreign = qr_token.encode(claims.serial, a, claims.usage_from, claims.usage_until, b"\0" * 32, stranger)
    assert _same(core, foreign) == "untrusted"
    # Genuinely signed, but not what was issued: no record, or a record that does not match.
    key = keystore.qr_private_key(env.keys)
    unknown = qr_token.encode("A" * 16, a, claims.usage_from, claims.usage_until, b"\0" * 32, key)
    assert _same(core, unknown) == "indeterminate"
    mismatch = qr_token.encode(claims.serial, a, claims.usage_from, claims.usage_until, hashlib.sha256().digest(), key)
    assert _same(core, mismatch) == "tampered"
    # The registry's current state, read at the time of the check (R-CHG-1, R-CHG-3).
    changes.change_employer(
        core.uow(), b, name="新的建筑工程有限公司", uscc=make_uscc("330100", "MA2NEW001"), actor="test",
        now=core.clock.now(),
    )  # fmt: skip
    assert _same(core, token_b) == "superseded"
    c_no = qr_token.decode(token_c, core.qr_public_keys).registration_no
    changes.revoke(
        core.uow(), c_no, reason="test", basis="依据", effective="2021-02-01", actor="test", today=TODAY,
        now=core.clock.now(),
    )  # fmt: skip
    assert _same(core, token_c) == "revoked"
    assert _fast(core, token_c)["current"]["revocation"] == {
        "status": "revoked",
        "basis": "依据",
        "effective": "2021-02-01",
    }


def test_only_verified_tokens_are_remembered__R_DOC_4(env: DemoEnv) -> None:
    (_, token), *_ = _issued(env.core, 1)
    tokens = verification.VerifiedTokens(env.core.qr_public_keys, maxsize=4)
    assert tokens(token) == qr_token.decode(token, env.core.qr_public_keys)
    assert tokens(token) is tokens(token)
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    for _ in range(2):
        with pytest.raises(qr_token.TokenError):
            tokens(flipped)
    info = tokens._decode.cache_info()
    assert info.currsize == 1 and info.hits == 2


def test_the_async_read_survives_a_dropped_connection_and_a_new_event_loop(env: DemoEnv) -> None:
    if env.engine.dialect.name != "postgresql":
        pytest.skip("the async read is PostgreSQL's")
    pool = AsyncReadPool(env.engine, size=2)

    async def pid() -> int:
        return int((await pool.fetch("SELECT pg_backend_pid() WHERE $1::int = 1", ("1",)))[0][0])

    async def scenario() -> tuple[int, int, int]:
        first, again = await pid(), await pid()
        with env.engine.connect() as conn:  # the server ends the idle connection (a restart, a proxy)
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": first})
        await asyncio.sleep(0.2)
        return first, again, await pid()  # read again, on a new connection

    first, again, after = asyncio.run(scenario())
    assert first == again != after  # reused within a loop; replaced when it died
    assert asyncio.run(pid()) != after  # a new event loop starts afresh


# ------------------------------------------------------------------------------------------ the page


def test_the_fast_page_is_the_routes_page_in_both_languages__R_DOC_4(
    env: DemoEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    (_, token), *_ = _issued(env.core, 1)
    served = watch_fast_path(monkeypatch)
    client = TestClient(create_app(env.core))
    fast = client.get(f"/V/{token}")
    assert served == [f"/V/{token}"]
    routed = client.get(f"/V/{token}?lang=zh")  # a query string takes the regular route
    assert served == [f"/V/{token}"]
    assert fast.status_code == routed.status_code == 200
    assert _untimed(fast.text) == _untimed(routed.text)
    assert "有效" in _text(fast.text) and f"/v/{token}/signature.png" in fast.text
    for name in ("content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy"):
        assert fast.headers[name] == routed.headers[name]
    assert fast.headers["content-type"] == "text/html; charset=utf-8"
    en_routed = client.get(f"/v/{token}?lang=en")  # also remembers English in a cookie
    en_fast = client.get(f"/v/{token}")
    assert served[-1] == f"/v/{token}"
    assert _untimed(en_fast.text) == _untimed(en_routed.text) and "Valid" in en_fast.text
    metrics = scrape_metrics(env.core)
    assert re.search(r'ecert_http_requests_total\{method="GET",route="/V/\{token\}",status="200"\} [1-9]', metrics)
    assert re.search(r'ecert_verifications_total\{kind="qr",status="valid"\} [1-9]', metrics)


def test_a_change_shows_on_the_very_next_scan__R_CHG_1(env: DemoEnv) -> None:
    (no, token), *_ = _issued(env.core, 1)
    client = TestClient(create_app(env.core))
    assert "有效" in _text(client.get(f"/V/{token}").text)
    changes.change_employer(
        env.core.uow(), no, name="另一家建筑工程有限公司", uscc=make_uscc("330100", "MA2NEW002"), actor="test",
        now=env.core.clock.now(),
    )  # fmt: skip
    page = _text(client.get(f"/V/{token}").text)
    assert "已被更新" in page and "另一家建筑工程有限公司" in page
    changes.revoke(
        env.core.uow(), no, reason="test", basis="依据", effective="2021-02-01", actor="test", today=TODAY,
        now=env.core.clock.now(),
    )  # fmt: skip
    assert "已撤销" in _text(client.get(f"/V/{token}").text)


def test_forged_and_odd_paths_never_break_the_page__R_DOC_4(env: DemoEnv) -> None:
    (_, token), *_ = _issued(env.core, 1)
    client = TestClient(create_app(env.core))
    for path in (f"/V/{token[:-1]}", "/V/" + "A" * 40, "/V/%00%ff", "/v/" + "x" * 2000):
        res = client.get(path)
        assert res.status_code == 200 and "无法验证" in res.text, path
    assert client.get(f"/V/{token}/").status_code in (200, 307, 404)  # the framework decides, as before
    assert client.head(f"/V/{token}").status_code in (200, 405)


def test_a_signed_in_visitor_sees_their_nav_and_limits_still_apply__R_ACC_1(
    env: DemoEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    (no, token), *_ = _issued(env.core, 1)
    from ecert.services import accounts

    accounts.add_user(
        env.core.uow(), "holder-q", role="holder", password="holder-pass-2021", registration_no=no, actor="test",
        now=env.core.clock.now(),
    )  # fmt: skip
    client = TestClient(create_app(env.core))
    assert client.post("/login", data={"username": "holder-q", "password": "holder-pass-2021"}).status_code == 200
    page = client.get(f"/V/{token}").text
    assert "holder-q" in page and "有效" in _text(page)
    monkeypatch.setattr(composition_root, "make_rate_limiter", lambda settings: ratelimit.ClientBuckets(2))
    anonymous = TestClient(create_app(env.core))
    assert [anonymous.get(f"/V/{token}").status_code for _ in range(3)] == [200, 200, 429]
    assert anonymous.get(f"/api/v1/verify/{token}").status_code == 429


def test_a_limiter_doing_io_is_asked_off_the_event_loop(env: DemoEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    """A shared limiter (Redis) does network I/O: the async endpoints and the fast path must not
    block the event loop on it (a slow Redis would stall every request of the process)."""
    (_, token), *_ = _issued(env.core, 1)

    class Remote:
        def __init__(self) -> None:
            self.calls: list[bool] = []

        def allow(self, client: str) -> bool:
            try:
                asyncio.get_running_loop()
                on_loop = True
            except RuntimeError:
                on_loop = False
            self.calls.append(on_loop)
            return len(self.calls) <= 2

    remote = Remote()
    monkeypatch.setattr(composition_root, "make_rate_limiter", lambda settings: remote)
    client = TestClient(create_app(env.core))
    assert client.get(f"/V/{token}").status_code == 200  # fast path
    assert client.get(f"/api/v1/verify/{token}").status_code == 200
    assert client.get(f"/V/{token}").status_code == 429  # refused: the route says so
    assert remote.calls and not any(remote.calls)
