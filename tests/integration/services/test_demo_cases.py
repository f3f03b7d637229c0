"""The DEMO cases of ``ecert demo`` (issue 10 "First impressions"), on SQLite and PostgreSQL: each
case really is in the state its row of the table claims — checked through the CLI and the web API,
not through the demo's own description —, every case account logs in to its own registration, a
second run changes nothing, and the text output is for people (one DEMO banner, no raw Python
values, the admin's scope)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image, ImageOps
from sqlalchemy import Engine, select

from ecert.adapters import keystore
from ecert.adapters.db.tables import audit_events, certificates, registrations, renewal_applications, users
from ecert.bootstrap import bootstrap
from ecert.config import Settings
from ecert.entrypoints.web.app import create_app
from ecert.services import issuance
from ecert.services.demo import DEMO_PASSWORD
from ecert.services.demo_cases import NEW_EMPLOYER, USERNAMES
from ecert.services.synthetic import CASE_RARE_NAME, DEMO_CASES, case_registration_no
from helpers_app import api_signed_in, otplib_code

TODAY = "2021-09-01"  # after the lapse start (R-REN-3); 浙 is in the pilot rollout
TRANSITIONAL_DAY = "2021-03-01"  # before the transitional deadline 2021-06-30 (R-REN-2)


@pytest.fixture
def demo(ecert: Any) -> dict[str, Any]:
    res = ecert("demo", "--holders", "40", "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout + res.stderr
    out: dict[str, Any] = res.json()
    return out


@pytest.fixture
def web(demo: dict[str, Any], db_url: str, engine: Engine, tmp_path: Path) -> TestClient:
    """The web service over the demo's database and keys (the ``ecert`` fixture works in tmp_path)."""
    keys = keystore.key_settings_from_env({"ECERT_KEYS_DIR": str(tmp_path / "var" / "keys")})
    core = bootstrap(Settings(database_url=db_url, today_override=date.fromisoformat(TODAY)), engine=engine, keys=keys)
    return TestClient(create_app(core), follow_redirects=False)


def case(demo: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in demo["cases"] if c["case"] == name)
    return found


def login(web: TestClient, username: str) -> TestClient:
    """Signed in through the API; the DEMO staff pass their pre-enrolled second factor."""
    api_signed_in(web, username, DEMO_PASSWORD)
    return web


def show(ecert: Any, no: str, today: str = TODAY) -> dict[str, Any]:
    res = ecert("holder", "show", no, "--json", today=today)
    assert res.exit_code == 0, res.stdout
    out: dict[str, Any] = res.json()
    return out


def refusal(res: Any) -> str:
    assert res.exit_code == 1, res.stdout + res.stderr
    return str(res.json()["error"]["code"])


def test_the_demo_has_every_case_with_a_holder_account_and_a_reviewer_of_their_province(
    demo: dict[str, Any],
) -> None:
    assert [c["case"] for c in demo["cases"]] == list(DEMO_CASES)
    for c in demo["cases"]:
        assert c["registration_no"] == case_registration_no(c["case"])
        assert (c["username"], c["password"], c["role"]) == (USERNAMES[c["case"]], DEMO_PASSWORD, "holder")
        assert c["who"] and c["try"]
    # The accounts the browser tests read by role are still there, the reviewer in the cases' province.
    roles = {a["role"]: a for a in demo["accounts"]}
    assert set(roles) == {"holder", "reviewer", "admin"}
    assert roles["reviewer"]["province"] == "浙" == roles["holder"]["registration_no"][0]
    assert demo["holders"] == 40
    assert not set(demo["sample_registration_nos"]) & {c["registration_no"] for c in demo["cases"]}


def test_each_case_account_logs_in_to_its_own_registration__R_ACC_1(demo: dict[str, Any], web: TestClient) -> None:
    for c in demo["cases"]:
        with TestClient(web.app) as client:
            me = login(client, c["username"]).get("/api/v1/me")
            assert me.status_code == 200, me.text
            assert me.json()["registration_no"] == c["registration_no"]


