"""Data after the seal (issue 16 §3): a PDF that goes on after its sealed revision — trailing bytes, an
unsigned incremental update that changes nothing the seal covers — keeps the verdict of its sealed
revision, and says so: the note ``content_after_seal`` after the verdict's reason, in the JSON and on
the result page. An update that does change something stays ``tampered`` (R-DOC-2). SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import date

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from fastapi.testclient import TestClient
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from sqlalchemy import Engine

from ecert.adapters import keystore
from ecert.adapters.qr_token import generate_key
from ecert.adapters.signing import pki
from ecert.bootstrap import App, bootstrap
from ecert.config import Settings
from ecert.entrypoints.web.app import create_app
from ecert.services.demo import seed_demo
from ecert.testing import verify_pdf
from helpers_documents import issue_to_a_demo_holder
from helpers_signing import add_annotation_after_signing

TODAY = date(2021, 3, 1)
NOTE_ZH = "文件在盖章后被追加了内容;显示的是盖章时的版本"


def _unsigned_update(pdf: bytes) -> bytes:
    """An incremental update written after the seal, with no change in it (a new xref section)."""
    w = IncrementalPdfFileWriter(io.BytesIO(pdf))
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> keystore.KeySettings:
    """One DEMO keys directory for both databases: the PDF seal's PKI and the QR key (no SM2 PKI, which
    takes seconds to make and no PDF needs)."""
    directory = tmp_path_factory.mktemp("keys")
    pki.create_demo_pki(directory)
    pem = generate_key().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    (directory / keystore.QR_KEY).write_bytes(pem)
    return keystore.key_settings_from_env({"ECERT_KEYS_DIR": str(directory)})


def _core(db_url: str, engine: Engine, keys: keystore.KeySettings) -> App:
    core = bootstrap(Settings(database_url=db_url, today_override=TODAY), engine=engine, keys=keys)
    seed_demo(core.uow, 4, seed=2021, today=TODAY, now=core.clock.now(), signatures=4)
    return core


def test_content_after_the_seal_keeps_the_verdict_and_is_reported(
    db_url: str, engine: Engine, keys: keystore.KeySettings
) -> None:
    core = _core(db_url, engine, keys)
    pdf = issue_to_a_demo_holder(core, 4).pdf
    assert pdf is not None
    cases = {
        "as issued": (pdf, "valid", ["valid"]),
        "trailing bytes": (pdf + b"\n% added after the seal\n" + b"x" * 64, "valid", ["valid", "content_after_seal"]),
        "unsigned update": (_unsigned_update(pdf), "valid", ["valid", "content_after_seal"]),
        "annotation added": (add_annotation_after_signing(pdf), "tampered", ["modified_after_signing"]),
    }
    for label, (data, status, codes) in cases.items():
        result = verify_pdf(core, data)
        assert (result.status.value, result.reason_codes) == (status, codes), label
        if "content_after_seal" in codes:  # what is shown is the sealed revision's data
            assert result.content is not None and result.serial == verify_pdf(core, pdf).serial, label

    web = TestClient(create_app(core))
    page = web.post("/verify", files={"file": ("c.pdf", cases["trailing bytes"][0], "application/pdf")})
    assert page.status_code == 200 and NOTE_ZH in page.text and 'data-status="valid"' in page.text
    api = web.post("/api/v1/verify/file", files={"file": ("c.pdf", cases["unsigned update"][0], "application/pdf")})
    assert api.json()["reason_codes"] == ["valid", "content_after_seal"]
