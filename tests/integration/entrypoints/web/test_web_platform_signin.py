"""Holders sign in with the government service platform (issue 17, R-ACC-1), through the real FastAPI
app on SQLite and PostgreSQL and a real OpenID provider on 127.0.0.1 (tests/idp: panva's
oidc-provider, started by the test): a first sign-in creates or links the holder account, a second
uses the link, an ID number no active registration has gets a clear page, sign-out ends the platform's
session too. A provider of the test's own (helpers_idp.FakeProvider) hands the relying party the ID
tokens a real provider never would: another issuer, another audience, expired, a wrong nonce,
``alg: none``, HMAC, an unknown key. Missing and replayed ``state``, a state carried to another
browser, a code redeemed twice, open redirects through ``next`` and a session fixed before sign-in
are refused too."""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import re
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from sqlalchemy import Engine, select, update

from ecert.adapters.db.sessions import SessionStore
from ecert.adapters.db.tables import audit_events, external_identities, registrations, users
from ecert.adapters.oidc import OidcClient, SignInRefused
from ecert.bootstrap import App, bootstrap, web_parts
from ecert.config import OidcSettings, Settings
from ecert.domain.ids.id_number import id_number_check_char
from ecert.entrypoints.web.app import create_app
from ecert.entrypoints.web.deps import COOKIE
from ecert.entrypoints.web.platform import PRELOGIN_COOKIE
from ecert.services import accounts
from helpers_app import DemoEnv
from helpers_idp import CLIENT_ID, Browser, FakeProvider, Idp, query_of, running_idp

TODAY = date(2021, 3, 1)
NOBODY = "11010119900307493" + id_number_check_char("11010119900307493")
SITE = "http://testserver"


@dataclasses.dataclass
class Holder:
    registration_no: str
    id_number: str
    name: str


@pytest.fixture
def env(db_url: str, engine: Engine, tmp_path: Path) -> DemoEnv:
    return DemoEnv.seeded(db_url, engine, tmp_path / "keys", today=TODAY)


def _holders(core: App, n: int) -> list[Holder]:
    with core.uow() as uow:
        out = []
        for no in uow.registry.sample_numbers(n):
            reg = uow.registry.get(no)
            assert reg is not None
            out.append(Holder(no, reg.person.id_number, reg.person.name))
    return out


@pytest.fixture
def holders(env: DemoEnv) -> list[Holder]:
    return _holders(env.core, 3)


@pytest.fixture
def idp(holders: list[Holder]) -> Iterator[Idp]:
    users = {
        "alice": {"id_number": holders[0].id_number, "name": holders[0].name},
        "bob": {"id_number": holders[1].id_number, "name": holders[1].name},
        "carol": {"id_number": holders[2].id_number, "name": holders[2].name},
        "nobody": {"id_number": NOBODY, "name": "路人甲"},  # a valid ID number no registration has
        "garbled": {"id_number": "11010119900307", "name": "路人乙"},
        "impostor": {"id_number": holders[1].id_number, "name": "冒名者"},
    }
    with running_idp(users, [SITE]) as running:
        yield running


def _core(env: DemoEnv, oidc: OidcSettings) -> App:
    return bootstrap(
        Settings(database_url=env.db_url, today_override=TODAY, oidc=oidc), engine=env.engine, keys=env.keys
    )


def _app(core: App, client: OidcClient | None = None) -> FastAPI:
    web = web_parts(core)
    return create_app(core, dataclasses.replace(web, platform=client) if client else web)


@pytest.fixture
def site(env: DemoEnv, idp: Idp) -> TestClient:
    return TestClient(_app(_core(env, idp.settings())), base_url=SITE)


def _audit(engine: Engine, action: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(audit_events).where(audit_events.c.action == action).order_by(audit_events.c.id))
        return [{**r._mapping, "payload": json.loads(r.payload)} for r in rows]


def _refused_reasons(engine: Engine) -> list[str]:
    return [e["payload"]["reason"] for e in _audit(engine, "auth.platform_refused")]


# ------------------------------------------------------------------ signing in through the real provider


