"""The national format on the web (R-DOC-6), through the real FastAPI app on SQLite and PostgreSQL.

A holder chooses PDF or OFD on ``/me`` (PDF by default) and gets the OFD sealed with the SM2 electronic
seal from the same one issuance a PDF download is (confirmation, record, audit event: R-USE-1); the
API takes ``?format=ofd``. The OFD verifies valid through ``verify_pdf`` and the upload page, with the
PDF's statuses: one changed byte of the page's Content.xml is ``tampered``, a zip bomb, an unreadable
package or a file of neither format ``indeterminate`` with its reason, never a server error. A
deployment with a real PDF seal and no SM2 seal offers the OFD disabled, with the reason, and refuses
it in words (``ofd_unavailable``) while its PDFs download as before; a missing SM2 key file keeps its
path off the holder's page."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import date
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from ecert.adapters import keystore
from ecert.adapters.db.tables import audit_events, certificates
from ecert.bootstrap import App, bootstrap
from ecert.config import Settings
from ecert.domain.errors import EcertError
from ecert.entrypoints.web.app import create_app
from ecert.services import accounts, issuance
from ecert.testing import verify_pdf
from helpers_app import DemoEnv, scrape_metrics, signed_in
from helpers_documents import package_files, with_escaping_path, zip_bomb
from helpers_signing import make_production_like_seal

TODAY = date(2021, 3, 1)
PASSWORD = "holder-ofd-2021"
CONTENT_XML = "Doc_0/Pages/Page_0/Content.xml"


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


@pytest.fixture
def env(db_url: str, engine: Engine, tmp_path: Path) -> DemoEnv:
    return DemoEnv.seeded(db_url, engine, tmp_path / "keys", today=TODAY)


def _issuable(core: App) -> str:
    with core.uow() as uow:
        numbers = uow.registry.sample_numbers(40)
    for no in numbers:
        try:
            issuance.preview(core.uow(), no, today=core.clock.today(), policy=core.policy)
        except EcertError:
            continue
        return no
    raise AssertionError("no demo holder can download on the test day")


@pytest.fixture
def reg_no(env: DemoEnv) -> str:
    """A holder who can download today, with the account ``holder-o``."""
    no = _issuable(env.core)
    accounts.add_user(
        env.core.uow(), "holder-o", role="holder", password=PASSWORD, registration_no=no, province=None,
        actor="test", now=env.core.clock.now(),
    )  # fmt: skip
    return no


def _other_keys(env: DemoEnv, tmp_path: Path, **sm2: str) -> App:
    """The same registry served with a production-like PDF seal and, unless ``sm2`` names its files,
    no SM2 seal (the deployment issues no OFD: it never seals with DEMO SM2 keys)."""
    seal = make_production_like_seal(tmp_path / "production")
    keys = keystore.key_settings_from_env(
        {
            "ECERT_KEYS_DIR": str(tmp_path / "production-keys"),
            "ECERT_SEAL_KEY": str(seal.key),
            "ECERT_SEAL_CERT": str(seal.cert),
            "ECERT_TRUST_ROOTS": str(seal.root),
            **sm2,
        }
    )
    keystore.ensure_keys(keys)
    return bootstrap(Settings(database_url=env.db_url, today_override=TODAY), engine=env.engine, keys=keys)


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def _form(page: str, file_format: str | None) -> dict[str, str]:
    """/me's download form as the browser sends it with the box ticked and ``file_format`` chosen."""
    fields = dict(re.findall(r'<input type="hidden" name="(usage_from|usage_until)" value="([^"]+)"', page))
    chosen = {} if file_format is None else {"format": file_format}
    return {"csrf": _csrf(page), **fields, "confirm": "yes", **chosen}


def _download(client: TestClient, file_format: str | None) -> httpx.Response:
    return client.post("/me/download", data=_form(client.get("/me").text, file_format))


def _radio(html: str, value: str) -> str:
    m = re.search(rf'<input type="radio" name="format" value="{value}"[^>]*>', html)
    assert m, f"no {value} choice on the page"
    return m.group(0)


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _cert_count(core: App) -> int:
    with core.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(certificates)).scalar_one())


