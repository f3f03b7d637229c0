"""The authority staff's second factor over HTTP (issue 17, R-ACC-1), on SQLite and PostgreSQL:
enrolment with a QR code on the first sign-in, codes computed by an independent TOTP implementation
(npm otplib), staff pages and API refused until the factor is passed, wrong and replayed codes
refused, recovery codes single-use, an administrator's reset audited and forcing a new enrolment,
holders unaffected, and ECERT_STAFF_2FA=off."""

from __future__ import annotations

import base64
import io
import json
import re
import time
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import pytest
import zxingcpp
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine, select

from ecert.adapters.db.tables import audit_events, users
from ecert.bootstrap import bootstrap
from ecert.config import Settings, WebSettings
from ecert.entrypoints.web.app import create_app
from ecert.services import accounts, demo
from helpers_app import CSRF_FIELD, Served, api_signed_in, factor_row, otplib_code, signed_in, stored_totp_secret

TODAY = date(2021, 3, 1)
PASSWORD = "staff-pass-2021"
T0 = 1_800_000_000  # a fixed wall time for the deterministic tests (the app's TOTP clock is set to it)


@dataclass
class Site(Served):
    holder_no: str

    def client(self) -> TestClient:
        return TestClient(self.app, follow_redirects=False)

    def at(self, unix_time: float) -> None:
        """The web's TOTP clock (WebContext.wall_time), fixed."""
        self.app.state.ctx.wall_time = lambda: unix_time


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


def _site(db_url: str, engine: Engine, *, staff_2fa: bool = True) -> Site:
    core = bootstrap(
        Settings(database_url=db_url, today_override=TODAY, web=WebSettings(staff_2fa=staff_2fa)), engine=engine
    )
    demo.seed_demo(core.uow, 8, seed=2021, today=TODAY, now=core.clock.now(), signatures=0)
    with core.uow() as uow:
        holder_no = uow.registry.sample_numbers(1)[0]
    for name, role, province, reg_no in (
        ("admin-a", "admin", None, None),
        ("admin-b", "admin", None, None),
        ("rev-zj", "reviewer", "浙", None),
        ("holder-h", "holder", None, holder_no),
    ):
        accounts.add_user(
            core.uow(), name, role=role, password=PASSWORD, province=province, registration_no=reg_no,
            actor="test", now=core.clock.now(),
        )  # fmt: skip
    return Site(core, holder_no)


@pytest.fixture
def site(db_url: str, engine: Engine) -> Site:
    return _site(db_url, engine)


def _events(engine: Engine, action: str, subject: str | None = None) -> list[dict[str, Any]]:
    query = select(audit_events).where(audit_events.c.action == action).order_by(audit_events.c.id)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        {"actor": r.actor, "subject": r.subject, "payload": json.loads(r.payload)}
        for r in rows
        if subject is None or r.subject == subject
    ]


def _password(c: TestClient, username: str, next: str = "") -> Any:
    return c.post("/login", data={"username": username, "password": PASSWORD, "next": next})


def _csrf(html: str) -> str:
    found = CSRF_FIELD.search(html)
    assert found, html[:300]
    return found.group(1)


def _enrol_page(site: Site, c: TestClient, username: str, unix_time: float) -> tuple[str, list[str]]:
    """Password, then the enrolment page; confirmed with otplib's code at ``unix_time``. (secret, recovery codes)"""
    site.at(unix_time)
    assert _password(c, username).status_code == 303
    page = c.get("/login/second-factor")
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text)
    assert secret, page.text[:500]
    res = c.post(
        "/login/second-factor", data={"code": otplib_code(secret.group(1), unix_time), "csrf": _csrf(page.text)}
    )
    assert res.status_code == 200, res.text[:500]
    codes = re.findall(r"<li>([A-Z2-9]{5}-[A-Z2-9]{5})</li>", res.text)
    return secret.group(1), codes


def _code_for_no_step(secret: str, unix_time: float) -> str:
    """A six-digit code that is none of the three accepted steps' codes."""
    taken = {otplib_code(secret, unix_time + d * 30) for d in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in taken)