def test_first_platform_sign_in_creates_the_holder_account_and_links_it_R_ACC_1(
    site: TestClient, env: DemoEnv, holders: list[Holder], idp: Idp
) -> None:
    browser = Browser(site)
    authorize = browser.start()
    q = query_of(authorize)
    # Authorization code flow with PKCE (S256), state and nonce (issue 17 item 1).
    assert authorize.startswith(f"{idp.issuer}/auth?")
    assert q["response_type"] == "code" and q["client_id"] == CLIENT_ID
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43
    assert len(q["state"]) >= 32 and len(q["nonce"]) >= 32 and "openid" in q["scope"].split()
    res = browser.callback(browser.sign_in_at_provider(authorize, "alice"))
    assert res.status_code == 303 and res.headers["location"] == "/me", res.text
    me = site.get("/me")
    assert me.status_code == 200 and holders[0].registration_no in me.text

    with env.engine.connect() as conn:
        link = conn.execute(select(external_identities)).one()
        account = conn.execute(select(users).where(users.c.username == link.username)).one()
    assert (link.issuer, link.subject) == (idp.issuer, "alice")
    assert account.role == "holder" and account.registration_no == holders[0].registration_no
    # Only the link is stored: no ID number beside it, and the new account has no usable password.
    assert set(external_identities.c.keys()) == {"issuer", "subject", "username", "linked_at"}
    with env.core.uow() as uow:
        user = uow.users.get(link.username)
    assert user is not None and not accounts.check_password(user, "")
    assert [e["subject"] for e in _audit(env.engine, "auth.platform_link")] == [link.username]
    assert [e["subject"] for e in _audit(env.engine, "user.add")][-1] == link.username
    logins = [e for e in _audit(env.engine, "auth.login") if e["payload"].get("via") == "platform"]
    assert [e["actor"] for e in logins] == [link.username]
    assert "id_number" not in json.dumps([e["payload"] for e in _audit(env.engine, "auth.login")])

    # A second sign-in uses the link: no new account, no new link.
    again = Browser(TestClient(site.app, base_url=SITE)).sign_in("alice")
    assert again.status_code == 303 and again.headers["location"] == "/me"
    assert len(_audit(env.engine, "auth.platform_link")) == 1
    assert len([e for e in _audit(env.engine, "auth.login") if e["payload"].get("via") == "platform"]) == 2


def test_first_platform_sign_in_links_the_registrations_existing_holder_account_R_ACC_1(
    site: TestClient, env: DemoEnv, holders: list[Holder]
) -> None:
    accounts.add_user(
        env.core.uow(), "bob-holder", role="holder", registration_no=holders[1].registration_no,
        password="bob-password-1", actor="test", now=env.core.clock.now(),
    )  # fmt: skip
    res = Browser(site).sign_in("bob", next="/me/applications")
    assert res.status_code == 303 and res.headers["location"] == "/me/applications"
    assert site.get("/api/v1/me").json()["registration_no"] == holders[1].registration_no
    with env.engine.connect() as conn:
        assert conn.execute(select(external_identities.c.username)).scalar_one() == "bob-holder"
        owners = conn.execute(select(users.c.username).where(users.c.registration_no == holders[1].registration_no))
        assert owners.all() == [("bob-holder",)]
    # The password account stays a password account.
    pw = TestClient(site.app, base_url=SITE).post(
        "/login", data={"username": "bob-holder", "password": "bob-password-1"}, follow_redirects=False
    )
    assert pw.status_code == 303


def test_an_id_number_no_registration_has_gets_a_clear_page_not_a_portal_R_ACC_1(
    site: TestClient, env: DemoEnv
) -> None:
    with env.core.uow() as uow:
        assert uow.registry.active_registration_of(NOBODY, besides="") is None
    res = Browser(site).sign_in("nobody")
    assert res.status_code == 403
    assert "没有对应的有效一级建造师注册" in res.text and "使用账号密码登录" in res.text
    assert COOKIE not in site.cookies
    assert site.get("/me", follow_redirects=False).headers["location"].startswith("/login")
    assert _refused_reasons(env.engine) == ["no_registration"]
    with env.engine.connect() as conn:
        assert conn.execute(select(external_identities)).all() == []
    en = Browser(TestClient(site.app, base_url=SITE, cookies={"lang": "en"})).sign_in("nobody")
    assert "No active registration of a first-class constructor matches" in en.text