def _issue_events(core: App) -> list[tuple[str, dict[str, object]]]:
    with core.engine.connect() as conn:
        rows = conn.execute(
            select(audit_events.c.actor, audit_events.c.payload).where(audit_events.c.action == "certificate.issue")
        ).all()
    return [(r.actor, json.loads(r.payload)) for r in rows]


def _upload(client: TestClient, data: bytes, name: str = "c.ofd") -> str:
    res = client.post("/verify", files={"file": (name, data, "application/ofd")})
    assert res.status_code == 200, res.text[:500]
    return res.text


def _status(html: str) -> str:
    m = re.search(r'data-status="([a-z_]+)"', html)
    assert m, "no verdict on the page"
    return m.group(1)


def _rezip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return out.getvalue()


def _one_byte_changed(package: bytes) -> bytes:
    """The package with one digit of the page's text changed in Content.xml, zipped again."""
    files = package_files(package)
    content = bytearray(files[CONTENT_XML])
    m = re.search(rb"<ofd:TextCode[^>]*>[^<]*?([0-9])", bytes(content))
    assert m, "no digit in the page's text"
    i = m.start(1)
    content[i] = ord("0") + (content[i] - ord("0") + 1) % 10
    files[CONTENT_XML] = bytes(content)
    return _rezip(files)


# ------------------------------------------------------------------------------------------ /me


def test_the_download_form_offers_pdf_or_ofd_pdf_first__R_DOC_6(env: DemoEnv, reg_no: str) -> None:
    client = signed_in(env.core, "holder-o", PASSWORD)
    html = client.get("/me").text
    assert "文件格式" in html and "OFD(国家电子证照格式)" in html
    assert " checked" in _radio(html, "pdf") and " checked" not in _radio(html, "ofd")
    assert "disabled" not in _radio(html, "ofd")  # the DEMO keys include a DEMO SM2 seal
    assert html.index('value="pdf"') < html.index('value="ofd"')
    en = client.get("/me?lang=en").text
    assert "File format" in en and "OFD (the national e-licence format)" in en


def test_a_holder_downloads_the_ofd_from_one_issuance_and_it_verifies_valid__R_DOC_6_R_USE_1(
    env: DemoEnv, reg_no: str
) -> None:
    client = signed_in(env.core, "holder-o", PASSWORD)
    res = _download(client, "ofd")
    assert res.status_code == 200, res.text[:500]
    assert res.headers["content-type"] == "application/ofd"
    assert res.headers["cache-control"] == "no-store"
    serial = res.headers["x-ecert-serial"]
    assert res.headers["content-disposition"] == f'attachment; filename="ecert-{serial}.ofd"'
    assert res.content.startswith(b"PK\x03\x04") and "OFD.xml" in package_files(res.content)
    result = verify_pdf(env.core, res.content)
    assert result.status == "valid", result.as_dict()
    assert (result.serial, result.registration_no) == (serial, reg_no)
    # One issuance: one record, one audit event, confirmed by the holder (R-USE-1).
    assert _cert_count(env.core) == 1
    [(actor, payload)] = _issue_events(env.core)
    assert actor == "holder:holder-o" and payload["formats"] == ["ofd"] and payload["serial"] == serial
    # The upload page says the same, with the holder's signature image (R-DOC-5), as for a PDF.
    html = _upload(TestClient(create_app(env.core)), res.content)
    assert _status(html) == "valid" and "有效" in _text(html)
    assert re.search(r'<img src="/v/[A-Z2-7]+/signature\.png"', html)
    assert serial in client.get("/me").text


def test_the_default_and_pdf_downloads_are_the_pdf_as_before__R_DOC_6(env: DemoEnv, reg_no: str) -> None:
    client = signed_in(env.core, "holder-o", PASSWORD)
    for chosen in (None, "pdf"):
        res = _download(client, chosen)
        assert res.status_code == 200, res.text[:500]
        assert res.headers["content-type"] == "application/pdf" and res.content.startswith(b"%PDF")
        serial = res.headers["x-ecert-serial"]
        assert res.headers["content-disposition"] == f'attachment; filename="ecert-{serial}.pdf"'
        assert verify_pdf(env.core, res.content).status == "valid"
    assert [p.get("formats") for _, p in _issue_events(env.core)] == [None, None]  # the PDF payload as it was