def test_renewal_case_is_pending_in_the_reviewers_queue_and_can_be_approved__R_REN_1_R_REN_6(
    ecert: Any, demo: dict[str, Any], web: TestClient
) -> None:
    c = case(demo, "renewal_pending")
    spec = {s["specialty"]: s for s in show(ecert, c["registration_no"])["specialties"]}[c["specialty"]]
    assert spec["state"] == "renewable"  # inside its renewal window (R-REN-1)
    reviewer = login(web, "demo-reviewer")
    queue = reviewer.get("/api/v1/review/applications").json()["applications"]
    assert len(queue) >= 1
    (mine,) = [a for a in queue if a["application_id"] == c["application_id"]]
    assert mine["registration_no"] == c["registration_no"] and mine["applied_by"] == "demo-renewal"
    page = reviewer.get("/review")
    assert page.status_code == 200 and c["registration_no"] in page.text
    decided = ecert(
        "renewal", "decide", str(c["application_id"]), "--approve", "--reviewer", "demo-reviewer", "--json",
        today=TODAY,
    )  # fmt: skip
    assert decided.exit_code == 0, decided.stdout
    assert decided.json()["specialties"] == [{"specialty": c["specialty"], "valid_until": c["approve_until"]}]


def test_expired_case_has_lapsed_after_the_transitional_period__R_REN_3(ecert: Any, demo: dict[str, Any]) -> None:
    c = case(demo, "specialty_expired")
    no = c["registration_no"]
    states = {s["specialty"]: s for s in show(ecert, no)["specialties"]}
    assert states[c["specialty"]]["state"] == "lapsed" == c["state"]
    assert date.fromisoformat(c["valid_until"]) < date.fromisoformat(TODAY)
    applied = ecert("renewal", "apply", no, "--specialty", c["specialty"], "--commit-ce", "--json", today=TODAY)
    assert refusal(applied) == "specialty_lapsed"
    window = ecert("cert", "preview", no, "--json", today=TODAY)
    assert window.exit_code == 0, window.stdout
    assert c["specialty"] not in {s["specialty"] for s in window.json()["specialties"]}  # R-USE-4


def test_expired_case_may_still_apply_in_the_transitional_period__R_REN_2(ecert: Any) -> None:
    res = ecert("demo", "--holders", "40", "--json", today=TRANSITIONAL_DAY)
    assert res.exit_code == 0, res.stdout + res.stderr
    c = case(res.json(), "specialty_expired")
    assert c["state"] == "expired" and "R-REN-2" in c["who"]
    applied = ecert(
        "renewal", "apply", c["registration_no"], "--specialty", c["specialty"], "--commit-ce", "--json",
        today=TRANSITIONAL_DAY,
    )  # fmt: skip
    assert applied.exit_code == 0, applied.stdout
    assert applied.json()["status"] == "pending"


def test_revoked_case_certificate_verifies_as_revoked__R_LAPSE_1(ecert: Any, demo: dict[str, Any]) -> None:
    c = case(demo, "revoked")
    assert show(ecert, c["registration_no"])["status"] == "revoked"
    v = ecert("verify-qr", c["qr"], "--json", today=TODAY).json()
    assert (v["status"], v["serial"], v["registration_no"]) == ("revoked", c["serial"], c["registration_no"])
    assert refusal(ecert("cert", "preview", c["registration_no"], "--json", today=TODAY)) == "registration_inactive"


def test_superseded_case_certificate_verifies_as_superseded__R_CHG_1(
    ecert: Any, demo: dict[str, Any], tmp_path: Path
) -> None:
    c = case(demo, "superseded")
    name, uscc = NEW_EMPLOYER
    assert show(ecert, c["registration_no"])["employer"] == {"name": name, "uscc": uscc}
    v = ecert("verify-qr", c["qr"], "--json", today=TODAY).json()
    assert (v["status"], v["serial"]) == ("superseded", c["serial"]), v
    assert v["current"]["employer"] == {"name": name, "uscc": uscc}  # R-CHG-3: the registry's current data
    out = tmp_path / "new.pdf"
    new = ecert("cert", "issue", c["registration_no"], "--confirm", "--out", str(out), "--json", today=TODAY)
    assert new.exit_code == 0, new.stdout
    assert ecert("verify", str(out), "--json", today=TODAY).json()["status"] == "valid"


def test_age_65_case_window_ends_on_the_65th_birthday_then_downloads_are_refused__R_DATE_2_R_USE_2(
    ecert: Any, demo: dict[str, Any]
) -> None:
    c = case(demo, "age_65")
    holder = show(ecert, c["registration_no"])
    age65 = date.fromisoformat(holder["age65_date"])
    assert holder["age65_date"] == c["age65_date"]
    today = date.fromisoformat(TODAY)
    assert today < age65 < today + timedelta(days=180) and age65.year == today.year  # turns 65 this year
    window = ecert("cert", "preview", c["registration_no"], "--json", today=TODAY).json()
    assert window["usage_until"] == c["usage_until"] == c["age65_date"]  # capped by the 65th birthday
    on_birthday = ecert("cert", "preview", c["registration_no"], "--json", today=c["age65_date"])
    assert refusal(on_birthday) == "age_limit"  # R-USE-4