def test_an_id_number_claim_that_is_not_one_is_refused_R_ACC_1(site: TestClient, env: DemoEnv) -> None:
    res = Browser(site).sign_in("garbled")
    assert res.status_code == 400 and "身份证号无效" in res.text and COOKIE not in site.cookies
    assert _refused_reasons(env.engine) == ["bad_id_number"]


def test_an_inactive_registration_is_no_match_R_ACC_1(site: TestClient, env: DemoEnv, holders: list[Holder]) -> None:
    with env.engine.begin() as conn:
        conn.execute(
            update(registrations)
            .where(registrations.c.registration_no == holders[2].registration_no)
            .values(status="revoked")
        )
    res = Browser(site).sign_in("carol")
    assert res.status_code == 403 and COOKIE not in site.cookies
    assert _refused_reasons(env.engine) == ["no_registration"]


def test_a_verified_name_that_differs_from_the_registrys_is_refused_R_ACC_1(site: TestClient, env: DemoEnv) -> None:
    res = Browser(site).sign_in("impostor")
    assert res.status_code == 400 and "姓名不一致" in res.text and COOKIE not in site.cookies
    assert _refused_reasons(env.engine) == ["name_differs"]


def test_the_login_page_offers_the_platform_only_when_configured(site: TestClient, env: DemoEnv) -> None:
    assert "使用国家政务服务平台账号登录" in site.get("/login").text
    plain = TestClient(_app(_core(env, OidcSettings())), base_url=SITE)
    assert "使用国家政务服务平台账号登录" not in plain.get("/login").text
    assert plain.get("/login/platform", follow_redirects=False).status_code == 404
    assert plain.get("/auth/callback?code=x&state=y", follow_redirects=False).status_code == 404


def test_sign_out_ends_the_platform_session_too_R_ACC_1(site: TestClient, env: DemoEnv, idp: Idp) -> None:
    browser = Browser(site)
    assert browser.sign_in("alice").status_code == 303
    csrf = site.get("/api/v1/me").headers.get("x-csrf-token") or _csrf(site)
    res = site.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    # A page that moves on to the provider by itself (a form may not redirect off the site: CSP form-action).
    assert res.status_code == 200 and COOKIE not in site.cookies
    found = re.search(r'<meta http-equiv="refresh" content="0; url=([^"]+)">', res.text)
    assert found
    location = html.unescape(found.group(1))
    assert f'href="{found.group(1)}"' in res.text
    assert location.startswith(f"{idp.issuer}/session/end?")
    q = query_of(location)
    assert q["post_logout_redirect_uri"] == f"{SITE}/" and q["client_id"] == CLIENT_ID
    assert jwt.decode(q["id_token_hint"], _provider_keys(idp)).claims["sub"] == "alice"
    assert site.get("/me", follow_redirects=False).status_code == 303  # signed out here
    # The provider takes the request (its confirmation form), and signs the person out there.
    page = browser.idp.get(location)
    assert page.status_code == 200 and "logout" in page.text.lower()
    # A password session signs out at home, as before.
    accounts.add_user(
        env.core.uow(), "pw-user", role="admin", password="pw-user-pass", actor="test", now=env.core.clock.now()
    )
    pw = TestClient(site.app, base_url=SITE)
    pw.post("/login", data={"username": "pw-user", "password": "pw-user-pass"})
    out = pw.post("/logout", data={"csrf": _csrf(pw, "/admin")}, follow_redirects=False)
    assert out.headers["location"] == "/"


def _csrf(client: TestClient, page: str = "/me") -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(page).text)
    assert found
    return found.group(1)


def _provider_keys(idp: Idp) -> Any:
    import httpx
    from joserfc.jwk import KeySet

    return KeySet.import_key_set(httpx.get(f"{idp.issuer}/jwks", trust_env=False).json())


# ------------------------------------------------------------------ state, code, redirects, fixation


def test_a_callback_without_state_is_refused_R_ACC_1(site: TestClient, env: DemoEnv) -> None:
    browser = Browser(site)
    back = browser.sign_in_at_provider(browser.start(), "alice")
    q = query_of(back)
    res = site.get("/auth/callback", params={"code": q["code"]}, follow_redirects=False)
    assert res.status_code == 400 and COOKIE not in site.cookies
    assert _refused_reasons(env.engine) == ["missing_state"]