def test_an_unknown_format_issues_nothing__R_DOC_6(env: DemoEnv, reg_no: str) -> None:
    client = signed_in(env.core, "holder-o", PASSWORD)
    res = _download(client, "docx")
    assert res.status_code == 400 and res.headers["content-type"].startswith("text/html")
    assert "未知的文件格式" in res.text and "bad_input" in res.text
    assert _cert_count(env.core) == 0


def test_without_an_sm2_seal_the_ofd_is_offered_disabled_and_refused_in_words__R_DOC_6(
    env: DemoEnv, reg_no: str, tmp_path: Path
) -> None:
    core = _other_keys(env, tmp_path)
    client = signed_in(core, "holder-o", PASSWORD)
    html = client.get("/me").text
    assert "disabled" in _radio(html, "ofd") and " checked" in _radio(html, "pdf")
    assert "暂不可用" in html and "未配置 SM2 电子印章" in html and "ofd_unavailable" in html
    res = _download(client, "ofd")  # sent anyway (an old page, a hand-made form): refused, never a 500
    assert res.status_code == 409 and res.headers["content-type"].startswith("text/html")
    assert "未配置 SM2 电子印章,无法签发 OFD 版证书" in res.text and "ofd_unavailable" in res.text
    assert "disabled" in _radio(res.text, "ofd")
    assert _cert_count(core) == 0
    pdf = _download(client, "pdf")  # the PDF downloads as before, sealed with the configured seal
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert verify_pdf(core, pdf.content).status == "valid"
    api, headers, body = _api(core)
    res = api.post("/api/v1/me/certificates?format=ofd", json=body, headers=headers)
    assert res.status_code == 409 and res.json()["error"]["code"] == "ofd_unavailable"
    assert _cert_count(core) == 1
    assert "Not available: No SM2 electronic seal is configured" in _text(client.get("/me?lang=en").text)


def test_a_missing_sm2_key_file_keeps_its_path_off_the_holders_page__R_DOC_6(
    env: DemoEnv, reg_no: str, tmp_path: Path
) -> None:
    missing = tmp_path / "secret-place" / "sm2-key.pem"
    core = _other_keys(
        env, tmp_path, ECERT_SM2_SEAL_KEY=str(missing), ECERT_SM2_SEAL_CERT=str(missing.with_name("c.pem")),
        ECERT_SM2_SEAL=str(missing.with_name("s.esl")),
    )  # fmt: skip
    client = signed_in(core, "holder-o", PASSWORD)
    html = client.get("/me").text
    assert "disabled" in _radio(html, "ofd") and "keys_missing" in html
    assert "secret-place" not in html
    res = _download(client, "ofd")
    assert res.status_code == 503 and "keys_missing" in res.text and "secret-place" not in res.text
    assert "服务暂时不可用" in res.text
    assert _cert_count(core) == 0


# ------------------------------------------------------------------------------------------ API


def _api(core: App) -> tuple[TestClient, dict[str, str], dict[str, object]]:
    client = TestClient(create_app(core))
    res = client.post("/api/v1/session", json={"username": "holder-o", "password": PASSWORD})
    assert res.status_code == 200, res.text
    w = client.get("/api/v1/me").json()["window"]
    body = {"confirm": True, "usage_from": w["usage_from"], "usage_until": w["usage_until"]}
    return client, {"X-CSRF-Token": res.json()["csrf_token"]}, body


def test_the_api_issues_the_ofd_with_format_ofd__R_DOC_6(env: DemoEnv, reg_no: str) -> None:
    client, headers, body = _api(env.core)
    res = client.post("/api/v1/me/certificates", params={"format": "ofd"}, json=body, headers=headers)
    assert res.status_code == 200, res.text[:500]
    assert res.headers["content-type"] == "application/ofd"
    serial = res.headers["x-ecert-serial"]
    assert res.headers["content-disposition"] == f'attachment; filename="ecert-{serial}.ofd"'
    assert verify_pdf(env.core, res.content).status == "valid"
    listed = client.get("/api/v1/me/certificates").json()["certificates"]
    assert [c["serial"] for c in listed] == [serial]
    for bad in ("xml", "PDF", ""):
        res = client.post("/api/v1/me/certificates", params={"format": bad}, json=body, headers=headers)
        assert res.status_code == 400, bad
        assert res.json()["error"]["code"] == "bad_input"
    assert _cert_count(env.core) == 1
    res = client.post("/api/v1/me/certificates", json=body, headers=headers)  # no format: the PDF
    assert res.status_code == 200 and res.headers["content-type"] == "application/pdf"


