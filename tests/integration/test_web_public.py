"""The public pages' first impression, through the real FastAPI app on SQLite and PostgreSQL: both
verdict pages say when the check was made (China time, from the app's clock) and list each check as
passed, failed or not made (R-DOC-4); the PDF upload shows the holder's signature image like the QR
page, for a genuine file only (R-DOC-5); error pages speak in sentences and keep the code small;
``/favicon.ico`` exists and is cached; a failed sign-in keeps the user name, never the password."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from ecert.adapters import keystore
from ecert.adapters.clock import Clock
from ecert.bootstrap import App, bootstrap
from ecert.config import Settings
from ecert.domain.errors import EcertError
from ecert.entrypoints.web.app import create_app
from ecert.entrypoints.web.errors import page_error
from ecert.services import accounts, issuance
from ecert.services.demo import seed_demo

TODAY = date(2021, 3, 1)
# 01:02:03 UTC is 09:02:03 China time (R-DATE-1): the pages convert, whatever zone the clock hands over.
CHECKED_AT = datetime(2021, 3, 1, 1, 2, 3, tzinfo=UTC)
SHOWN_AT = "2021-03-01 09:02:03"
PASSWORD = "public-pass-2021"


@dataclass(frozen=True)
class StoppedClock(Clock):
    """The app's clock, stopped at one instant (``today()`` stays the override's date)."""

    at: datetime = CHECKED_AT

    def now(self) -> datetime:
        return self.at


@dataclass
class Issued:
    core: App
    reg_no: str
    token: str
    pdf: bytes
    signature: bytes  # the holder's signature image as stored

    def client(self) -> TestClient:
        return TestClient(create_app(self.core))


def _issue(core: App) -> tuple[str, str, bytes]:
    with core.uow() as uow:
        numbers = uow.registry.sample_numbers(40)
    for no in numbers:
        try:
            cert = issuance.issue(
                core.uow(), no, confirm=True, actor="test", today=TODAY, now=core.clock.now(),
                policy=core.policy, docs=core.documents,
            )  # fmt: skip
        except EcertError:
            continue
        return no, cert.qr.split("/V/", 1)[1], cert.pdf
    raise AssertionError("no issuable demo holder")


@pytest.fixture
def issued(db_url: str, engine: Engine, tmp_path: Path) -> Issued:
    keys = keystore.key_settings_from_env({"ECERT_KEYS_DIR": str(tmp_path / "keys")})
    keystore.ensure_keys(keys)
    core = bootstrap(Settings(database_url=db_url, today_override=TODAY), engine=engine, keys=keys)
    core.clock = StoppedClock(fixed_today=TODAY)
    seed_demo(core.uow, 40, seed=2021, today=TODAY, now=core.clock.now())
    no, token, pdf = _issue(core)
    with core.uow() as uow:
        signature = uow.certificates.images(no)["signature"]
    return Issued(core, no, token, pdf, signature)


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", "", html).split())


def _checks(html: str) -> list[tuple[str, str]]:
    """The verdict page's list of checks: (state, line) in order; state passed, failed or skipped."""
    items = re.findall(r'<li class="check-(passed|failed|skipped)">(.*?)</li>', html, re.S)
    return [(state, _text(body)) for state, body in items]


def _upload(client: TestClient, pdf: bytes) -> str:
    res = client.post("/verify", files={"file": ("c.pdf", pdf, "application/pdf")})
    assert res.status_code == 200, res.text
    return res.text


# ------------------------------------------------------------------------------------------- errors


def test_error_pages_speak_in_sentences_and_keep_the_code_small__R_ACC_1(issued: Issued) -> None:
    accounts.add_user(
        issued.core.uow(), "holder-p", role="holder", password=PASSWORD, registration_no=issued.reg_no,
        province=None, actor="test", now=issued.core.clock.now(),
    )  # fmt: skip
    client = issued.client()
    assert client.post("/login", data={"username": "holder-p", "password": PASSWORD}).status_code == 200
    res = client.get("/admin")
    assert res.status_code == 403
    heading = re.search(r"<h1>(.*?)</h1>", res.text, re.S)
    assert heading and heading.group(1).strip() == "没有访问权限"
    assert "无权执行此操作" in res.text
    # The code and rule appear once, in the small print for support, never as the page's words.
    assert res.text.count("forbidden") == 1 and res.text.count("R-ACC-1") == 1
    small = re.search(r'<p class="support-code"><small>(.*?)</small></p>', res.text, re.S)
    assert small and "forbidden · R-ACC-1" in small.group(1)

    missing = client.get("/no-such-page?lang=en")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "We could not find what you asked for" in missing.text
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}  # the API keeps its body


def test_server_side_messages_stay_off_the_public_page() -> None:
    """keys_missing names a file on the server: the page says the service has a problem, nothing more."""
    body = EcertError("keys_missing", params={"what": "印章私钥", "path": "/srv/keys/seal.pem"}).as_dict()["error"]
    shown = page_error(503, "zh", body)
    assert shown["message"] is None and "/srv/keys" not in repr(shown)
    assert shown["headline"] == "服务暂时不可用" and shown["code"] == "keys_missing"
    refused = page_error(409, "en", EcertError("already_decided").as_dict("en")["error"])
    assert refused["message"] == "The application has already been decided"


# ------------------------------------------------------------------------------------------ favicon


def test_favicon_is_served_and_cached(issued: Issued) -> None:
    client = issued.client()
    ico = client.get("/favicon.ico")
    assert ico.status_code == 200 and ico.headers["content-type"] == "image/x-icon"
    assert ico.content[:4] == b"\x00\x00\x01\x00"  # an ICO directory
    max_age = re.search(r"max-age=(\d+)", ico.headers["cache-control"])
    assert max_age and int(max_age.group(1)) >= 86400 and "public" in ico.headers["cache-control"]
    again = client.get("/favicon.ico", headers={"If-None-Match": ico.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    svg = client.get("/favicon.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.content.startswith(b"<svg") and "max-age" in svg.headers["cache-control"]
    assert '<link rel="icon" href="/favicon.svg"' in client.get("/").text


# ------------------------------------------------------------------------------------------- sign-in


def test_a_wrong_password_keeps_the_user_name_never_the_password(issued: Issued) -> None:
    client = issued.client()
    name, secret = 'x"><script>alert(1)</script>&', "wrong-Pa55word!"
    res = client.post("/login", data={"username": name, "password": secret})
    assert res.status_code == 401
    field = re.search(r'<input name="username"[^>]*>', res.text)
    assert field and 'value="x&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;"' in field.group(0)
    assert "<script>" not in res.text and secret not in res.text
    password = re.search(r'<input name="password"[^>]*>', res.text)
    assert password and "value=" not in password.group(0) and "autofocus" in password.group(0)
    assert 'value=""' in client.get("/login").text  # a fresh form is empty
