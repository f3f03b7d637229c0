"""The public pages' first impression, through the real FastAPI app on SQLite and PostgreSQL: both
verdict pages say when the check was made (China time, from the app's clock) and list each check as
passed, failed or not made (R-DOC-4); the PDF upload shows the holder's signature image like the QR
page, for a genuine file only (R-DOC-5); error pages speak in sentences and keep the code small;
``/favicon.ico`` exists and is cached; a failed sign-in keeps the user name, never the password."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from ecert.adapters.clock import Clock
from ecert.bootstrap import App, bootstrap
from ecert.domain.errors import EcertError
from ecert.domain.ids import make_uscc
from ecert.entrypoints.web.app import create_app
from ecert.entrypoints.web.errors import page_error
from ecert.services import accounts, changes
from ecert.testing import issued_sample, token_of
from helpers_app import demo_app, scrape_metrics

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

    def change_employer(self, uscc: str) -> None:
        """The holder moves to another employer (R-CHG-3): the certificate issued is superseded."""
        changes.change_employer(
            self.core.uow(), self.reg_no, name="另一家建筑工程有限公司", uscc=uscc, actor="test",
            now=self.core.clock.now(),
        )  # fmt: skip


@pytest.fixture
def issued(db_url: str, engine: Engine, tmp_path: Path) -> Issued:
    core = demo_app(db_url, engine, tmp_path / "keys", today=TODAY, clock=StoppedClock(fixed_today=TODAY))
    first = next(issued_sample(core, 40, actor="test"), None)
    assert first is not None, "no issuable demo holder"
    no, cert = first
    with core.uow() as uow:
        signature = uow.certificates.images(no)["signature"]
    return Issued(core, no, token_of(cert), cert.pdf, signature)


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


# ------------------------------------------------------------------------------------ verdict pages


def test_both_verdict_pages_say_when_and_what_was_checked__R_DOC_4(issued: Issued) -> None:
    client = issued.client()
    qr = client.get(f"/V/{issued.token}").text  # the raw-ASGI fast path (no cookie, no query)
    pdf = _upload(client, issued.pdf)
    for html in (qr, pdf):
        assert f"验证时间 {SHOWN_AT} (北京时间)" in _text(html)
        assert '<time datetime="2021-03-01T09:02:03+08:00">' in html
    assert _checks(qr) == [
        ("passed", "✓二维码签名有效,未被改动通过"),
        ("passed", "✓由本登记库签发通过"),
        ("passed", "✓为最新证书(未变更、未撤销)通过"),
        ("passed", "✓在使用有效期内通过"),
    ]
    assert [state for state, _ in _checks(pdf)] == ["passed"] * 6
    assert [line for _, line in _checks(pdf)][:3] == [
        "✓电子签章有效通过",
        "✓签章后未被改动通过",
        "✓印章为受信任的住建部印章通过",
    ]
    en = client.get(f"/V/{issued.token}?lang=en").text
    assert f"Checked at {SHOWN_AT} China time (UTC+8)" in _text(en)
    assert ("passed", "✓Inside its usage windowpassed") in _checks(en)


def test_checks_after_a_failure_are_not_checked_not_passed__R_USE_3_R_CHG_1(issued: Issued) -> None:
    later = bootstrap(issued.core.settings, engine=issued.core.engine, keys=issued.core.keys)
    later.clock = StoppedClock(fixed_today=TODAY + timedelta(days=400))  # past the usage window
    html = TestClient(create_app(later)).get(f"/V/{issued.token}").text
    assert "已过使用期" in html
    assert [state for state, _ in _checks(html)] == ["passed", "passed", "passed", "failed"]
    assert _checks(html)[3] == ("failed", "✗在使用有效期内未通过")

    issued.change_employer(make_uscc("330100", "MA2NEW003"))
    html = issued.client().get(f"/V/{issued.token}").text
    assert "已被更新" in html
    assert _checks(html)[2:] == [
        ("failed", "✗为最新证书(未变更、未撤销)未通过"),
        ("skipped", "–在使用有效期内未检查"),  # never reached: not shown as passed
    ]


def test_tampered_upload_marks_the_failing_check_and_shows_no_signature__R_DOC_5(issued: Issued) -> None:
    data = bytearray(issued.pdf)
    data[data.index(b"stream\n") + 40] ^= 0x01  # page content changed after sealing
    html = _upload(issued.client(), bytes(data))
    assert "已被篡改" in html
    assert _checks(html) == [
        ("failed", "✗电子签章有效未通过"),
        ("skipped", "–签章后未被改动未检查"),
        ("skipped", "–印章为受信任的住建部印章未检查"),
        ("skipped", "–由本登记库签发未检查"),
        ("skipped", "–为最新证书(未变更、未撤销)未检查"),
        ("skipped", "–在使用有效期内未检查"),
    ]
    # R-DOC-5 and R-ACC-1: an altered file names a certificate it may not be; it never fetches an image.
    assert "signature.png" not in html and issued.token not in html


def test_a_genuine_upload_shows_the_holders_signature_image_like_the_qr_page__R_DOC_5(issued: Issued) -> None:
    client = issued.client()
    html = _upload(client, issued.pdf)
    m = re.search(r'<img src="(/v/[A-Z2-7]+/signature\.png)"', html)
    assert m, "the upload result shows no signature image"
    assert m.group(1) == f"/v/{issued.token}/signature.png"  # the same image the QR page shows
    image = client.get(m.group(1))
    assert image.status_code == 200 and image.content == issued.signature
    assert f'src="/v/{issued.token}/signature.png"' in client.get(f"/V/{issued.token}").text

    # A superseded certificate is still genuine: the image, as on its QR page (R-CHG-1).
    issued.change_employer(make_uscc("330100", "MA2NEW004"))
    html = _upload(client, issued.pdf)
    assert "已被更新" in html and f"/v/{issued.token}/signature.png" in html


def test_the_api_verdicts_keep_their_keys(issued: Issued) -> None:
    client = issued.client()
    keys = {
        "status", "reasons", "reason_codes", "serial", "registration_no", "usage_from", "usage_until", "checks",
        "current",
    }  # fmt: skip
    token = client.get(f"/api/v1/verify/{issued.token}").json()
    pdf = client.post("/api/v1/verify/pdf", files={"file": ("c.pdf", issued.pdf, "application/pdf")}).json()
    assert set(token) == set(pdf) == keys
    assert pdf["checks"] == dict.fromkeys(pdf["checks"], True)
    assert token["reason_codes"] == pdf["reason_codes"] == ["valid"]  # the code beside its sentence


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


def test_metrics_are_refused_to_the_public_and_served_to_the_scraper(issued: Issued) -> None:
    """Issue "Trust under attack": ``/metrics`` was public. Anyone else gets ecert's 403 page, no
    counter; the configured scraper gets the counters."""
    res = TestClient(create_app(issued.core)).get("/metrics")
    assert res.status_code == 403 and "ecert_http_requests_total" not in res.text
    assert "ecert_http_requests_total" in scrape_metrics(issued.core)