# ---------------------------------------------------------------------------------------------- enrolment


def test_first_sign_in_enrols_with_a_qr_code_and_otplib_codes__R_ACC_1(site: Site) -> None:
    c = site.client()
    res = _password(c, "admin-a", next="/admin/audit")
    assert res.status_code == 303
    assert unquote(res.headers["location"]) == "/login/second-factor?next=/admin/audit"
    # Before the factor, the staff pages send to the second-factor page, the API refuses.
    gate = c.get("/admin")
    assert gate.status_code == 303 and gate.headers["location"] == "/login/second-factor?next=/admin"
    api = c.get("/api/v1/audit", headers={"Accept-Language": "en"})
    assert api.status_code == 401 and api.json()["error"]["code"] == "second_factor_required"

    page = c.get("/login/second-factor?next=/admin/audit")
    assert page.status_code == 200
    secret = factor_row(site.core, "admin-a").totp_secret
    assert secret and f'id="totp-secret">{secret}<' in page.text
    assert factor_row(site.core, "admin-a").totp_enrolled_at is None  # not before it is confirmed
    # The QR code, an inline PNG, read by an independent decoder: the otpauth:// URI of that secret.
    data_uri = re.search(r'src="data:image/png;base64,([^"]+)"', page.text)
    assert data_uri
    [qr] = zxingcpp.read_barcodes(Image.open(io.BytesIO(base64.b64decode(data_uri.group(1)))))
    uri = urlparse(qr.text)
    assert (uri.scheme, uri.netloc, unquote(uri.path)) == ("otpauth", "totp", "/ecert:admin-a")
    assert parse_qs(uri.query)["secret"] == [secret] and parse_qs(uri.query)["issuer"] == ["ecert"]
    assert "http" not in page.text.split("<main>")[1].split("</main>")[0]  # no external request

    now = time.time()
    old_cookie = c.cookies.get("ecert_session")
    res = c.post(
        "/login/second-factor",
        data={"code": otplib_code(secret, now), "csrf": _csrf(page.text), "next": "/admin/audit"},
    )
    assert res.status_code == 200, res.text[:500]
    codes = re.findall(r"<li>([A-Z2-9]{5}-[A-Z2-9]{5})</li>", res.text)
    assert len(codes) == 10 == len(set(codes))
    assert 'href="/admin/audit"' in res.text
    assert c.cookies.get("ecert_session") != old_cookie, "passing the factor gives a new session id"
    assert c.get("/admin/audit").status_code == 200
    assert c.get("/api/v1/audit").status_code == 200
    # The session id from before the factor is gone.
    stale = site.client()
    stale.cookies.set("ecert_session", str(old_cookie))
    assert stale.get("/admin").headers["location"].startswith("/login?")
    row = factor_row(site.core, "admin-a")
    assert row.totp_enrolled_at is not None and row.totp_last_step is not None
    with site.engine.connect() as conn:
        stored = conn.execute(select(users.c.totp_secret)).scalars().all()
    assert not any(code in json.dumps(stored) for code in codes)  # recovery codes are stored hashed
    # The TOTP secret is stored encrypted (issue 16 §3): the column never holds it.
    assert secret not in json.dumps(stored) and stored_totp_secret(site.engine, "admin-a").startswith("enc1:")
    assert _events(site.engine, "auth.second_factor_enrolment_started", "admin-a")
    [enrolled] = _events(site.engine, "auth.second_factor_enrolled", "admin-a")
    assert enrolled["payload"]["recovery_codes"] == 10