def test_the_openapi_document_names_the_format_and_both_media_types__R_DOC_6(env: DemoEnv) -> None:
    op = TestClient(create_app(env.core)).get("/openapi.json").json()["paths"]["/api/v1/me/certificates"]["post"]
    [param] = [p for p in op["parameters"] if p["name"] == "format"]
    assert param["in"] == "query" and not param.get("required", False)
    assert param["schema"]["enum"] == ["pdf", "ofd"] and param["schema"]["default"] == "pdf"
    assert set(op["responses"]["200"]["content"]) == {"application/pdf", "application/ofd"}


# ------------------------------------------------------------------------------------------ /verify


@pytest.fixture
def ofd(env: DemoEnv, reg_no: str) -> bytes:
    issued = issuance.issue(
        env.core.uow(), reg_no, confirm=True, actor="test", today=TODAY, now=env.core.clock.now(),
        policy=env.core.policy, docs=env.core.documents, formats=("ofd",),
    )  # fmt: skip
    assert issued.ofd is not None and issued.pdf is None
    return issued.ofd


def test_the_upload_page_takes_an_ofd__R_DOC_6(env: DemoEnv) -> None:
    html = TestClient(create_app(env.core)).get("/verify").text
    assert "PDF 或 OFD 文件" in html
    m = re.search(r'<input type="file" name="file" accept="([^"]+)"', html)
    assert m and ".ofd" in m.group(1).split(",") and "application/pdf" in m.group(1).split(",")


def test_uploaded_ofds_get_the_pdfs_statuses_and_reasons_never_a_500__R_DOC_6(env: DemoEnv, ofd: bytes) -> None:
    client = TestClient(create_app(env.core))
    assert _status(_upload(client, ofd)) == "valid"
    assert _status(_upload(client, _rezip(package_files(ofd)))) == "valid"  # zipped again, unchanged: still valid
    cases = {
        "one byte of Content.xml changed": (_one_byte_changed(ofd), "tampered", "signature_broken"),
        "zip bomb": (zip_bomb(), "indeterminate", "package_too_large"),
        "path escaping the package": (with_escaping_path(ofd), "indeterminate", "package_unsafe_path"),
        "a zip that is no OFD": (_rezip({"hello.txt": b"hello"}), "indeterminate", "package_malformed"),
        "neither PDF nor OFD": (b"GIF89a not a certificate", "indeterminate", "not_pdf"),
    }
    for name, (data, status, reason) in cases.items():
        html = _upload(client, data)
        assert _status(html) == status, name
        assert "signature.png" not in html, name  # R-DOC-5: no holder's image for a bad file
        api = client.post("/api/v1/verify/pdf", files={"file": ("c.ofd", data, "application/ofd")})
        assert api.status_code == 200, (name, api.text[:300])
        assert (api.json()["status"], api.json()["reason_codes"]) == (status, [reason]), name
        same = client.post("/api/v1/verify/file", files={"file": ("c.ofd", data, "application/ofd")})
        assert same.json() == api.json(), name
    metrics = scrape_metrics(env.core)
    assert re.search(r'ecert_verifications_total\{kind="ofd",status="valid"\} [1-9]', metrics)
    assert re.search(r'ecert_verifications_total\{kind="ofd",status="tampered"\} [1-9]', metrics)


def test_an_ofd_over_5_mb_is_refused_before_it_is_read__R_DOC_6(env: DemoEnv) -> None:
    client = TestClient(create_app(env.core))
    big = b"PK\x03\x04" + b"\0" * (5 * 1024 * 1024)
    res = client.post("/api/v1/verify/file", files={"file": ("c.ofd", big, "application/ofd")})
    assert res.status_code == 400 and res.json()["error"]["code"] == "bad_input"
    page = client.post("/verify", files={"file": ("c.ofd", big, "application/ofd")})
    assert page.status_code == 400 and "文件超过 5 MB" in page.text
