"""The holder portal (我的证照) and its API, through the real FastAPI app on SQLite and PostgreSQL:
confirm-then-download (R-USE-1), sealed PDFs that verify (R-DOC-2), earlier downloads with their state
(R-USE-3, R-CHG-1), renewal applications and decisions (R-REN-1, R-REN-4, R-REN-6), refusals in
words (R-USE-4), and a holder seeing only their own registration (R-ACC-1)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from ecert.adapters.db.tables import audit_events, certificates, renewal_applications
from ecert.bootstrap import App
from ecert.domain.errors import EcertError
from ecert.domain.ids import make_uscc
from ecert.domain.rules.renewal import check_renewal_application
from ecert.entrypoints.web.app import create_app
from ecert.services import accounts, changes, issuance, renewal
from ecert.testing import verify_pdf
from helpers_app import DemoEnv, signed_in

TODAY = date(2021, 3, 1)
PASSWORD = "holder-pass-2021"


@pytest.fixture
def env(db_url: str, engine: Engine, tmp_path: Path) -> DemoEnv:
    return DemoEnv.seeded(db_url, engine, tmp_path / "keys", today=TODAY)


def _issuable(core: App) -> list[str]:
    with core.uow() as uow:
        numbers = uow.registry.sample_numbers(40)
    out = []
    for no in numbers:
        try:
            issuance.preview(core.uow(), no, today=core.clock.today(), policy=core.policy)
        except EcertError:
            continue
        out.append(no)
    return out


def _account(core: App, username: str, reg_no: str | None = None, role: str = "holder") -> None:
    accounts.add_user(
        core.uow(),
        username,
        role=role,
        password=PASSWORD,
        registration_no=reg_no,
        province="浙" if role == "reviewer" else None,
        actor="test",
        now=core.clock.now(),
    )


def _client(core: App, username: str | None = None) -> TestClient:
    return TestClient(create_app(core)) if username is None else signed_in(core, username, PASSWORD)


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def _api_csrf(client: TestClient, username: str) -> str:
    res = client.post("/api/v1/session", json={"username": username, "password": PASSWORD})
    assert res.status_code == 200, res.text
    return str(res.json()["csrf_token"])


def _cert_count(core: App) -> int:
    with core.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(certificates)).scalar_one())


def _app_count(core: App) -> int:
    with core.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(renewal_applications)).scalar_one())


def _text(html: str) -> str:
    """What a reader sees: the page without its tags, spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", "", html).split())


def _zh(d: date) -> str:
    return f"{d.year}年{d.month:02d}月{d.day:02d}日"


def _download_form(page: str) -> dict[str, str]:
    """What the browser sends from /me without ticking the box: csrf and the window shown."""
    fields = dict(re.findall(r'<input type="hidden" name="(usage_from|usage_until)" value="([^"]+)"', page))
    return {"csrf": _csrf(page), **fields}


def _confirmed_download(client: TestClient) -> tuple[dict[str, str], httpx.Response]:
    """/me's download form sent with the box ticked: the form and the answer."""
    form = _download_form(client.get("/me").text)
    return form, client.post("/me/download", data={**form, "confirm": "yes"})


@pytest.fixture
def holder(env: DemoEnv) -> tuple[str, TestClient]:
    reg_no = _issuable(env.core)[0]
    _account(env.core, "holder-a", reg_no)
    return reg_no, _client(env.core, "holder-a")


# A holder's download: their registration number, their signed-in client, /me's form and the answer.
Downloaded = tuple[str, TestClient, dict[str, str], httpx.Response]


@pytest.fixture
def downloaded(holder: tuple[str, TestClient]) -> Downloaded:
    """The holder's certificate, downloaded from /me with the box ticked (R-USE-1)."""
    reg_no, client = holder
    return (reg_no, client, *_confirmed_download(client))


# ------------------------------------------------------------------------------------------ /me


def test_me_shows_data_and_the_window_a_download_would_get__R_USE_1_R_USE_2(
    env: DemoEnv, holder: tuple[str, TestClient]
) -> None:
    reg_no, client = holder
    window = issuance.preview(env.core.uow(), reg_no, today=TODAY, policy=env.core.policy)
    page = client.get("/me")
    assert page.status_code == 200
    html = page.text
    assert f"使用有效期 {_zh(window.usage_from)} 至 {_zh(window.usage_until)}" in _text(html)
    assert "我已确认上述使用有效期" in html and 'name="confirm"' in html and "required" in html
    assert _download_form(html) == {
        "csrf": _csrf(html),
        "usage_from": window.usage_from.isoformat(),
        "usage_until": window.usage_until.isoformat(),
    }
    with env.core.uow() as uow:
        reg = uow.registry.get(reg_no)
    assert reg is not None
    assert reg.person.name in html and reg_no in html and reg.employer.name in html
    assert reg.person.id_number not in html  # masked (R-ACC-1, R-DOC-1)
    assert reg.person.id_number[:6] in html and reg.person.id_number[-4:] in html
    assert "尚无下载记录" in html
    api = client.get("/api/v1/me").json()
    assert api["registration_no"] == reg_no and api["refusal"] is None
    assert api["window"]["usage_until"] == window.usage_until.isoformat()
    assert "*" in api["id_number"] and api["id_number"] != reg.person.id_number