def test_the_api_refuses_staff_routes_until_the_factor_and_enrols_too__R_ACC_1(site: Site) -> None:
    site.at(T0)
    c = site.client()
    res = c.post("/api/v1/session", json={"username": "rev-zj", "password": PASSWORD})
    assert res.status_code == 200 and res.json()["second_factor"] == "enrolment_required"
    csrf = res.json()["csrf_token"]
    refused = c.get("/api/v1/review/applications", params={"lang": "en"})
    assert refused.status_code == 401
    assert refused.json()["error"] == {
        "code": "second_factor_required",
        "message": "Staff pages need the second factor: enter the code from your authenticator app",
        "rule": "R-ACC-1",
    }
    zh = c.get("/api/v1/review/applications", params={"lang": "zh"}).json()["error"]["message"]
    assert "第二重验证" in zh
    state = c.get("/api/v1/session/second-factor").json()
    assert state["enrolled"] is False and state["passed"] is False
    assert state["otpauth_uri"].startswith("otpauth://totp/ecert:rev-zj?") and state["secret"]
    # Without the CSRF token: refused.
    no_csrf = c.post("/api/v1/session/second-factor", json={"code": otplib_code(state["secret"], T0)})
    assert no_csrf.status_code == 403
    done = c.post(
        "/api/v1/session/second-factor",
        json={"code": otplib_code(state["secret"], T0)},
        headers={"X-CSRF-Token": csrf},
    )
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["second_factor"] == "passed" and body["method"] == "enrolment" and len(body["recovery_codes"]) == 10
    assert body["csrf_token"] != csrf
    assert c.get("/api/v1/review/applications").status_code == 200
    assert c.get("/api/v1/session/second-factor").json() == {"username": "rev-zj", "enrolled": True, "passed": True}

    # The next sign-in: with ``totp`` at once (the next step's code; the enrolment used this one) …
    again = site.client().post(
        "/api/v1/session",
        json={"username": "rev-zj", "password": PASSWORD, "totp": otplib_code(state["secret"], T0 + 30)},
    )
    assert again.status_code == 200 and again.json()["second_factor"] == "passed"
    # … or without it, and the code after.
    later = site.client()
    first = later.post("/api/v1/session", json={"username": "rev-zj", "password": PASSWORD})
    assert first.json()["second_factor"] == "required"
    assert later.get("/api/v1/review/applications").status_code == 401
    site.at(T0 + 60)
    passed = later.post(
        "/api/v1/session/second-factor",
        json={"code": otplib_code(state["secret"], T0 + 60)},
        headers={"X-CSRF-Token": first.json()["csrf_token"]},
    )
    assert passed.status_code == 200 and passed.json()["method"] == "totp"
    assert later.get("/api/v1/review/applications").status_code == 200


# ---------------------------------------------------------------------------------------------- attacks


def test_wrong_codes_are_refused_audited_and_throttled__R_ACC_1(site: Site) -> None:
    secret, _ = _enrol_page(site, site.client(), "admin-a", T0)
    site.at(T0 + 300)
    c = site.client()
    assert _password(c, "admin-a").status_code == 303
    wrong = _code_for_no_step(secret, T0 + 300)
    for attempt in range(5):
        page = c.get("/login/second-factor")
        res = c.post("/login/second-factor", data={"code": wrong, "csrf": _csrf(page.text)})
        assert res.status_code == 401, (attempt, res.status_code)
        assert "动态验证码或恢复码不正确" in res.text
        assert c.get("/admin").status_code == 303
    # Throttled now: even the right code is refused until the window passes.
    page = c.get("/login/second-factor")
    res = c.post("/login/second-factor", data={"code": otplib_code(secret, T0 + 300), "csrf": _csrf(page.text)})
    assert res.status_code == 429
    assert c.get("/admin").status_code == 303
    failed = _events(site.engine, "auth.second_factor_failed", "admin-a")
    assert [e["payload"]["reason"] for e in failed] == ["invalid"] * 5
    # The API answers the same way.
    api = site.client().post("/api/v1/session", json={"username": "admin-a", "password": PASSWORD, "totp": wrong})
    assert api.status_code == 429 and "set-cookie" not in api.headers