def test_rare_name_case_certificate_prints_the_characters__R_DOC_1(
    ecert: Any, demo: dict[str, Any], db_url: str, engine: Engine, tmp_path: Path
) -> None:
    c = case(demo, "rare_name")
    assert c["name"] == CASE_RARE_NAME and c["rare_characters"] == ["\U00020bb7", "\u4dae", "\U0002a6a5"]
    out = tmp_path / "rare.pdf"
    issued = ecert("cert", "issue", c["registration_no"], "--confirm", "--out", str(out), "--json", today=TODAY)
    assert issued.exit_code == 0, issued.stdout
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "pdftotext is missing: run scripts/setup (it installs poppler-utils)"
    text = subprocess.run([pdftotext, str(out), "-"], capture_output=True, text=True, check=True).stdout
    assert CASE_RARE_NAME in text.replace(" ", "").replace("\n", "")
    # The QR text the demo prints for its cases is derived again from the record: the same as issued.
    keys = keystore.key_settings_from_env({"ECERT_KEYS_DIR": str(tmp_path / "var" / "keys")})
    app = bootstrap(Settings(database_url=db_url, today_override=date.fromisoformat(TODAY)), engine=engine, keys=keys)
    with app.uow() as uow:
        record = uow.certificates.get(issued.json()["serial"])
    assert record is not None
    assert issuance.qr_text_of(record, app.documents.qr) == issued.json()["qr"]


def _case_state(engine: Engine) -> dict[str, Any]:
    """Everything of the cases a run could change: registrations, certificates, applications, accounts,
    and the audit events about them."""
    nos = [case_registration_no(c) for c in DEMO_CASES]
    r = registrations
    with engine.connect() as conn:
        regs = conn.execute(
            select(r.c.registration_no, r.c.status, r.c.data_version, r.c.employer_name, r.c.name)
            .where(r.c.registration_no.in_(nos))
            .order_by(r.c.registration_no)
        ).all()
        ids = [row.id for row in conn.execute(select(r.c.id).where(r.c.registration_no.in_(nos)))]
        certs = conn.execute(
            select(certificates.c.serial).where(certificates.c.registration_id.in_(ids)).order_by(certificates.c.serial)
        ).all()
        apps = conn.execute(
            select(renewal_applications.c.id, renewal_applications.c.status).order_by(renewal_applications.c.id)
        ).all()
        accounts = conn.execute(select(users.c.username).order_by(users.c.username)).all()
        events = conn.execute(
            select(audit_events.c.id).where(audit_events.c.subject.in_([*nos, *USERNAMES.values()]))
        ).all()
    return {
        "registrations": [tuple(x) for x in regs],
        "certificates": [tuple(x) for x in certs],
        "applications": [tuple(x) for x in apps],
        "accounts": [tuple(x) for x in accounts],
        "events": len(events),
    }


def test_a_second_demo_run_changes_no_case(ecert: Any, demo: dict[str, Any], engine: Engine) -> None:
    before = _case_state(engine)
    assert len(before["registrations"]) == len(DEMO_CASES) and len(before["certificates"]) == 2
    again = ecert("demo", "--holders", "40", "--json", today=TODAY)
    assert again.exit_code == 0, again.stdout + again.stderr
    assert (again.json()["imported"], again.json()["updated"]) == (0, 0)
    assert again.json()["cases"] == demo["cases"] and again.json()["accounts"] == demo["accounts"]
    assert _case_state(engine) == before
    # Later runs with other holder counts do not touch the cases either, and still list them.
    for holders in ("60", "3"):
        more = ecert("demo", "--holders", holders, "--json", today=TODAY)
        assert more.exit_code == 0, more.stdout + more.stderr
        assert more.json()["cases"] == demo["cases"]
        assert _case_state(engine) == before


