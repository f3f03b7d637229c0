"""The authority console and its API over HTTP (``TestClient``), on SQLite and PostgreSQL: renewal
review scoped to the reviewer's province (R-REN-6, R-REN-5), registry search, employer change and
revocation (R-CHG-1, R-LAPSE-1), import with the row-level report, the audit log (R-ACC-1), and
access: holders and anonymous callers are refused everywhere (R-ACC-1).

The registry is the DEMO one (40 synthetic holders). "Today" is chosen so that one 浙 holder has a
specialty inside its renewal window, read from ``holder_view``; that holder has applied."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update

from ecert.adapters import keystore
from ecert.adapters.db.tables import audit_events, registrations, renewal_applications
from ecert.bootstrap import App, bootstrap
from ecert.config import Settings
from ecert.domain import merkle
from ecert.domain.ids import make_id_number, make_registration_no, make_uscc
from ecert.domain.model import Gender
from ecert.domain.rules.renewal import renewed_validity_end
from ecert.entrypoints.web.app import create_app
from ecert.services import accounts, demo, registry, renewal
from helpers_app import Served, api_signed_in, pass_second_factor_page, renewable_days
from helpers_audit import tamper
from helpers_cli import COLUMNS

SEED_DAY = date(2021, 3, 1)
PASSWORD = "password-123"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
HEADER = COLUMNS  # the import's required columns
NEW_USCC = make_uscc("330100", "MA2RN7E0K")


@dataclass
class Site(Served):
    today: date
    reg_no: str  # the 浙 holder who applied
    name: str
    specialty: str
    valid_until: str
    birth: date
    application_id: int
    other_reg_no: str  # a 京 holder

    def client(self) -> TestClient:
        return TestClient(self.app, follow_redirects=False)

    def api_login(self, username: str) -> tuple[TestClient, str]:
        """A signed-in client and its CSRF token (``POST /api/v1/session``; staff pass the second factor)."""
        c = self.client()
        return c, api_signed_in(c, username, PASSWORD)


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id at minimal cost: four accounts a test; the default cost is the accounts tests' concern."""
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


def _renewable_specialty(core: App) -> tuple[date, str, str, str]:
    """(a day, registration no., specialty, valid_until): a 浙 specialty ``renewable`` on that day, the
    holder younger than 65 — the earliest such day after the seed day."""
    with core.engine.connect() as conn:
        numbers = conn.execute(
            select(registrations.c.registration_no)
            .where(registrations.c.province_code == "33", registrations.c.status == "active")
            .order_by(registrations.c.registration_no)
        ).scalars()
        numbers = list(numbers)
    found = list(renewable_days(core, numbers, after=SEED_DAY))
    assert found, "the demo registry has no 浙 specialty that becomes renewable"
    return min(found)


@pytest.fixture
def site(db_url: str, engine: Engine, tmp_path: Path) -> Iterator[Site]:
    keys = keystore.key_settings_from_env({"ECERT_KEYS_DIR": str(tmp_path / "keys")})
    seeder = bootstrap(Settings(database_url=db_url, today_override=SEED_DAY), engine=engine, keys=keys)
    keystore.ensure_keys(seeder.keys)
    demo.seed_demo(seeder.uow, 40, seed=2021, today=SEED_DAY, now=seeder.clock.now())
    today, reg_no, specialty, valid_until = _renewable_specialty(seeder)

    core = bootstrap(Settings(database_url=db_url, today_override=today), engine=engine, keys=keys)
    now = core.clock.now()
    for username, role, province, reg in (
        ("rev_zj", "reviewer", "浙", None),
        ("rev_bj", "reviewer", "京", None),
        ("ministry", "admin", None, None),
        ("holder1", "holder", None, reg_no),
    ):
        accounts.add_user(
            core.uow(), username, role=role, password=PASSWORD, province=province, registration_no=reg,
            actor="test", now=now,
        )  # fmt: skip
    app_id = renewal.apply_renewal(
        core.uow(), reg_no, [specialty], committed=True, ce_hours=150, actor="holder1", today=today, now=now,
        policy=core.policy,
    )["application_id"]  # fmt: skip
    with engine.connect() as conn:
        other = conn.execute(
            select(registrations.c.registration_no).where(registrations.c.province_code == "11").limit(1)
        ).scalar_one()
    with core.uow() as uow:
        reg = registry.get_registration(uow, reg_no)
    yield Site(
        core,
        today=today,
        reg_no=reg_no,
        name=reg.person.name,
        specialty=specialty,
        valid_until=valid_until,
        birth=reg.person.birth_date,
        application_id=int(app_id),
        other_reg_no=other,
    )