def test_download_without_ticking_the_confirmation_issues_nothing__R_USE_1(
    env: DemoEnv, holder: tuple[str, TestClient]
) -> None:
    _, client = holder
    form = _download_form(client.get("/me").text)
    res = client.post("/me/download", data=form)
    assert res.status_code == 409
    assert res.headers["content-type"].startswith("text/html")
    assert "请先确认电子证书的使用有效期" in res.text and "confirmation_required" in res.text
    assert _cert_count(env.core) == 0
    csrf = _api_csrf(client, "holder-a")
    body = {"usage_from": form["usage_from"], "usage_until": form["usage_until"]}
    for payload in (body, {**body, "confirm": False}, {**body, "confirm": None}, {}):
        res = client.post("/api/v1/me/certificates", json=payload, headers={"X-CSRF-Token": csrf})
        assert res.status_code == 409, payload
        assert res.json() == {
            "error": {"code": "confirmation_required", "message": "请先确认电子证书的使用有效期", "rule": "R-USE-1"}
        }
    assert _cert_count(env.core) == 0


def test_download_after_ticking_gives_a_sealed_pdf_that_verifies_valid__R_USE_1_R_DOC_2(
    env: DemoEnv, downloaded: Downloaded
) -> None:
    reg_no, client, form, res = downloaded
    assert res.status_code == 200, res.text[:500]
    assert res.headers["content-type"] == "application/pdf"
    assert res.headers["cache-control"] == "no-store"
    serial = res.headers["x-ecert-serial"]
    assert res.headers["content-disposition"] == f'attachment; filename="ecert-{serial}.pdf"'
    result = verify_pdf(env.core, res.content)
    assert result.status == "valid", result.as_dict()
    assert result.serial == serial and result.registration_no == reg_no
    assert (result.usage_from, result.usage_until) == (
        date.fromisoformat(form["usage_from"]),
        date.fromisoformat(form["usage_until"]),
    )
    with env.core.engine.connect() as conn:
        rec = conn.execute(select(certificates).where(certificates.c.serial == serial)).one()
        events = conn.execute(
            select(audit_events.c.actor, audit_events.c.action).where(audit_events.c.action == "certificate.issue")
        ).all()
        logins = conn.execute(select(func.count()).where(audit_events.c.action == "auth.login")).scalar_one()
    assert rec.confirmed_by == "holder:holder-a"  # who confirmed which window (R-USE-1)
    assert [tuple(e) for e in events] == [("holder:holder-a", "certificate.issue")]  # once, not twice
    assert logins >= 1
    page = client.get("/me").text
    assert serial in page and "有效" in page


def test_api_download_with_confirmation_gives_the_pdf__R_USE_1(env: DemoEnv, holder: tuple[str, TestClient]) -> None:
    _, client = holder
    csrf = _api_csrf(client, "holder-a")
    w = client.get("/api/v1/me").json()["window"]
    res = client.post(
        "/api/v1/me/certificates",
        json={"confirm": True, "usage_from": w["usage_from"], "usage_until": w["usage_until"]},
        headers={"X-CSRF-Token": csrf},
    )
    assert res.status_code == 200 and res.headers["content-type"] == "application/pdf"
    assert verify_pdf(env.core, res.content).status == "valid"
    listed = client.get("/api/v1/me/certificates").json()["certificates"]
    assert [c["serial"] for c in listed] == [res.headers["x-ecert-serial"]]
    assert listed[0]["state"] == "valid" and listed[0]["usage_until"] == w["usage_until"]


