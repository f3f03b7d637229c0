"""``ecert cert issue --format``, ``ecert cert batch --format`` and ``ecert verify FILE.ofd`` (R-DOC-6,
docs/cli.md): the OFD alone, or the PDF and the OFD from one issuance — one serial, one QR token, one
issuance record and one audit event — each file verifying valid; a format that does not exist is bad
input. In-process (tests/conftest.py ``ecert``) on SQLite and PostgreSQL, ECERT_TODAY=2021-03-01.

The QR text is read back with readers of their own: the OFD's from ``OFD.xml``'s ``CustomData`` with
ElementTree, the PDF's from its document information with pyHanko's reader."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import Engine

from ecert.adapters.db.unit_of_work import SqlUnitOfWork
from ecert.adapters.documents.ofd_render import OFD_NS
from helpers_cli import TODAY, audit_events_of, import_holder, refused

NS = {"ofd": OFD_NS}


def _issue(ecert: Any, no: str, out: Path, *fmt: str) -> dict[str, Any]:
    res = ecert("cert", "issue", no, "--confirm", *fmt, "--out", str(out), "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout + res.stderr
    return res.json()  # type: ignore[no-any-return]


def _verify(ecert: Any, path: Path) -> dict[str, Any]:
    res = ecert("verify", str(path), "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout + res.stderr
    return res.json()  # type: ignore[no-any-return]


def _records(engine: Engine, no: str) -> int:
    with SqlUnitOfWork(engine) as uow:
        return len(uow.certificates.for_registration(no))


def ofd_custom_data(path: Path) -> dict[str, str]:
    """``OFD.xml``'s ``DocInfo/CustomDatas`` (where the certificate data and the QR text are)."""
    with zipfile.ZipFile(path) as z:
        root = ET.fromstring(z.read("OFD.xml"))
    return {e.get("Name", ""): e.text or "" for e in root.iterfind("ofd:DocBody/ofd:DocInfo/ofd:CustomDatas/*", NS)}


def pdf_info(path: Path) -> dict[str, str]:
    info = PdfFileReader(io.BytesIO(path.read_bytes())).trailer["/Info"]
    return {str(k)[1:]: str(v) for k, v in info.items()}


def test_issue_format_ofd_writes_the_ofd_and_it_verifies__R_DOC_6(ecert: Any, tmp_path: Path, engine: Engine) -> None:
    no = import_holder(ecert, tmp_path)
    out = tmp_path / "c.ofd"
    issued = _issue(ecert, no, out, "--format", "ofd")
    assert set(issued) >= {"serial", "identifier", "usage_from", "usage_until", "specialties", "qr", "files"}
    assert issued["files"] == {"ofd": str(out)}
    assert out.read_bytes()[:4] == b"PK\x03\x04" and not (tmp_path / "c.pdf").exists()
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file was moved into place
    v = _verify(ecert, out)
    assert (v["status"], v["reason_codes"]) == ("valid", ["valid"]), v
    assert (v["serial"], v["registration_no"]) == (issued["serial"], no)
    assert (v["usage_from"], v["usage_until"]) == (issued["usage_from"], issued["usage_until"])
    assert all(v["checks"].values()), v["checks"]
    assert ofd_custom_data(out)["EcertQR"] == issued["qr"]
    (event,) = audit_events_of(engine, "certificate.issue")
    assert event["payload"]["formats"] == ["ofd"] and event["payload"]["serial"] == issued["serial"]
    assert len(event["payload"]["ofd_seal_key_id"]) == 64