def csrf_of(html: str) -> str:
    m = CSRF_FIELD.search(html)
    assert m, "no CSRF field on the page"
    return m.group(1)


def app_status(engine: Engine, app_id: int) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(select(renewal_applications.c.status).where(renewal_applications.c.id == app_id)).scalar_one()
        )


def registration_row(engine: Engine, reg_no: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(registrations).where(registrations.c.registration_no == reg_no)).one()


def count_registrations(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(registrations)).scalar_one())


def csv_bytes(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(HEADER)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def import_row(serial: int, **over: str) -> list[str]:
    birth = date(1980, 5, 17)
    row = {
        "registration_no": make_registration_no("浙", "33", 2010, 2012, 90_000 + serial),
        "name": "王建国",
        "gender": "男",
        "birth_date": birth.isoformat(),
        "id_number": make_id_number("330102", birth, serial % 100, Gender.MALE),
        "employer_name": "浙江某建设有限公司",
        "employer_uscc": NEW_USCC,
        "specialty": "建筑工程",
        "valid_until": "2023-06-30",
    }
    row.update(over)
    return [row[c] for c in HEADER]


# ---------------------------------------------------------------------------------------------- R-REN-6 / R-REN-5


def test_provincial_reviewer_sees_pending_application_and_approval_sets_new_validity__R_REN_6_R_REN_5(
    site: Site,
) -> None:
    c = site.client()
    res = c.post("/login", data={"username": "rev_zj", "password": PASSWORD})
    assert res.status_code == 303 and res.headers["location"] == "/login/second-factor?next=/review"
    pass_second_factor_page(c, "rev_zj")

    page = c.get("/review")
    assert page.status_code == 200
    html = page.text
    for shown in (f"#{site.application_id}", site.reg_no, site.name, site.specialty, site.valid_until, "150"):
        assert shown in html
    assert "已承诺" in html and "有效(可申请延续注册)" in html
    expected = renewed_validity_end(site.today, site.birth, site.core.policy).isoformat()
    assert expected in html  # what an approval today would give (R-REN-5)

    res = c.post(f"/review/{site.application_id}", data={"decision": "approve", "reason": "", "csrf": csrf_of(html)})
    assert res.status_code == 303
    assert res.headers["location"] == f"/review?decided={site.application_id}"
    after = c.get(res.headers["location"]).text
    assert "已批准" in after and expected in after
    assert f'id="app-{site.application_id}"' not in after  # no longer pending
    assert app_status(site.engine, site.application_id) == "approved"

    with site.engine.connect() as conn:
        event = conn.execute(
            select(audit_events).where(audit_events.c.action == "renewal.approved").order_by(audit_events.c.id.desc())
        ).first()
    assert event is not None and event.actor == "rev_zj" and event.subject == site.reg_no


def test_reviewer_of_another_province_neither_sees_nor_decides__R_REN_6(site: Site) -> None:
    c, token = site.api_login("rev_bj")
    html = c.get("/review").text
    assert site.reg_no not in html and f'id="app-{site.application_id}"' not in html
    listed = c.get("/api/v1/review/applications").json()["applications"]
    assert site.application_id not in [a["application_id"] for a in listed]

    # Crafting the POST does not help: 403 before anything is decided, page and API alike.
    page = c.post(f"/review/{site.application_id}", data={"decision": "approve", "csrf": csrf_of(html)})
    assert page.status_code == 403
    assert "无权执行此操作" in page.text
    api = c.post(
        f"/api/v1/review/applications/{site.application_id}/decision",
        json={"approve": False, "reason": "越权"},
        headers={"X-CSRF-Token": token},
    )
    assert api.status_code == 403
    assert api.json()["error"]["code"] == "forbidden" and api.json()["error"]["rule"] == "R-REN-6"
    assert app_status(site.engine, site.application_id) == "pending"

    # Nor the 浙 holder's record (R-REN-6); their own province's is fine.
    assert c.get(f"/api/v1/registry/{site.reg_no}").status_code == 403
    assert c.get(f"/api/v1/registry/{site.other_reg_no}").status_code == 200


def test_second_decision_is_refused_as_already_decided__R_REN_6(site: Site) -> None:
    c, token = site.api_login("rev_zj")
    url = f"/api/v1/review/applications/{site.application_id}/decision"
    first = c.post(url, json={"approve": True, "reason": None}, headers={"X-CSRF-Token": token})
    assert first.status_code == 200, first.text
    body = first.json()
    expected = renewed_validity_end(site.today, site.birth, site.core.policy).isoformat()
    assert body == {
        "application_id": site.application_id,
        "status": "approved",
        "specialties": [{"specialty": site.specialty, "valid_until": expected}],
    }

    again = c.post(url, json={"approve": False, "reason": "重复"}, headers={"X-CSRF-Token": token})
    assert again.status_code == 409
    assert again.json()["error"] == {"code": "already_decided", "message": "该申请已作出决定", "rule": "R-REN-6"}

    page = c.post(f"/review/{site.application_id}", data={"decision": "approve", "csrf": token})
    assert page.status_code == 409
    assert "该申请已作出决定" in page.text
    assert app_status(site.engine, site.application_id) == "approved"


def test_rejection_needs_a_reason__R_REN_6(site: Site) -> None:
    c, token = site.api_login("rev_zj")
    page = c.post(f"/review/{site.application_id}", data={"decision": "reject", "reason": "  ", "csrf": token})
    assert page.status_code == 400
    assert "驳回须说明理由" in page.text
    assert f'id="app-{site.application_id}"' in page.text  # still listed, to be decided

    url = f"/api/v1/review/applications/{site.application_id}/decision"
    api = c.post(url, json={"approve": False}, headers={"X-CSRF-Token": token})
    assert api.status_code == 400
    err = api.json()["error"]
    assert err["code"] == "bad_input" and err["details"][0]["column"] == "reason"
    assert app_status(site.engine, site.application_id) == "pending"

    done = c.post(
        f"/review/{site.application_id}", data={"decision": "reject", "reason": "继续教育证明不全", "csrf": token}
    )
    assert done.status_code == 303
    assert "已驳回" in c.get(done.headers["location"]).text
    with site.engine.connect() as conn:
        row = conn.execute(select(renewal_applications).where(renewal_applications.c.id == site.application_id)).one()
    assert (row.status, row.reason, row.decided_by) == ("rejected", "继续教育证明不全", "rev_zj")


def test_malformed_decision_body_is_bad_input_not_422__R_REN_6(site: Site) -> None:
    c, token = site.api_login("rev_zj")
    url = f"/api/v1/review/applications/{site.application_id}/decision"
    for body in ({"reason": "x"}, {"approve": "yes"}, {"approve": True, "extra": 1}):
        res = c.post(url, json=body, headers={"X-CSRF-Token": token})
        assert res.status_code == 400, (body, res.text)
        assert res.json()["error"]["code"] == "bad_input"
    res = c.post(url, content=b"{not json", headers={"X-CSRF-Token": token, "Content-Type": "application/json"})
    assert res.status_code == 400
    assert app_status(site.engine, site.application_id) == "pending"


def test_ministry_sees_every_province_and_filters_by_one__R_REN_6(site: Site) -> None:
    c, _ = site.api_login("ministry")
    marker = f'id="app-{site.application_id}"'
    assert marker in c.get("/review").text
    assert marker in c.get("/review", params={"province": "浙"}).text
    assert marker not in c.get("/review", params={"province": "京"}).text
    assert c.get("/review", params={"province": "火星"}).status_code == 400

    ids = [a["application_id"] for a in c.get("/api/v1/review/applications").json()["applications"]]
    assert site.application_id in ids
    only_bj = c.get("/api/v1/review/applications", params={"province": "11"}).json()
    assert only_bj["applications"] == [] and only_bj["total"] == 0


def test_decision_on_or_after_the_65th_birthday_is_refused_on_the_page__R_REN_5(
    site: Site, db_url: str, tmp_path: Path
) -> None:
    age65 = date.fromisoformat(
        registry.show_holder(site.core.uow(), site.reg_no, today=site.today, policy=site.core.policy)["age65_date"]
    )
    keys = keystore.key_settings_from_env({"ECERT_KEYS_DIR": str(tmp_path / "keys")})
    late = bootstrap(Settings(database_url=db_url, today_override=age65), engine=site.engine, keys=keys)
    c = TestClient(create_app(late), follow_redirects=False)
    token = api_signed_in(c, "rev_zj", PASSWORD)
    html = c.get("/review").text
    assert "已满65周岁,不能批准" in html
    res = c.post(f"/review/{site.application_id}", data={"decision": "approve", "csrf": token})
    assert res.status_code == 409
    assert f"持证人已于 {age65.isoformat()} 年满65周岁" in res.text
    assert app_status(site.engine, site.application_id) == "pending"


# ---------------------------------------------------------------------------------------------- registry


def test_ministry_searches_by_registration_number_name_and_id_number_exact_or_prefix(site: Site) -> None:
    c, _ = site.api_login("ministry")
    row = registration_row(site.engine, site.reg_no)
    for q in (site.reg_no, site.reg_no[:6], row.name, row.name[:1], row.id_number, row.id_number[:10]):
        html = c.get("/admin", params={"q": q}).text
        assert site.reg_no in html, q
        holders = c.get("/api/v1/registry", params={"q": q}).json()["holders"]
        assert site.reg_no in [h["registration_no"] for h in holders], q
    assert c.get("/api/v1/registry", params={"q": "%"}).json()["holders"] == []  # wildcards are literal
    everyone = c.get("/api/v1/registry", params={"q": "浙"}).json()
    assert all(h["registration_no"].startswith("浙") for h in everyone["holders"])

    detail = c.get(f"/admin/holders/{site.reg_no}")
    assert detail.status_code == 200
    assert row.id_number in detail.text and "待审核" in detail.text  # the pending application is listed
    api = c.get(f"/api/v1/registry/{site.reg_no}").json()
    assert api["registration_no"] == site.reg_no and api["applications"][0]["status"] == "pending"
    assert c.get("/api/v1/registry/浙0000000000000000").status_code == 404


def test_employer_change_supersedes_and_revocation_ends_the_registration__R_CHG_1_R_LAPSE_1(site: Site) -> None:
    c, _ = site.api_login("ministry")
    url = f"/admin/holders/{site.reg_no}"
    token = csrf_of(c.get(url).text)
    version = registration_row(site.engine, site.reg_no).data_version

    bad = c.post(f"{url}/employer", data={"name": "新公司", "uscc": "91330100MA2RN7E0K0", "csrf": token})
    assert bad.status_code == 400 and "统一社会信用代码" in bad.text
    assert registration_row(site.engine, site.reg_no).data_version == version

    res = c.post(f"{url}/employer", data={"name": "杭州新建设有限公司", "uscc": NEW_USCC, "csrf": token})
    assert res.status_code == 303 and res.headers["location"].endswith("?done=employer")
    after = registration_row(site.engine, site.reg_no)
    assert (after.employer_name, after.employer_uscc, after.data_version) == (
        "杭州新建设有限公司",
        NEW_USCC,
        version + 1,
    )
    assert "杭州新建设有限公司" in c.get(res.headers["location"]).text

    future = (site.today + timedelta(days=1)).isoformat()
    late = c.post(
        f"{url}/revocation",
        data={"reason": "以欺骗手段取得注册", "basis": "第153号令", "effective": future, "csrf": token},
    )
    assert late.status_code == 400 and "晚于今天" in late.text

    res = c.post(
        f"{url}/revocation",
        data={
            "reason": "以欺骗手段取得注册",
            "basis": "《注册建造师管理规定》第三十三条",
            "effective": site.today.isoformat(),
            "csrf": token,
        },
    )
    assert res.status_code == 303
    row = registration_row(site.engine, site.reg_no)
    assert (row.status, row.status_basis, row.status_effective) == (
        "revoked",
        "《注册建造师管理规定》第三十三条",
        site.today,
    )
    assert "已撤销" in c.get(url).text

    c2, tok2 = site.api_login("ministry")
    again = c2.post(
        f"/api/v1/registry/{site.reg_no}/revocation",
        json={"reason": "x", "basis": "y", "effective": site.today.isoformat()},
        headers={"X-CSRF-Token": tok2},
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "registration_inactive"


def test_api_changes_employer_and_cancels__R_CHG_1_R_LAPSE_1(site: Site) -> None:
    c, token = site.api_login("ministry")
    h = {"X-CSRF-Token": token}
    res = c.post(
        f"/api/v1/registry/{site.other_reg_no}/employer", json={"name": "北京新单位", "uscc": NEW_USCC}, headers=h
    )
    assert res.status_code == 200, res.text
    assert res.json()["changed"] is True and res.json()["employer"] == {"name": "北京新单位", "uscc": NEW_USCC}
    res = c.post(
        f"/api/v1/registry/{site.other_reg_no}/cancellation",
        json={"reason": "本人申请注销", "effective": site.today.isoformat()},
        headers=h,
    )
    assert res.status_code == 200, res.text
    assert res.json()["status"] == "cancelled"
    missing = c.post(f"/api/v1/registry/{site.reg_no}/revocation", json={"reason": "x"}, headers=h)
    assert missing.status_code == 400
    assert {d["column"] for d in missing.json()["error"]["details"]} == {"basis", "effective"}


# ---------------------------------------------------------------------------------------------- import


def test_bad_import_file_lists_every_bad_row_and_imports_nothing(site: Site) -> None:
    c, token = site.api_login("ministry")
    before = count_registrations(site.engine)
    good = import_row(1)
    bad_id = import_row(2, id_number=import_row(2)[4][:-1] + ("0" if import_row(2)[4][-1] != "0" else "1"))
    bad_date = import_row(3, valid_until="2023-13-01")
    data = csv_bytes([good, bad_id, bad_date])

    page = c.post("/admin/import", data={"csrf": token}, files={"file": ("holders.csv", data, "text/csv")})
    assert page.status_code == 400
    html = page.text
    assert "未导入任何数据" in html
    cells = re.findall(r"<tr><td>(\d+)</td><td>([a-z_]*)</td>", html)
    assert ("3", "id_number") in cells and ("4", "valid_until") in cells
    assert all(row != "2" for row, _ in cells)
    assert count_registrations(site.engine) == before

    api = c.post(
        "/api/v1/registry/import", files={"file": ("holders.csv", data, "text/csv")}, headers={"X-CSRF-Token": token}
    )
    assert api.status_code == 400
    details = api.json()["error"]["details"]
    assert {(d["row"], d["column"]) for d in details} >= {(3, "id_number"), (4, "valid_until")}
    assert count_registrations(site.engine) == before

    ok = c.post("/admin/import", data={"csrf": token}, files={"file": ("one.csv", csv_bytes([good]), "text/csv")})
    assert ok.status_code == 200, ok.text
    assert "导入完成" in ok.text and '<dd class="count-imported">1</dd>' in ok.text
    assert count_registrations(site.engine) == before + 1
    again = c.post(
        "/api/v1/registry/import",
        files={"file": ("one.csv", csv_bytes([good]), "text/csv")},
        headers={"X-CSRF-Token": token},
    )
    assert again.status_code == 200
    assert {k: again.json()[k] for k in ("imported", "updated", "rows")} == {"imported": 0, "updated": 0, "rows": 1}


def test_an_import_with_10000_bad_rows_answers_the_first_100_and_the_count(site: Site) -> None:
    """Issue "Trust under attack": 10,000 problems made a 629 KB answer. The web lists the first 100
    (in row order) and ``details_truncated`` counts the rest; nothing is imported."""
    c, token = site.api_login("ministry")
    before = count_registrations(site.engine)
    numbers = [make_registration_no("浙", "33", 2011, 2013, i) for i in range(1, 10_001)]
    data = csv_bytes([import_row(1, registration_no=n, valid_until="2023-13-01") for n in numbers])
    api = c.post(
        "/api/v1/registry/import", files={"file": ("holders.csv", data, "text/csv")}, headers={"X-CSRF-Token": token}
    )
    assert api.status_code == 400 and len(api.content) < 40_000, len(api.content)
    body = api.json()["error"]
    assert len(body["details"]) == 100 and body["details_truncated"] == 9_900
    assert [d["row"] for d in body["details"]] == list(range(2, 102))
    assert "10000" in body["message"]  # the count of every problem, not of those listed
    page = c.post("/admin/import", data={"csrf": token}, files={"file": ("holders.csv", data, "text/csv")})
    assert page.status_code == 400 and len(re.findall(r"<tr><td>\d+</td>", page.text)) <= 100
    assert count_registrations(site.engine) == before


def test_uploaded_file_may_not_point_at_server_files(site: Site) -> None:
    """An uploaded file travels alone: an image path in it would read the server's own files."""
    c, token = site.api_login("ministry")
    header = [*HEADER, "signature_image"]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerow([*import_row(5), "../../../../etc/hostname"])
    res = c.post(
        "/api/v1/registry/import",
        files={"file": ("x.csv", buf.getvalue().encode(), "text/csv")},
        headers={"X-CSRF-Token": token},
    )
    assert res.status_code == 400
    (problem_,) = res.json()["error"]["details"]
    assert (problem_["row"], problem_["column"]) == (2, "signature_image")


# ---------------------------------------------------------------------------------------------- R-ACC-1 audit


def test_audit_page_shows_latest_events_and_an_intact_chain__R_ACC_1(site: Site) -> None:
    c, token = site.api_login("ministry")
    c.post(f"/review/{site.application_id}", data={"decision": "approve", "csrf": token})
    html = c.get("/admin/audit").text
    assert "审计日志完好" in html and "最新签名检查点" in html
    for action in ("auth.login", "renewal.approved", "renewal.apply", "user.add"):
        assert action in html
    api = c.get("/api/v1/audit", params={"limit": 3, "verify": "true"}).json()
    assert api["chain"]["intact"] is True and api["chain"]["first_broken_id"] is None
    assert api["chain"]["problems"] == [] and api["chain"]["size"] == api["chain"]["checkpoint"]["size"] > 0
    # The approval (and the digest of the registration row it rewrote), then the sign-in's second factor.
    assert [e["action"] for e in api["events"]] == ["renewal.approved", "registry.rows", "auth.second_factor_enrolled"]
    older = c.get("/api/v1/audit", params={"limit": 2, "before_id": api["next_before_id"]}).json()
    assert all(e["id"] < api["next_before_id"] for e in older["events"])

    with tamper(site.engine) as conn:
        victim = conn.execute(select(audit_events.c.id).where(audit_events.c.action == "renewal.apply")).scalar_one()
        conn.execute(update(audit_events).where(audit_events.c.id == victim).values(payload=json.dumps({"forged": 1})))
    html = c.get("/admin/audit").text
    assert "审计日志有问题" in html and f"查看第一条异常事件(编号 {victim})" in html and "event_altered" in html
    chain = c.get("/api/v1/audit", params={"verify": "true"}).json()["chain"]
    assert chain["intact"] is False and chain["first_broken_id"] == victim
    assert {p["code"] for p in chain["problems"]} == {"event_altered", "root_mismatch"}


def test_the_checkpoint_is_public_and_proofs_verify__R_ACC_1(site: Site) -> None:
    """``GET /api/v1/audit/checkpoint`` for anyone (the signed note, C2SP); the inclusion proof of an
    event (admin) and the consistency proof between two checkpoints (public) verify against it."""
    c, _ = site.api_login("ministry")
    c.get("/api/v1/audit", params={"verify": "true"})  # sequenced now
    anonymous = site.client()
    first = anonymous.get("/api/v1/audit/checkpoint").json()
    note = anonymous.get("/api/v1/audit/checkpoint", params={"format": "text"}).text
    assert note == first["note"] and note.splitlines()[1] == str(first["size"])
    assert anonymous.get("/api/v1/audit/proof/1").status_code == 401
    c, _ = site.api_login("ministry")  # a sign-in: more events
    c.get("/api/v1/audit", params={"verify": "true"})
    with site.engine.connect() as conn:
        last = conn.execute(select(audit_events.c.id).order_by(audit_events.c.id.desc()).limit(1)).scalar_one()
    proof = c.get(f"/api/v1/audit/proof/{last}").json()
    assert proof["tree_size"] > first["size"]  # the second sign-in's events came after the first checkpoint
    hashes = [bytes.fromhex(h) for h in proof["proof"]]
    root = bytes.fromhex(proof["root_hash"])
    assert merkle.verify_inclusion(
        proof["leaf_index"], proof["tree_size"], bytes.fromhex(proof["leaf_hash"]), hashes, root
    )
    cons = anonymous.get("/api/v1/audit/consistency", params={"first": first["size"]}).json()
    assert cons["second"] == proof["tree_size"]
    old_root = bytes.fromhex(first["root_hash"])
    path = [bytes.fromhex(h) for h in cons["proof"]]
    assert merkle.verify_consistency(first["size"], cons["second"], old_root, root, path)
    assert c.get("/api/v1/audit/proof/999999").status_code == 404


AUDIT_ROW = re.compile(r"<tr(?: class=\"broken\")?>\s*<td>(\d+)</td>")


def _audit_ids(html: str) -> list[int]:
    return [int(i) for i in AUDIT_ROW.findall(html)]


def _audit_link(html: str, rel: str) -> str:
    m = re.search(rf'href="(/admin/audit[^"]*)" rel="{rel}"', html)
    assert m, f"no {rel} link"
    return m.group(1).replace("&amp;", "&")


def test_audit_page_is_paged_50_newest_first_with_details_folded__R_ACC_1(site: Site) -> None:
    """The page (not the API) shows 50 events a page, newest first, with the total and links both
    ways; each event is one line whose details fold out pretty-printed; the chain check comes first."""
    now = site.core.clock.now()
    with site.core.uow() as uow:
        for i in range(120):
            uow.audit.append(
                at=now, actor="test", action="test.event", subject=f"s{i}", payload={"n": i, "tag": "长" * 50}
            )
        uow.commit()
    c, _ = site.api_login("ministry")  # the sign-in is an event too
    with site.engine.connect() as conn:
        every = [int(i) for i in conn.execute(select(audit_events.c.id).order_by(audit_events.c.id.desc())).scalars()]
    total, newest = len(every), every[0]

    first = c.get("/admin/audit").text
    ids = _audit_ids(first)
    assert ids == every[:50]
    assert f"第 1–50 条,共 {total} 条(最新在前)" in first
    assert first.index("审计日志完好") < first.index('<table class="audit"')  # the verdict on the chain first
    assert first.count("<details>") == 50 and 'rel="prev"' not in first
    # Folded: a one-line summary, then the JSON pretty-printed (two-space indent) and the event's hash.
    assert "<summary>{&#34;n&#34;: 119, &#34;tag&#34;: " in first
    assert '<pre class="payload">{\n  &#34;n&#34;: 119,\n  &#34;tag&#34;: ' in first

    second = c.get(_audit_link(first, "next")).text
    assert _audit_ids(second) == every[50:100]
    assert f"第 51–100 条,共 {total} 条" in second
    assert _audit_ids(c.get(_audit_link(second, "prev")).text) == ids  # back to the first page exactly
    oldest = c.get(_audit_link(first, "last")).text
    assert _audit_ids(oldest) == every[-50:] and 'rel="next"' not in oldest

    bad = c.get("/admin/audit", params={"before_id": "99999999999999999999"})  # past any database id
    assert bad.status_code == 400 and "提交的内容有误" in bad.text and "before_id" in bad.text
    api = c.get("/api/v1/audit").json()  # the API keeps its page size and keys
    assert set(api) == {"events", "next_before_id"} and len(api["events"]) == 100
    assert api["events"][0]["id"] == newest and api["next_before_id"] == every[99]


# ---------------------------------------------------------------------------------------------- R-ACC-1 access

PAGES = ["/review", "/admin", "/admin?q=浙", "/admin/holders/{reg}", "/admin/import", "/admin/audit"]
FORMS = ["/review/{app}", "/admin/holders/{reg}/employer", "/admin/holders/{reg}/revocation", "/admin/import"]
API_GET = ["/api/v1/review/applications", "/api/v1/registry?q=浙", "/api/v1/registry/{reg}", "/api/v1/audit"]
API_POST = [
    "/api/v1/review/applications/{app}/decision",
    "/api/v1/registry/{reg}/employer",
    "/api/v1/registry/{reg}/revocation",
    "/api/v1/registry/{reg}/cancellation",
    "/api/v1/registry/import",
]
ADMIN_ONLY = [p for p in PAGES + FORMS + API_GET + API_POST if "/admin" in p or "/registry" in p]


def test_holders_and_anonymous_callers_are_refused_everywhere__R_ACC_1(site: Site) -> None:
    def fill(p: str) -> str:
        return p.format(reg=site.reg_no, app=site.application_id)

    anon = site.client()
    for p in PAGES:
        res = anon.get(fill(p))
        assert res.status_code == 303 and res.headers["location"].startswith("/login"), p
    for p in FORMS:
        assert anon.post(fill(p), data={"decision": "approve"}).status_code == 303, p
    for p in API_GET:
        assert anon.get(fill(p)).status_code == 401, p
    for p in API_POST:
        res = anon.post(fill(p), json={"approve": True})
        assert res.status_code == 401 and res.json()["error"]["code"] == "unauthenticated", p

    holder, token = site.api_login("holder1")
    for p in PAGES:
        assert holder.get(fill(p)).status_code == 403, p
    for p in FORMS:
        assert holder.post(fill(p), data={"decision": "approve", "csrf": token}).status_code == 403, p
    for p in API_GET:
        res = holder.get(fill(p))
        assert res.status_code == 403 and res.json()["error"]["code"] == "forbidden", p
    for p in API_POST:
        assert holder.post(fill(p), json={"approve": True}, headers={"X-CSRF-Token": token}).status_code == 403, p
    assert app_status(site.engine, site.application_id) == "pending"


def test_reviewers_are_refused_the_ministry_console__R_ACC_1(site: Site) -> None:
    c, token = site.api_login("rev_zj")
    for p in ADMIN_ONLY:
        url = p.format(reg=site.reg_no, app=site.application_id)
        if url == f"/api/v1/registry/{site.reg_no}":
            assert c.get(url).status_code == 200  # their own province's holder
            continue
        res = (
            c.post(url, data={"csrf": token}, headers={"X-CSRF-Token": token}) if p in FORMS + API_POST else c.get(url)
        )
        assert res.status_code == 403, p


def test_every_post_needs_the_session_csrf_token__R_ACC_1(site: Site) -> None:
    c, _ = site.api_login("rev_zj")
    page = c.post(f"/review/{site.application_id}", data={"decision": "approve", "csrf": "forged"})
    assert page.status_code == 403
    api = c.post(f"/api/v1/review/applications/{site.application_id}/decision", json={"approve": True})
    assert api.status_code == 403 and api.json()["error"]["code"] == "csrf_failed"
    assert app_status(site.engine, site.application_id) == "pending"


def test_review_page_in_english_and_without_inline_script(site: Site) -> None:
    c, _ = site.api_login("rev_zj")
    res = c.get("/review", params={"lang": "en"})
    assert "Renewal review" in res.text and "Approve" in res.text
    assert "<script" not in res.text and "style=" not in res.text
    assert "script-src 'self'" in res.headers["content-security-policy"]