def test_a_window_other_than_todays_must_be_confirmed_again__R_USE_1(
    env: DemoEnv, holder: tuple[str, TestClient]
) -> None:
    _, client = holder
    form = _download_form(client.get("/me").text)
    # The page was opened yesterday and submitted after midnight: the window shown is not today's.
    tomorrow = env.at(TODAY + timedelta(days=1))
    late = _client(tomorrow, "holder-a")
    res = late.post("/me/download", data={**form, "csrf": _csrf(late.get("/me").text), "confirm": "yes"})
    assert res.status_code == 409
    assert "使用有效期已变为" in res.text and "请确认新的使用有效期" in res.text
    assert f"使用有效期 {_zh(TODAY + timedelta(days=1))}" in _text(res.text)  # the new window, to confirm
    assert _cert_count(env.core) == 0
    tampered = {**form, "confirm": "yes", "usage_until": "2099-12-31"}
    assert client.post("/me/download", data=tampered).status_code == 409
    csrf = _api_csrf(client, "holder-a")
    res = client.post(
        "/api/v1/me/certificates",
        json={"confirm": True, "usage_from": form["usage_from"]},
        headers={"X-CSRF-Token": csrf},
    )
    assert res.status_code == 409 and res.json()["error"]["code"] == "confirmation_required"
    assert _cert_count(env.core) == 0


def test_earlier_downloads_show_their_state_expired_then_superseded__R_USE_3_R_CHG_1(
    env: DemoEnv, downloaded: Downloaded
) -> None:
    reg_no, client, form, res = downloaded
    serial = res.headers["x-ecert-serial"]
    later = env.at(date.fromisoformat(form["usage_until"]) + timedelta(days=1))
    page = _client(later, "holder-a").get("/me").text
    row = page[page.index(serial) :]
    assert "已过使用期" in row[: row.index("</tr>")]
    changes.change_employer(
        env.core.uow(),
        reg_no,
        name="浙江新聘建设有限公司",
        uscc=make_uscc("330100", "MA2RN7E0K"),
        actor="admin:test",
        now=env.core.clock.now(),
    )
    page = client.get("/me").text
    row = page[page.index(serial) :]
    assert "已被更新" in row[: row.index("</tr>")]
    assert "浙江新聘建设有限公司" in page
    listed = client.get("/api/v1/me/certificates").json()["certificates"]
    assert [(c["serial"], c["state"]) for c in listed] == [(serial, "superseded")]


def test_a_refused_download_is_explained_in_words__R_USE_4(env: DemoEnv, holder: tuple[str, TestClient]) -> None:
    reg_no, client = holder
    changes.revoke(
        env.core.uow(),
        reg_no,
        reason="以欺骗手段取得注册",
        basis="《注册建造师管理规定》第三十三条",
        effective=TODAY.isoformat(),
        actor="admin:test",
        today=TODAY,
        now=env.core.clock.now(),
    )
    page = client.get("/me")
    assert page.status_code == 200
    assert "暂不能下载电子证书" in page.text and "registration_inactive" in page.text
    assert 'action="/me/download"' not in page.text
    api = client.get("/api/v1/me").json()
    assert api["window"] is None and api["refusal"]["code"] == "registration_inactive"
    csrf = _api_csrf(client, "holder-a")
    res = client.post("/api/v1/me/certificates", json={"confirm": True}, headers={"X-CSRF-Token": csrf})
    assert res.status_code == 409 and res.json()["error"]["code"] == "registration_inactive"
    assert _cert_count(env.core) == 0


# ------------------------------------------------------------------------------------------ renewal


def _renewable(env: DemoEnv) -> tuple[str, str, date]:
    """A demo holder, one of their specialties and a day inside its renewal window (R-REN-1)."""
    with env.core.uow() as uow:
        numbers = uow.registry.sample_numbers(40)
        regs = [uow.registry.get(n) for n in numbers]
    for reg in regs:
        assert reg is not None
        for spec in reg.specialties:
            day = spec.valid_until - timedelta(days=5)
            if day < TODAY:
                continue
            try:
                check_renewal_application(reg, [spec.specialty], day, env.core.policy, committed=True)
            except EcertError:
                continue
            return reg.registration_no, spec.specialty, day
    raise AssertionError("no demo holder has a specialty to renew")


