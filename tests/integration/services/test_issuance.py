"""Issue, download and verify sealed e-certificates through the CLI (R-USE-1, R-USE-2, R-USE-3, R-USE-4,
R-DOC-1, R-DOC-2, R-DOC-3, R-DOC-4, R-DOC-5, R-CHG-1), on SQLite and PostgreSQL, with the independent
checkers pdfsig, pdftotext and zxing-cpp."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

# Instants are recorded and shown here: every test runs at each pinned hour (tests/conftest.py).
pytestmark = pytest.mark.wall_clock

TODAY = "2021-03-01"


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: run scripts/setup (it installs poppler-utils, libnss3-tools)"
    return path


@pytest.fixture
def demo_no(ecert: Any) -> str:
    """A demo holder in a pilot province (浙) with a valid specialty and a signature on 2021-03-01."""
    res = ecert("demo", "--holders", "40", "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout + res.stderr
    for no in res.json()["sample_registration_nos"]:
        prev = ecert("cert", "preview", no, "--json", today=TODAY)
        if prev.exit_code == 0:
            return str(no)
    raise AssertionError("no demo holder can download on 2021-03-01")


def _issue(ecert: Any, no: str, out: Path, today: str = TODAY) -> dict[str, Any]:
    res = ecert("cert", "issue", no, "--confirm", "--out", str(out), "--json", today=today)
    assert res.exit_code == 0, res.stdout + res.stderr
    return res.json()  # type: ignore[no-any-return]


def test_issue_then_verify_says_valid__R_USE_1_R_DOC_2(ecert: Any, demo_no: str, tmp_path: Path) -> None:
    prev = ecert("cert", "preview", demo_no, "--json", today=TODAY).json()
    out = tmp_path / "c.pdf"
    issued = _issue(ecert, demo_no, out)
    assert set(issued) >= {"serial", "identifier", "usage_from", "usage_until", "specialties", "qr"}
    assert (issued["usage_from"], issued["usage_until"]) == (prev["usage_from"], prev["usage_until"])
    assert issued["identifier"].startswith("1.2.156.3005.2.") and issued["identifier"].count(".") == 9
    res = ecert("verify", str(out), "--json", today=TODAY)
    assert res.exit_code == 0
    v = res.json()
    assert v["status"] == "valid", v
    assert v["serial"] == issued["serial"] and v["registration_no"] == demo_no
    assert set(v) >= {"status", "reasons", "serial", "registration_no", "usage_from", "usage_until", "checks"}


def test_issue_without_confirm_is_refused__R_USE_1(ecert: Any, demo_no: str, tmp_path: Path) -> None:
    res = ecert("cert", "issue", demo_no, "--out", str(tmp_path / "c.pdf"), "--json", today=TODAY)
    assert res.exit_code == 1
    assert res.json()["error"]["code"] == "confirmation_required"
    assert not (tmp_path / "c.pdf").exists()


def test_one_changed_byte_says_tampered__R_DOC_2(ecert: Any, demo_no: str, tmp_path: Path) -> None:
    out = tmp_path / "c.pdf"
    _issue(ecert, demo_no, out)
    data = bytearray(out.read_bytes())
    # A byte in the middle of the first content stream (signed content, not the signature itself).
    pos = data.index(b"stream\n") + 40
    data[pos] ^= 0x01
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(bytes(data))
    v = ecert("verify", str(bad), "--json", today=TODAY).json()
    assert v["status"] == "tampered", v


@pytest.mark.parametrize("where", [0.1, 0.3, 0.5, 0.7, 0.9, 0.99])
def test_changed_bytes_anywhere_never_crash_and_never_say_valid__R_DOC_2(
    ecert: Any, demo_no: str, tmp_path: Path, where: float
) -> None:
    out = tmp_path / "c.pdf"
    _issue(ecert, demo_no, out)
    data = bytearray(out.read_bytes())
    pos = int(len(data) * where)
    data[pos] = (data[pos] + 1) % 256
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(bytes(data))
    res = ecert("verify", str(bad), "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout + res.stderr
    assert res.json()["status"] != "valid"


def test_garbage_and_truncated_files_are_verdicts_not_crashes(ecert: Any, demo_no: str, tmp_path: Path) -> None:
    out = tmp_path / "c.pdf"
    _issue(ecert, demo_no, out)
    cases = {"garbage.pdf": b"hello", "empty.pdf": b"", "half.pdf": out.read_bytes()[: len(out.read_bytes()) // 2]}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        res = ecert("verify", str(tmp_path / name), "--json", today=TODAY)
        assert res.exit_code == 0, res.stdout + res.stderr
        assert res.json()["status"] in {"indeterminate", "tampered", "untrusted"}


def test_change_of_employer_supersedes_the_old_file__R_CHG_1(ecert: Any, demo_no: str, tmp_path: Path) -> None:
    out = tmp_path / "c.pdf"
    _issue(ecert, demo_no, out)
    from ecert.domain.ids import make_uscc

    res = ecert(
        "change", "employer", demo_no, "--name", "浙江新成建设有限公司", "--uscc", make_uscc("330100", "123456789"),
        "--json", today=TODAY,
    )  # fmt: skip
    assert res.exit_code == 0, res.stdout
    v = ecert("verify", str(out), "--json", today=TODAY).json()
    assert v["status"] == "superseded", v
    assert v["current"]["employer"]["name"] == "浙江新成建设有限公司"  # R-CHG-3: the registry's current data


def test_after_the_window_ends_it_says_expired__R_USE_3(ecert: Any, demo_no: str, tmp_path: Path) -> None:
    from datetime import date, timedelta

    out = tmp_path / "c.pdf"
    issued = _issue(ecert, demo_no, out)
    last = date.fromisoformat(issued["usage_until"])
    assert ecert("verify", str(out), "--json", today=last.isoformat()).json()["status"] == "valid"
    after = (last + timedelta(days=1)).isoformat()
    assert ecert("verify", str(out), "--json", today=after).json()["status"] == "expired"
    before = (date.fromisoformat(issued["usage_from"]) - timedelta(days=1)).isoformat()
    assert ecert("verify", str(out), "--json", today=before).json()["status"] == "not_yet_valid"


def test_verify_qr_accepts_the_printed_url_and_refuses_forgeries__R_DOC_4(
    ecert: Any, demo_no: str, tmp_path: Path
) -> None:
    issued = _issue(ecert, demo_no, tmp_path / "c.pdf")
    v = ecert("verify-qr", issued["qr"], "--json", today=TODAY).json()
    assert v["status"] == "valid" and v["serial"] == issued["serial"]
    assert v["current"]["id_number"].count("*") == 8  # R-ACC-1: masked for the public
    qr = issued["qr"]
    i = len(qr) - 20
    forged = qr[:i] + ("A" if qr[i] != "A" else "B") + qr[i + 1 :]
    assert ecert("verify-qr", forged, "--json", today=TODAY).json()["status"] in {"tampered", "indeterminate"}
    assert ecert("verify-qr", qr[:-30], "--json", today=TODAY).json()["status"] == "indeterminate"
    assert ecert("verify-qr", "hello world", "--json", today=TODAY).json()["status"] == "indeterminate"


def test_no_signature_image_no_certificate__R_USE_4(ecert: Any, tmp_path: Path) -> None:
    from datetime import date

    from ecert.domain.ids import make_id_number, make_registration_no, make_uscc
    from ecert.domain.model import Gender

    no = make_registration_no("浙", "33", 2010, 2012, 77)
    csv = tmp_path / "r.csv"
    idn = make_id_number("330102", date(1980, 5, 5), 1, Gender.MALE)
    csv.write_text(
        "registration_no,name,gender,birth_date,id_number,employer_name,employer_uscc,specialty,valid_until\n"
        f"{no},李四,男,1980-05-05,{idn},浙江一建有限公司,{make_uscc('330100', '11111111X')},建筑工程,2023-01-01\n",
        encoding="utf-8",
    )
    assert ecert("import", str(csv), "--json", today=TODAY).exit_code == 0
    res = ecert("cert", "preview", no, "--json", today=TODAY)
    assert res.exit_code == 1 and res.json()["error"]["code"] == "signature_missing"


def test_outside_rollout_is_refused_with_its_code__R_SCOPE_1(ecert: Any, demo_no: str) -> None:
    res = ecert("cert", "preview", demo_no, "--json", today="2021-01-31")
    assert res.exit_code == 1
    assert res.json()["error"]["code"] == "not_in_rollout"
    assert res.json()["error"]["rule"] == "R-SCOPE-1"


def test_keys_export_root_gives_a_pem(ecert: Any, demo_no: str, tmp_path: Path) -> None:
    out = tmp_path / "root.pem"
    assert ecert("keys", "export-root", "--out", str(out)).exit_code == 0
    assert out.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


# ---------------------------------------------------------------- independent checkers


def test_pdfsig_accepts_the_seal_and_reports_tampering__R_DOC_2(ecert: Any, demo_no: str, tmp_path: Path) -> None:
    out = tmp_path / "c.pdf"
    _issue(ecert, demo_no, out)
    root = tmp_path / "root.pem"
    assert ecert("keys", "export-root", "--out", str(root)).exit_code == 0
    nss = tmp_path / "nss"
    nss.mkdir()
    subprocess.run([_tool("certutil"), "-N", "-d", f"sql:{nss}", "--empty-password"], check=True)
    subprocess.run(
        [_tool("certutil"), "-A", "-d", f"sql:{nss}", "-n", "ecert-root", "-t", "CT,C,C", "-i", str(root)], check=True
    )
    ok = subprocess.run([_tool("pdfsig"), "-nssdir", f"sql:{nss}", str(out)], capture_output=True, text=True)
    assert "Signature is Valid" in ok.stdout, ok.stdout + ok.stderr
    assert "Certificate is Trusted" in ok.stdout, ok.stdout
    assert "中华人民共和国住房和城乡建设部一级建造师行政许可专用章" in ok.stdout
    data = bytearray(out.read_bytes())
    data[data.index(b"stream\n") + 40] ^= 0x01
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(bytes(data))
    res = subprocess.run([_tool("pdfsig"), "-nssdir", f"sql:{nss}", str(bad)], capture_output=True, text=True)
    assert "Signature is Valid" not in res.stdout, res.stdout


def test_pdftotext_reads_the_holders_fields__R_DOC_1(ecert: Any, demo_no: str, tmp_path: Path) -> None:
    out = tmp_path / "c.pdf"
    issued = _issue(ecert, demo_no, out)
    holder = ecert("holder", "show", demo_no, "--json", today=TODAY).json()
    text = subprocess.run([_tool("pdftotext"), "-layout", str(out), "-"], capture_output=True, text=True).stdout
    flat = text.replace(" ", "")
    assert holder["name"] in flat
    assert demo_no in flat
    assert holder["employer"]["name"] in flat
    for d in (issued["usage_from"], issued["usage_until"]):
        y, m, day = d.split("-")
        assert f"{y}年{m}月{day}日" in flat


def test_qr_decoded_from_the_rendered_page_verifies__R_DOC_4(ecert: Any, demo_no: str, tmp_path: Path) -> None:
    import pypdfium2 as pdfium
    import zxingcpp

    out = tmp_path / "c.pdf"
    issued = _issue(ecert, demo_no, out)
    page = pdfium.PdfDocument(str(out))[0]
    image = page.render(scale=150 / 72).to_pil()
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [b.text for b in found] == [issued["qr"]]
    v = ecert("verify-qr", found[0].text, "--json", today=TODAY).json()
    assert v["status"] == "valid"
