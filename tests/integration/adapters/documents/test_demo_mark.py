"""The DEMO mark and banner (issue 10 "First impressions"): a service that seals with a DEMO key puts
演示证书 DEMO — 非真实证书 / not a real certificate across every certificate it issues — in diagonal
bands over the whole page and in the text layer — and a DEMO banner on every web page, whose footer
then claims no legal force; with a production key, neither. The seal certificate decides
(``App.demo_seal``), on SQLite and PostgreSQL.

The fast writer draws the mark as the ReportLab reference does: test_fast_render.py compares the two
with the mark too (pixels, text, word positions).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
import zxingcpp
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from PIL import Image, ImageChops, ImageStat
from sqlalchemy import Engine

from ecert.adapters import keystore
from ecert.adapters.documents import CertificateRenderer
from ecert.adapters.documents.fast_render import template_for
from ecert.adapters.documents.page import DEMO_MARK, LEFT, QR_SIZE, QR_TOP
from ecert.adapters.signing import pki
from ecert.bootstrap import App, bootstrap
from ecert.config import Settings
from ecert.entrypoints.web.app import create_app
from ecert.services import accounts, verification
from ecert.services.demo import seed_demo
from helpers_documents import QR_TEXT, issue_to_a_demo_holder, pdftotext, photo_jpeg, sample_content, signature_png
from helpers_signing import make_production_like_seal

TODAY = date(2021, 3, 1)
DPI = 100
LEGAL_FORCE = "电子证书与纸质证书具有同等法律效力"


def _keys(tmp_path: Path, kind: str) -> keystore.KeySettings:
    env = {"ECERT_KEYS_DIR": str(tmp_path / "keys")}
    if kind == "production":
        seal = make_production_like_seal(tmp_path / "production")
        env |= {"ECERT_SEAL_KEY": str(seal.key), "ECERT_SEAL_CERT": str(seal.cert), "ECERT_TRUST_ROOTS": str(seal.root)}
    keys = keystore.key_settings_from_env(env)
    keystore.ensure_keys(keys)
    return keys


@pytest.fixture(params=["demo", "production"])
def core(request: pytest.FixtureRequest, db_url: str, engine: Engine, tmp_path: Path) -> App:
    keys = _keys(tmp_path, request.param)
    app = bootstrap(Settings(database_url=db_url, today_override=TODAY), engine=engine, keys=keys)
    seed_demo(app.uow, 20, seed=2021, today=TODAY, now=app.clock.now())
    return app


def _lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def _pixels(pdf: bytes) -> Image.Image:
    image: Image.Image = pdfium.PdfDocument(pdf)[0].render(scale=DPI / 72).to_pil().convert("RGB")
    return image


def _box(left_mm: float, top_mm: float, width_mm: float, height_mm: float) -> tuple[int, int, int, int]:
    px = DPI / 25.4
    return (
        round(left_mm * px),
        round(top_mm * px),
        round((left_mm + width_mm) * px),
        round((top_mm + height_mm) * px),
    )


def _render(demo: bool, **kw: Any) -> bytes:
    return CertificateRenderer(demo=demo, **kw).render(
        sample_content(3), qr_text=QR_TEXT, signature_image=signature_png(), photo=photo_jpeg()
    )


# ---------------------------------------------------------------------------------------------
# Which keys are DEMO keys.


def test_demo_certificates_are_told_by_their_names__R_DOC_2(tmp_path: Path) -> None:
    demo = pki.create_demo_pki(tmp_path / "demo")
    prod = make_production_like_seal(tmp_path / "production")
    assert pki.is_demo_certificate(x509.load_pem_x509_certificate(demo.seal_cert.read_bytes()))
    assert not pki.is_demo_certificate(x509.load_pem_x509_certificate(prod.cert.read_bytes()))
    # Issued by the DEMO root under another name: still a DEMO certificate.
    other = pki.issue_certificate(
        pki.load_demo_root(demo.directory),
        ec.generate_private_key(ec.SECP256R1()).public_key(),
        x509.load_pem_x509_certificate(prod.cert.read_bytes()).subject,
        pki.SEAL_EKUS,
        validity=(demo.not_before, demo.not_after),
    )
    assert pki.is_demo_certificate(other)


def test_the_seal_certificate_decides_not_how_the_key_is_configured__R_DOC_2(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    def demo_seal(env: dict[str, str]) -> bool:
        keys = keystore.key_settings_from_env({"ECERT_KEYS_DIR": str(tmp_path / "keys"), **env})
        app = bootstrap(Settings(database_url=db_url, today_override=TODAY), engine=engine, keys=keys)
        if (tmp_path / "keys" / pki.SEAL_KEY).exists():  # the renderer is told by the composition root
            renderer = app.documents.renderer
            assert isinstance(renderer, CertificateRenderer) and renderer.demo is app.demo_seal
        return app.demo_seal

    assert demo_seal({}) is True  # nothing configured and nothing made yet: `ecert init` will make a DEMO PKI
    keystore.ensure_keys(keystore.key_settings_from_env({"ECERT_KEYS_DIR": str(tmp_path / "keys")}))
    assert demo_seal({}) is True
    demo_files = {
        "ECERT_SEAL_KEY": str(tmp_path / "keys" / pki.SEAL_KEY),
        "ECERT_SEAL_CERT": str(tmp_path / "keys" / pki.SEAL_CERT),
    }
    assert demo_seal(demo_files) is True  # configured like a production key, but a DEMO certificate
    prod = make_production_like_seal(tmp_path / "production")
    assert demo_seal({"ECERT_SEAL_KEY": str(prod.key), "ECERT_SEAL_CERT": str(prod.cert)}) is False


# ---------------------------------------------------------------------------------------------
# The certificate.


def test_an_issued_certificate_carries_the_mark_exactly_when_its_seal_key_is_a_demo_one__R_DOC_2(
    core: App, tmp_path: Path
) -> None:
    cert = issue_to_a_demo_holder(core, 20)
    result = verification.verify_pdf(
        core.uow(), cert.pdf, check_signature=core.signature_checker, keys=core.qr_public_keys,
        today=TODAY, now=core.clock.now(), policy=core.policy,
    )  # fmt: skip
    assert result.status == "valid"  # both kinds of key really seal
    text = pdftotext(cert.pdf, tmp_path)
    if core.keys.is_demo:
        assert core.demo_seal
        for words in ("演示证书", "DEMO", "非真实证书", "not a real certificate"):
            assert words in text
        marks = [line for line in _lines(pdftotext(cert.pdf, tmp_path, "-layout")) if DEMO_MARK in line]
        assert len(marks) == 2, marks  # above and below the frame
    else:
        assert not core.demo_seal
        for words in ("演示", "DEMO", "非真实", "not a real"):
            assert words not in text


def test_the_mark_leaves_the_text_of_every_field_as_it_was__R_DOC_1(tmp_path: Path) -> None:
    """The bands are outlines, not text: only the two lines of the mark are added to the text layer."""
    plain = _lines(pdftotext(_render(False), tmp_path, "-layout"))
    marked = _lines(pdftotext(_render(True), tmp_path, "-layout"))
    assert [line for line in marked if DEMO_MARK not in line] == plain
    assert marked[0].startswith(DEMO_MARK) and marked[-1].startswith(DEMO_MARK)


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "reference"])
def test_the_mark_covers_the_whole_page_and_leaves_the_qr_code_scannable__R_DOC_4(fast: bool) -> None:
    plain, marked = _pixels(_render(False, fast=fast)), _pixels(_render(True, fast=fast))
    diff = ImageChops.difference(plain, marked).convert("L").point(lambda v: 255 if v > 24 else 0)
    # Cut the page into 4 x 6 pieces (52 x 49 mm): every piece shows some of the mark.
    empty = []
    for col in range(4):
        for row in range(6):
            piece = _box(col * 52.5, row * 49.5, 52.5, 49.5)
            if diff.crop(piece).histogram()[255] < 400:
                empty.append((col, row))
    assert not empty, f"pieces of the page without the mark: {empty}"
    # Red ink: where the mark is, green and blue fell much more than red.
    red, green, blue = (
        ImageStat.Stat(ImageChops.subtract(a, b), mask=diff).mean[0]
        for a, b in zip(plain.split(), marked.split(), strict=True)
    )
    assert green > 3 * red and blue > 3 * red, (red, green, blue)
    # The QR code is left as it was, and scans.
    qr = _box(LEFT, QR_TOP, QR_SIZE, QR_SIZE)
    assert diff.crop(qr).getbbox() is None
    assert [x.text for x in zxingcpp.read_barcodes(marked, formats=zxingcpp.BarcodeFormat.QRCode)] == [QR_TEXT]


def test_the_fast_writer_serialises_the_mark_once_per_process() -> None:
    """The mark is part of the fast writer's template (a Form XObject copied as bytes): what each
    certificate adds beyond its template is about as large with the mark as without it."""
    per_document = {}
    for demo in (False, True):
        renderer = CertificateRenderer(demo=demo)
        pdf = renderer.render(sample_content(3), qr_text=QR_TEXT, signature_image=signature_png(), photo=None)
        template = template_for(renderer.fonts, demo).block
        assert pdf.startswith(template)
        per_document[demo] = len(pdf) - len(template)
    assert abs(per_document[True] - per_document[False]) < 100, per_document


# ---------------------------------------------------------------------------------------------
# The web.

PASSWORD = "holder-pass-2021"


def test_every_page_of_a_service_on_demo_keys_shows_the_banner(core: App) -> None:
    with core.uow() as uow:
        reg_no = uow.registry.sample_numbers(1)[0]
    accounts.add_user(
        core.uow(), "h1", role="holder", password=PASSWORD, registration_no=reg_no, province=None,
        actor="test", now=core.clock.now(),
    )  # fmt: skip
    anonymous = TestClient(create_app(core))
    holder = TestClient(create_app(core))
    assert (
        holder.post("/login", data={"username": "h1", "password": PASSWORD}, follow_redirects=False).status_code == 303
    )
    pages = {
        "home": anonymous.get("/"),
        "login": anonymous.get("/login"),
        "verify upload": anonymous.get("/verify"),
        "QR page (fast path)": anonymous.get("/V/NOT-A-TOKEN"),
        "QR page (route)": anonymous.get("/v/NOT-A-TOKEN?lang=en"),
        "wrong password": anonymous.post("/login", data={"username": "h1", "password": "nope"}),
        "holder portal": holder.get("/me"),
        "error page": holder.get("/admin"),
    }
    assert pages["error page"].status_code == 403
    for name, res in pages.items():
        html = res.text
        assert "<footer>" in html, name
        if core.demo_seal:
            banner = "<strong>DEMO</strong>" if '<html lang="en">' in html else "演示系统 DEMO"
            assert 'class="demo-banner"' in html and banner in html, name
            assert LEGAL_FORCE not in html and "same legal force" not in html, name
        else:
            assert "demo-banner" not in html and "演示" not in html and "DEMO" not in html, name
            assert LEGAL_FORCE in html or "same legal force" in html, name
    english = pages["QR page (route)"].text
    assert ("are not real certificates and have no legal force" in english) is core.demo_seal