def test_demo_text_prints_one_banner_the_provinces_and_a_table_of_whom_to_log_in_as(ecert: Any) -> None:
    res = ecert("demo", "--holders", "40", today=TODAY)
    assert res.exit_code == 0, res.stderr
    text = res.stdout + res.stderr
    assert len(re.findall("not for production", text, re.IGNORECASE)) == 1, text  # the DEMO banner, once
    assert "{'" not in text and "': " not in text, text  # no Python dict
    (provinces,) = [line for line in text.splitlines() if "sample registration numbers" in line]
    assert re.search(r"\((\S+ \d+)(, \S+ \d+)*\):$", provinces), provinces  # e.g. "(京 6, 沪 2):"
    rows = {line.split()[0]: line for line in text.splitlines() if line.startswith("  demo-")}
    assert set(rows) == {"demo-holder", "demo-reviewer", "demo-admin", *USERNAMES.values()}
    assert all(DEMO_PASSWORD in line for line in rows.values())
    assert "全国" in rows["demo-admin"]
    assert "浙" in rows["demo-reviewer"]
    assert CASE_RARE_NAME in rows["demo-rare"]
    assert re.search(r"HTTPS?://\S+/V/[A-Z2-7]+", text)  # the QR links of the revoked and superseded cases
    english = ecert("demo", "--holders", "40", today=TODAY, lang="en")
    assert "nationwide" in english.stdout and "can download today" in english.stdout, english.stdout


def test_demo_json_is_one_object_with_the_cases(ecert: Any) -> None:
    res = ecert("demo", "--holders", "40", "--json", today=TODAY)
    out = json.loads(res.stdout)  # exactly one JSON object on stdout (docs/cli.md)
    assert {"accounts", "cases", "sample_registration_nos", "holders", "qr_base_url"} <= set(out)


def test_a_demo_too_small_for_the_cases_has_none_and_its_holder_count(ecert: Any) -> None:
    res = ecert("demo", "--holders", "3", "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout + res.stderr
    assert (res.json()["holders"], res.json()["cases"]) == (3, [])


def test_in_a_small_demo_the_reviewer_still_reviews_the_cases_province(ecert: Any) -> None:
    """With 10 holders no ordinary 浙 holder may be able to download today; the reviewer must still be
    the one who sees demo-renewal's pending application (R-REN-6)."""
    out = ecert("demo", "--holders", "10", "--json", today=TODAY).json()
    roles = {a["role"]: a for a in out["accounts"]}
    assert roles["reviewer"]["province"] == "浙"


def _terminal_qr(lines: list[str]) -> str:
    """The text of a QR code printed by segno's compact terminal output (two module rows a line: █ both
    light, ▀ upper, ▄ lower), read by zxing-cpp."""
    rows: list[list[int]] = []
    for line in lines:
        rows.append([255 if ch in "█▀" else 0 for ch in line])
        rows.append([255 if ch in "█▄" else 0 for ch in line])
    width = max(len(r) for r in rows)
    image = Image.new("L", (width, len(rows)), 255)
    image.putdata([v for r in rows for v in r + [255] * (width - len(r))])
    image = image.resize((width * 8, len(rows) * 8), Image.Resampling.NEAREST)
    codes = zxingcpp.read_barcodes(image) or zxingcpp.read_barcodes(ImageOps.invert(image))
    assert len(codes) == 1, "no QR code read from the terminal output"
    return str(codes[0].text)


def test_demo_staff_are_pre_enrolled_and_their_authenticator_qr_is_printed__R_ACC_1(
    ecert: Any, demo: dict[str, Any], web: TestClient
) -> None:
    staff = {a["username"]: a for a in demo["accounts"] if a["role"] in ("reviewer", "admin")}
    assert set(staff) == {"demo-reviewer", "demo-admin"}
    assert staff["demo-reviewer"]["totp_secret"] != staff["demo-admin"]["totp_secret"]
    text = ecert("demo", "--holders", "40", today=TODAY).stdout
    lines = text.splitlines()
    for username, account in staff.items():
        secret = account["totp_secret"]
        assert parse_qs(urlparse(account["otpauth_uri"]).query)["secret"] == [secret]
        start = lines.index(f"  {secret}") + 1  # the secret as text, then the QR code under it
        end = next(i for i in range(start, len(lines)) if not set(lines[i]) <= set("█▀▄ "))
        assert _terminal_qr(lines[start:end]) == account["otpauth_uri"], username
        # The printed secret works: otplib's code for it passes the second factor at sign-in.
        res = web.post(
            "/api/v1/session",
            json={"username": username, "password": DEMO_PASSWORD, "totp": otplib_code(secret, time.time())},
        )
        assert res.status_code == 200 and res.json()["second_factor"] == "passed", res.text
    # A DEMO holder has no second factor.
    holder = next(a for a in demo["accounts"] if a["role"] == "holder")
    assert "totp_secret" not in holder