def test_a_replayed_callback_is_refused_its_state_served_once_R_ACC_1(site: TestClient, env: DemoEnv) -> None:
    browser = Browser(site)
    authorize = browser.start()
    prelogin = site.cookies[PRELOGIN_COOKIE]
    back = browser.sign_in_at_provider(authorize, "alice")
    assert browser.callback(back).status_code == 303
    replay = TestClient(site.app, base_url=SITE)
    replay.cookies.set(PRELOGIN_COOKIE, prelogin, path="/auth/callback")
    res = Browser(replay).callback(back)
    assert res.status_code == 400 and COOKIE not in replay.cookies
    assert _refused_reasons(env.engine) == ["unknown_state"]


def test_a_state_carried_to_another_browser_is_refused_R_ACC_1(site: TestClient, env: DemoEnv) -> None:
    """Login CSRF: a sign-in started in the attacker's browser, its callback opened in the victim's."""
    attacker = Browser(site)
    back = attacker.sign_in_at_provider(attacker.start(), "alice")
    victim = TestClient(site.app, base_url=SITE)
    victim.get("/login/platform", follow_redirects=False)  # the victim has a pre-login cookie of their own
    res = Browser(victim).callback(back)
    assert res.status_code == 400 and COOKIE not in victim.cookies
    assert _refused_reasons(env.engine) == ["unknown_state"]


def test_an_authorization_code_is_redeemed_once_R_ACC_1(idp: Idp) -> None:
    client = OidcClient(idp.settings())
    redirect = f"{SITE}/auth/callback"
    auth = client.authorization_request(redirect)
    back = Browser(TestClient(FastAPI())).sign_in_at_provider(auth.url, "alice")
    code = query_of(back)["code"]
    first = client.redeem(code, code_verifier=auth.code_verifier, nonce=auth.nonce, redirect_uri=redirect)
    assert first.subject == "alice" and first.issuer == idp.issuer
    with pytest.raises(SignInRefused) as refused:
        client.redeem(code, code_verifier=auth.code_verifier, nonce=auth.nonce, redirect_uri=redirect)
    assert refused.value.why == "code_refused"
    # Nor without the PKCE verifier the code was bound to.
    auth2 = client.authorization_request(redirect)
    code2 = query_of(Browser(TestClient(FastAPI())).sign_in_at_provider(auth2.url, "alice"))["code"]
    with pytest.raises(SignInRefused):
        client.redeem(code2, code_verifier=auth.code_verifier, nonce=auth2.nonce, redirect_uri=redirect)


OPEN_REDIRECTS = ["//evil.example/", "/\\evil.example", "/\\/evil.example", "https://evil.example/", "/\t/evil.example",
                  "javascript:alert(1)", "\\\\evil.example", " /evil"]  # fmt: skip


@pytest.mark.parametrize("next_", OPEN_REDIRECTS)
def test_next_never_leads_off_the_site_after_platform_sign_in_R_ACC_1(
    site: TestClient, env: DemoEnv, next_: str
) -> None:
    res = Browser(site).sign_in("alice", next=next_)
    assert res.status_code == 303 and res.headers["location"] == "/me"


@pytest.mark.parametrize("next_", OPEN_REDIRECTS)
def test_next_never_leads_off_the_site_after_password_sign_in_R_ACC_1(
    site: TestClient, env: DemoEnv, next_: str
) -> None:
    accounts.add_user(
        env.core.uow(), "pw-holder", role="admin", password="pw-holder-pass", actor="test", now=env.core.clock.now()
    )
    res = site.post(
        "/login", data={"username": "pw-holder", "password": "pw-holder-pass", "next": next_}, follow_redirects=False
    )
    # An admin's password leads home, through the second factor where it is required: never off the site.
    assert res.status_code == 303
    assert res.headers["location"] in ("/admin", "/login/second-factor?next=/admin"), res.headers["location"]
    assert f'value="{next_}"' not in site.get("/login", params={"next": next_}).text or next_ == ""