def test_renewal_through_the_page_needs_the_commitment__R_REN_1_R_REN_4_R_REN_6(env: DemoEnv) -> None:
    reg_no, specialty, day = _renewable(env)
    core = env.at(day)
    _account(core, "holder-r", reg_no)
    client = _client(core, "holder-r")
    form = client.get("/me/renewal")
    assert form.status_code == 200
    assert "本人承诺已完成继续教育要求" in form.text and specialty in form.text
    csrf = _csrf(form.text)
    res = client.post("/me/renewal", data={"csrf": csrf, "specialty": specialty, "ce_hours": "120"})
    assert res.status_code == 409 and "commitment_required" in res.text
    assert "申请延续注册须对本人完成继续教育情况作出承诺" in res.text
    assert _app_count(core) == 0
    res = client.post("/me/renewal", data={"csrf": csrf, "ce_hours": "120", "commit_ce": "yes"})
    assert res.status_code == 400 and "请至少选择一个注册专业" in res.text
    for bad in ("abc", "¹"):  # "¹" is a digit to isdigit() and a crash to int()
        data = {"csrf": csrf, "specialty": specialty, "ce_hours": bad, "commit_ce": "yes"}
        res = client.post("/me/renewal", data=data)
        assert res.status_code == 400 and "继续教育学时" in res.text
    assert _app_count(core) == 0
    res = client.post(
        "/me/renewal",
        data={"csrf": csrf, "specialty": specialty, "ce_hours": "120", "commit_ce": "yes"},
        follow_redirects=False,
    )
    assert res.status_code == 303 and res.headers["location"].startswith("/me/applications?applied=")
    page = client.get(res.headers["location"]).text
    assert "已提交延续注册申请" in page and specialty in page and "待审核" in page
    assert "120" in page
    # Once decided, the holder sees the decision, its reason and time (R-REN-6).
    app_id = int(res.headers["location"].rsplit("=", 1)[1])
    _account(core, "admin-r", role="admin")
    renewal.decide_renewal(
        core.uow(),
        app_id,
        approve=False,
        reason="继续教育证明材料不全",
        reviewer="admin-r",
        today=day,
        now=core.clock.now(),
        policy=core.policy,
    )
    page = client.get("/me/applications").text
    assert "已驳回" in page and "继续教育证明材料不全" in page and "决定时间" in page
    assert "admin-r" not in page  # the decision, not the reviewer's account


def test_renewal_outside_its_window_is_refused_with_the_reason__R_REN_1(env: DemoEnv) -> None:
    reg_no, specialty, day = _renewable(env)
    early = env.at(day - timedelta(days=60))
    _account(early, "holder-e", reg_no)
    client = _client(early, "holder-e")
    csrf = _csrf(client.get("/me/renewal").text)
    res = client.post("/me/renewal", data={"csrf": csrf, "specialty": specialty, "commit_ce": "yes"})
    assert res.status_code == 409
    assert "outside_renewal_window" in res.text and "延续注册申请须在" in res.text
    assert _app_count(early) == 0