def test_issue_format_both_gives_two_files_of_one_issuance__R_DOC_6(ecert: Any, tmp_path: Path, engine: Engine) -> None:
    no = import_holder(ecert, tmp_path)
    records, events = _records(engine, no), len(audit_events_of(engine, "certificate.issue"))
    issued = _issue(ecert, no, tmp_path / "c.pdf", "--format", "both")
    pdf, ofd = tmp_path / "c.pdf", tmp_path / "c.ofd"
    assert issued["files"] == {"pdf": str(pdf), "ofd": str(ofd)}
    assert pdf.read_bytes()[:5] == b"%PDF-" and ofd.read_bytes()[:4] == b"PK\x03\x04"
    # One issuance: one record, one audit event naming both formats.
    assert _records(engine, no) == records + 1
    all_events = audit_events_of(engine, "certificate.issue")
    assert len(all_events) == events + 1
    assert all_events[-1]["payload"]["formats"] == ["pdf", "ofd"]
    assert all_events[-1]["payload"]["serial"] == issued["serial"]
    # Both verify valid, as the same certificate.
    verdicts = {f: _verify(ecert, p) for f, p in (("pdf", pdf), ("ofd", ofd))}
    for v in verdicts.values():
        assert (v["status"], v["reason_codes"]) == ("valid", ["valid"]), v
        assert (v["serial"], v["registration_no"]) == (issued["serial"], no)
    assert verdicts["pdf"] == verdicts["ofd"]
    # One QR token: the same text in both files, the one issued, and the same certificate data.
    ofd_meta, pdf_meta = ofd_custom_data(ofd), pdf_info(pdf)
    assert ofd_meta["EcertQR"] == pdf_meta["EcertQR"] == issued["qr"]
    assert ofd_meta["EcertContent"] == pdf_meta["EcertContent"]
    qr = ecert("verify-qr", issued["qr"], "--json", today=TODAY).json()
    assert (qr["status"], qr["serial"]) == ("valid", issued["serial"])


def test_issue_format_both_refused_writes_neither_file__R_DOC_6_R_USE_1(ecert: Any, tmp_path: Path) -> None:
    no = import_holder(ecert, tmp_path)
    res = ecert("cert", "issue", no, "--format", "both", "--out", str(tmp_path / "c.pdf"), "--json", today=TODAY)
    refused(res, "confirmation_required")
    assert not (tmp_path / "c.pdf").exists() and not (tmp_path / "c.ofd").exists()


def test_an_unknown_format_is_bad_input__R_DOC_6(ecert: Any, tmp_path: Path, engine: Engine) -> None:
    no = import_holder(ecert, tmp_path)
    for args in (
        ("cert", "issue", no, "--confirm", "--format", "xyz", "--out", str(tmp_path / "c.xyz"), "--json"),
        ("cert", "batch", str(tmp_path / "nos.txt"), "--format", "xyz", "--out-dir", str(tmp_path / "out"), "--json"),
    ):
        (tmp_path / "nos.txt").write_text(no, encoding="utf-8")
        err = refused(ecert(*args, today=TODAY), "bad_input", exit_code=2)  # one JSON object (docs/cli.md)
        (detail,) = err["details"]
        assert detail["column"] == "format" and "xyz" in detail["message"], detail
        human = ecert(*args[:-1], lang="en", today=TODAY)  # and a sentence for people without --json
        assert human.exit_code == 2 and "Unknown file format: xyz" in human.stdout + human.stderr
    assert not (tmp_path / "c.xyz").exists() and not (tmp_path / "out").exists()
    assert _records(engine, no) == 0


def test_batch_format_both_writes_both_files_for_each_registration__R_DOC_6(
    ecert: Any, tmp_path: Path, engine: Engine
) -> None:
    numbers = [import_holder(ecert, tmp_path, serial=i) for i in (1, 2, 3)]
    listing = tmp_path / "nos.txt"
    listing.write_text("\n".join(numbers), encoding="utf-8")
    out = tmp_path / "out"
    res = ecert(
        "cert", "batch", str(listing), "--format", "both", "--out-dir", str(out), "--workers", "2", "--json",
        today=TODAY,
    )  # fmt: skip
    assert res.exit_code == 0, res.stdout + res.stderr
    assert res.json()["issued"] == 3
    files = sorted(p.name for p in out.iterdir())
    assert len(files) == 6
    for no in numbers:
        (pdf,) = out.glob(f"{no}-*.pdf")
        ofd = pdf.with_suffix(".ofd")
        assert ofd.exists(), files
        assert _verify(ecert, ofd)["status"] == _verify(ecert, pdf)["status"] == "valid"
        assert ofd_custom_data(ofd)["EcertQR"] == pdf_info(pdf)["EcertQR"]
        assert _records(engine, no) == 1


def test_batch_format_ofd_writes_only_ofds__R_DOC_6(ecert: Any, tmp_path: Path) -> None:
    no = import_holder(ecert, tmp_path)
    listing = tmp_path / "nos.txt"
    listing.write_text(no, encoding="utf-8")
    out = tmp_path / "out"
    res = ecert("cert", "batch", str(listing), "--format", "ofd", "--out-dir", str(out), "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout + res.stderr
    (ofd,) = out.iterdir()
    assert ofd.suffix == ".ofd" and _verify(ecert, ofd)["status"] == "valid"