def test_a_session_fixed_before_sign_in_is_replaced_R_ACC_1(site: TestClient, env: DemoEnv) -> None:
    store = SessionStore(env.engine)
    planted, _ = store.create("someone-else")  # a valid token the attacker knows, set in the victim's browser
    site.cookies.set(COOKIE, planted)
    res = Browser(site).sign_in("alice")
    assert res.status_code == 303
    fresh = res.cookies.get(COOKIE)
    assert fresh and fresh != planted
    assert store.get(planted) is None  # the planted session is gone
    assert store.get(fresh) is not None


# ------------------------------------------------------------------ ID tokens a real provider never sends


@pytest.fixture
def fake() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def fake_site(env: DemoEnv, fake: FakeProvider, holders: list[Holder]) -> TestClient:
    fake.claims = {"sub": "fake-1", "id_number": holders[0].id_number, "name": holders[0].name}
    core = _core(env, fake.settings())
    return TestClient(_app(core, OidcClient(fake.settings(), transport=fake.transport)), base_url=SITE)


def _callback_with(site: TestClient, fake: FakeProvider, token: Any) -> Any:
    """Start a sign-in, then come back with a code the fake provider redeems for ``token`` (a callable
    of the fake, given the nonce of this sign-in)."""
    q = query_of(Browser(site).start())
    fake.nonce = q["nonce"]
    fake.next_id_token = token(fake)
    return site.get("/auth/callback", params={"code": "c0de", "state": q["state"]}, follow_redirects=False)


def _none_token(fake: FakeProvider) -> str:
    def b64(d: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"iss": fake.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 300, "nonce": fake.nonce, **fake.claims}
    return f"{b64({'alg': 'none'})}.{b64(claims)}."


ROGUE = RSAKey.generate_key(2048, parameters={"kid": "platform-1"})
ROGUE_KID = RSAKey.generate_key(2048, parameters={"kid": "rogue-9"})

BAD_TOKENS = {
    "wrong_issuer": lambda f: f.id_token(iss="https://evil.test"),
    "wrong_audience": lambda f: f.id_token(aud="another-client"),
    "wrong_audience_among_several": lambda f: f.id_token(aud=["another-client", CLIENT_ID], azp="another-client"),
    "expired": lambda f: f.id_token(exp=int(time.time()) - 3600, iat=int(time.time()) - 4000),
    "wrong_nonce": lambda f: f.id_token(nonce="not-this-sign-in"),
    "no_nonce": lambda f: f.id_token(nonce=None),
    "alg_none": _none_token,
    "hmac_with_the_client_secret": lambda f: f.id_token(
        header={"alg": "HS256", "kid": "platform-1"}, key=OctKey.import_key(f.settings().client_secret)
    ),
    "unknown_key_same_kid": lambda f: f.id_token(key=ROGUE),
    "unknown_key_id": lambda f: f.id_token(header={"alg": "RS256", "kid": "rogue-9"}, key=ROGUE_KID),
}
EXPECTED_WHY = {
    "wrong_audience_among_several": "wrong_audience", "no_nonce": "wrong_nonce", "alg_none": "bad_alg",
    "hmac_with_the_client_secret": "bad_alg", "unknown_key_same_kid": "bad_signature", "unknown_key_id": "unknown_key",
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_an_id_token_that_fails_a_check_is_refused_R_ACC_1(
    fake_site: TestClient, fake: FakeProvider, env: DemoEnv, case: str
) -> None:
    res = _callback_with(fake_site, fake, BAD_TOKENS[case])
    assert res.status_code == 400, res.text
    assert "政务服务平台登录未完成" in res.text
    assert COOKIE not in fake_site.cookies
    assert _refused_reasons(env.engine) == [EXPECTED_WHY.get(case, case)]
    with env.engine.connect() as conn:
        assert conn.execute(select(external_identities)).all() == []


def test_a_correct_id_token_of_the_fake_provider_signs_in(
    fake_site: TestClient, fake: FakeProvider, holders: list[Holder]
) -> None:
    """The refusals above are for their one defect: the same token without it signs in."""
    res = _callback_with(fake_site, fake, lambda f: f.id_token())
    assert res.status_code == 303 and res.headers["location"] == "/me"
    assert fake_site.get("/api/v1/me").json()["registration_no"] == holders[0].registration_no
    request = fake.token_requests[-1]
    assert request["grant_type"] == "authorization_code" and len(request["code_verifier"]) >= 43