def test_renewal_through_the_api__R_REN_1_R_REN_4(env: DemoEnv) -> None:
    reg_no, specialty, day = _renewable(env)
    core = env.at(day)
    _account(core, "holder-r", reg_no)
    client = _client(core)
    csrf = _api_csrf(client, "holder-r")
    headers = {"X-CSRF-Token": csrf}
    res = client.post("/api/v1/me/applications", json={"specialties": [specialty], "commit_ce": True})
    assert res.status_code == 403 and res.json()["error"]["code"] == "csrf_failed"
    res = client.post("/api/v1/me/applications", json={"specialties": [specialty]}, headers=headers)
    assert res.status_code == 409
    assert res.json()["error"] == {
        "code": "commitment_required",
        "message": "申请延续注册须对本人完成继续教育情况作出承诺",
        "rule": "R-REN-4",
    }
    res = client.post("/api/v1/me/applications", json={"specialties": [specialty], "commit_ce": "yes"}, headers=headers)
    assert res.status_code == 400 and res.json()["error"]["code"] == "bad_input"
    assert _app_count(core) == 0
    res = client.post(
        "/api/v1/me/applications",
        json={"specialties": [specialty], "commit_ce": True, "ce_hours": 120},
        headers=headers,
    )
    assert res.status_code == 201, res.text
    body = res.json()
    assert body["status"] == "pending" and isinstance(body["application_id"], int)
    again = client.post(
        "/api/v1/me/applications", json={"specialties": [specialty], "commit_ce": True}, headers=headers
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "application_pending"
    apps = client.get("/api/v1/me/applications").json()["applications"]
    assert len(apps) == 1
    assert apps[0]["application_id"] == body["application_id"] and apps[0]["status"] == "pending"
    assert apps[0]["ce_hours"] == 120 and apps[0]["committed"] is True
    assert [i["specialty"] for i in apps[0]["specialties"]] == [specialty]


# ------------------------------------------------------------------------------------------ access


def test_a_holder_sees_only_their_own_registration__R_ACC_1(env: DemoEnv) -> None:
    a_no, b_no = _issuable(env.core)[:2]
    _account(env.core, "holder-a", a_no)
    _account(env.core, "holder-b", b_no)
    a, b = _client(env.core, "holder-a"), _client(env.core, "holder-b")
    serials = {}
    for name, client in (("a", a), ("b", b)):
        serials[name] = _confirmed_download(client)[1].headers["x-ecert-serial"]
    with env.core.uow() as uow:
        b_reg = uow.registry.get(b_no)
    assert b_reg is not None
    # There is no parameter to ask for another registration; stray ones are ignored.
    for path in ("/me", f"/me?registration_no={b_no}", "/me/applications", "/me/renewal"):
        page = a.get(path).text
        assert b_no not in page and b_reg.person.name not in page and serials["b"] not in page, path
    assert serials["a"] in a.get(f"/me?registration_no={b_no}").text
    for path in ("/api/v1/me", f"/api/v1/me?registration_no={b_no}", "/api/v1/me/certificates"):
        text = a.get(path).text
        assert b_no not in text and serials["b"] not in text, path
    assert a.get("/api/v1/me").json()["registration_no"] == a_no
    assert [c["serial"] for c in a.get("/api/v1/me/certificates").json()["certificates"]] == [serials["a"]]


def test_state_changing_requests_need_the_csrf_token__R_ACC_1(env: DemoEnv, holder: tuple[str, TestClient]) -> None:
    _, client = holder
    form = _download_form(client.get("/me").text)
    res = client.post("/me/download", data={**form, "csrf": "", "confirm": "yes"})
    assert res.status_code == 403 and "表单已过期" in res.text
    res = client.post("/me/download", data={**form, "csrf": "forged", "confirm": "yes"})
    assert res.status_code == 403
    assert client.post("/me/renewal", data={"specialty": "建筑工程", "commit_ce": "yes"}).status_code == 403
    res = client.post(
        "/api/v1/me/certificates", json={"confirm": True, **{k: form[k] for k in ("usage_from", "usage_until")}}
    )
    assert res.status_code == 403 and res.json()["error"]["code"] == "csrf_failed"
    assert _cert_count(env.core) == 0 and _app_count(env.core) == 0


def test_anonymous_visitors_are_sent_to_sign_in__R_ACC_1(env: DemoEnv) -> None:
    client = _client(env.core)
    for path in ("/me", "/me/renewal", "/me/applications"):
        res = client.get(path, follow_redirects=False)
        assert res.status_code == 303 and res.headers["location"] == f"/login?next={path}"
    assert client.post("/me/download", data={"confirm": "yes"}, follow_redirects=False).status_code == 303
    for method, path in (
        ("GET", "/api/v1/me"),
        ("GET", "/api/v1/me/certificates"),
        ("GET", "/api/v1/me/applications"),
        ("POST", "/api/v1/me/certificates"),
        ("POST", "/api/v1/me/applications"),
    ):
        res = client.request(method, path, json={"confirm": True} if method == "POST" else None)
        assert res.status_code == 401, (method, path)
        assert res.json()["error"]["code"] == "unauthenticated"
    assert _cert_count(env.core) == 0


def test_other_roles_cannot_use_the_holder_portal__R_ACC_1(env: DemoEnv) -> None:
    _account(env.core, "admin-x", role="admin")
    _account(env.core, "reviewer-x", role="reviewer")
    for name in ("admin-x", "reviewer-x"):
        client = _client(env.core, name)
        assert client.get("/me").status_code == 403
        res = client.get("/api/v1/me")
        assert res.status_code == 403 and res.json()["error"] == {
            "code": "forbidden",
            "message": "无权执行此操作",
            "rule": "R-ACC-1",
        }


def test_api_bodies_are_documented_and_bad_ones_are_bad_input(env: DemoEnv, holder: tuple[str, TestClient]) -> None:
    _, client = holder
    schema = client.get("/openapi.json").json()
    assert {"DownloadRequest", "RenewalRequest"} <= set(schema["components"]["schemas"])
    for path in ("/api/v1/me", "/api/v1/me/certificates", "/api/v1/me/applications"):
        assert path in schema["paths"]
    assert "application/pdf" in schema["paths"]["/api/v1/me/certificates"]["post"]["responses"]["200"]["content"]
    csrf = _api_csrf(client, "holder-a")
    res = client.post(
        "/api/v1/me/certificates", json={"confirm": True, "usage_from": "yesterday"}, headers={"X-CSRF-Token": csrf}
    )
    assert res.status_code == 400
    err: dict[str, Any] = res.json()["error"]
    assert err["code"] == "bad_input" and err["details"][0]["column"] == "usage_from"
    assert _cert_count(env.core) == 0


def test_pages_render_in_english_too(env: DemoEnv, holder: tuple[str, TestClient]) -> None:
    _, client = holder
    html = client.get("/me?lang=en").text
    assert "Usage window" in html and "I confirm this usage window" in html
    assert "Apply for renewal" in client.get("/me/renewal").text  # remembered in the cookie