def test_a_replayed_code_is_refused__R_ACC_1(site: Site) -> None:
    """A code accepted once is refused again, even within its 30 seconds, and so is the code of any
    earlier step; the step after (drift ±1) is accepted once."""
    secret, _ = _enrol_page(site, site.client(), "admin-a", T0)  # used T0's step
    site.at(T0 + 5)
    for code in (otplib_code(secret, T0), otplib_code(secret, T0 - 30)):
        c = site.client()
        assert _password(c, "admin-a").status_code == 303
        page = c.get("/login/second-factor")
        res = c.post("/login/second-factor", data={"code": code, "csrf": _csrf(page.text)})
        assert res.status_code == 401 and "已使用过" in res.text
        assert c.get("/admin").status_code == 303
    api = site.client().post(
        "/api/v1/session", json={"username": "admin-a", "password": PASSWORD, "totp": otplib_code(secret, T0)}
    )
    assert api.status_code == 401 and api.json()["error"]["code"] == "second_factor_reused"
    assert "set-cookie" not in api.headers
    # Drift: the next step's code now passes, once.
    nxt = otplib_code(secret, T0 + 30)
    ok = site.client().post("/api/v1/session", json={"username": "admin-a", "password": PASSWORD, "totp": nxt})
    assert ok.status_code == 200 and ok.json()["second_factor"] == "passed"
    replay = site.client().post("/api/v1/session", json={"username": "admin-a", "password": PASSWORD, "totp": nxt})
    assert replay.status_code == 401 and replay.json()["error"]["code"] == "second_factor_reused"
    # Two steps ahead is outside the drift allowed.
    far = site.client().post(
        "/api/v1/session", json={"username": "admin-a", "password": PASSWORD, "totp": otplib_code(secret, T0 + 90)}
    )
    assert far.status_code == 401 and far.json()["error"]["code"] == "second_factor_invalid"
    reasons = [e["payload"]["reason"] for e in _events(site.engine, "auth.second_factor_failed", "admin-a")]
    assert reasons == ["reused", "reused", "reused", "reused", "invalid"]


def test_a_recovery_code_works_once__R_ACC_1(site: Site) -> None:
    _, codes = _enrol_page(site, site.client(), "admin-a", T0)
    site.at(T0 + 600)
    c = site.client()
    assert _password(c, "admin-a").status_code == 303
    page = c.get("/login/second-factor")
    typed = codes[3].lower().replace("-", " ")  # as people type it
    res = c.post("/login/second-factor", data={"code": typed, "csrf": _csrf(page.text)})
    assert res.status_code == 303 and res.headers["location"] == "/admin"
    assert c.get("/admin").status_code == 200
    [used] = _events(site.engine, "auth.recovery_code_used", "admin-a")
    assert used["payload"]["recovery_codes_left"] == 9
    again = site.client().post("/api/v1/session", json={"username": "admin-a", "password": PASSWORD, "totp": codes[3]})
    assert again.status_code == 401 and again.json()["error"]["code"] == "second_factor_invalid"
    other = site.client().post("/api/v1/session", json={"username": "admin-a", "password": PASSWORD, "totp": codes[4]})
    assert other.status_code == 200 and other.json()["second_factor"] == "passed"


# ---------------------------------------------------------------------------------------------- reset


def test_an_admin_resets_a_colleague_audited_and_they_enrol_again__R_ACC_1(site: Site, ecert: Any) -> None:
    old_secret, _ = _enrol_page(site, site.client(), "rev-zj", T0)
    reviewer = site.client()
    site.at(T0 + 30)
    assert _password(reviewer, "rev-zj").status_code == 303
    page = reviewer.get("/login/second-factor")
    reviewer.post("/login/second-factor", data={"code": otplib_code(old_secret, T0 + 30), "csrf": _csrf(page.text)})
    assert reviewer.get("/review").status_code == 200

    site.app.state.ctx.wall_time = time.time
    admin = signed_in(site.app, "admin-a", PASSWORD)  # enrols through the helper (pyotp, the real clock)
    admin.follow_redirects = False
    staff = admin.get("/admin/staff")
    assert staff.status_code == 200 and 'id="staff-rev-zj"' in staff.text
    # Not without the CSRF token, not one's own, not for a reviewer.
    assert admin.post("/admin/staff/rev-zj/second-factor/reset", data={"csrf": "x"}).status_code == 403
    own = admin.post("/admin/staff/admin-a/second-factor/reset", data={"csrf": _csrf(staff.text)})
    assert own.status_code == 403
    assert reviewer.get("/admin/staff").status_code == 403
    assert reviewer.post("/admin/staff/admin-a/second-factor/reset", data={"csrf": _csrf(page.text)}).status_code == 403
    assert factor_row(site.core, "admin-a").totp_enrolled_at is not None

    res = admin.post("/admin/staff/rev-zj/second-factor/reset", data={"csrf": _csrf(staff.text)})
    assert res.status_code == 303 and res.headers["location"] == "/admin/staff?reset=rev-zj"
    [event] = _events(site.engine, "auth.second_factor_reset", "rev-zj")
    assert event["actor"] == "admin-a" and event["payload"] == {"was_enrolled": True}
    row = factor_row(site.core, "rev-zj")
    assert (row.totp_secret, row.totp_enrolled_at, row.totp_last_step) == (None, None, None)
    # The colleague's session is over; the next sign-in enrols again, with a new secret.
    assert reviewer.get("/review").headers["location"].startswith("/login?")
    c = site.client()
    assert _password(c, "rev-zj").status_code == 303
    page = c.get("/login/second-factor")
    assert 'id="totp-secret"' in page.text and old_secret not in page.text
    site.at(T0 + 60)
    assert (
        c.post(
            "/login/second-factor", data={"code": otplib_code(old_secret, T0 + 60), "csrf": _csrf(page.text)}
        ).status_code
        == 401
    )

    # The CLI resets too (an operator with the database), audited as its actor.
    done = ecert("user", "reset-2fa", "admin-a", "--actor", "ops:li", "--json")
    assert done.exit_code == 0, done.stdout + done.stderr
    assert done.json() == {"username": "admin-a", "reset": True, "was_enrolled": True}
    assert _events(site.engine, "auth.second_factor_reset", "admin-a")[0]["actor"] == "ops:li"
    assert admin.get("/admin").headers["location"].startswith("/login?")
    missing = ecert("user", "reset-2fa", "nobody", "--json")
    assert missing.exit_code == 1 and missing.json()["error"]["code"] == "not_found"
    holder = ecert("user", "reset-2fa", "holder-h", "--json")
    assert holder.exit_code == 2 and holder.json()["error"]["code"] == "bad_input"


# ---------------------------------------------------------------------------------------------- holders, setting


def test_holders_never_see_the_second_factor__R_ACC_1(site: Site) -> None:
    c = site.client()
    res = _password(c, "holder-h")
    assert res.status_code == 303 and res.headers["location"] == "/me"
    assert c.get("/me").status_code == 200
    assert c.get("/login/second-factor").status_code == 403
    assert c.get("/api/v1/session/second-factor").status_code == 403
    api = site.client().post("/api/v1/session", json={"username": "holder-h", "password": PASSWORD})
    assert api.json()["second_factor"] == "not_required"
    assert not _events(site.engine, "auth.second_factor_enrolment_started")


def test_staff_2fa_off_signs_staff_in_with_the_password__R_ACC_1(db_url: str, engine: Engine) -> None:
    site = _site(db_url, engine, staff_2fa=False)
    c = site.client()
    res = _password(c, "admin-a")
    assert res.status_code == 303 and res.headers["location"] == "/admin"
    assert c.get("/admin").status_code == 200
    api = site.client().post("/api/v1/session", json={"username": "rev-zj", "password": PASSWORD})
    assert api.json()["second_factor"] == "not_required"


def test_the_second_factor_page_never_leads_off_site__R_ACC_1(site: Site) -> None:
    c = TestClient(create_app(site.core), follow_redirects=False)
    res = _password(c, "admin-b", next="//evil.example/x")
    assert res.headers["location"] == "/login/second-factor?next=/admin"
    page = c.get("/login/second-factor?next=//evil.example/x")
    assert 'name="next" value="/admin"' in page.text
    assert api_signed_in(c, "admin-b", PASSWORD)  # enrols via the API helper
    done = c.get("/login/second-factor?next=https://evil.example/")
    assert done.status_code == 303 and done.headers["location"] == "/admin"
