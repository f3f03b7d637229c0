"""The demo's QR codes lead to the demo (issue 10): with ECERT_BASE_URL set to where the demo is
served — what scripts/demo does —, the QR code of a certificate issued in the demo, decoded from
the rendered page by zxing-cpp as a phone reads it, is the upper-case URL ``HTTP://HOST:PORT/V/…``
(alphanumeric QR mode), and opening it as it is reaches that ``ecert serve`` and its verdict page.
The certificates the demo's cases hold carry the same base."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pypdfium2 as pdfium
import zxingcpp

from ecert.testing import free_port, stop, wait_ready

ECERT = str(Path(sys.executable).parent / "ecert")
TODAY = "2021-09-01"


def _run(env: dict[str, str], cwd: Path, *args: str) -> dict[str, Any]:
    res = subprocess.run([ECERT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    out: dict[str, Any] = json.loads(res.stdout)
    return out


def _verdict(url: str) -> str:
    page = httpx.get(url, timeout=10)  # the URL exactly as the QR code says: scheme and host in upper case
    assert page.status_code == 200, (url, page.status_code)
    return page.text.split('class="verdict-word">', 1)[1].split("<", 1)[0].strip()


def test_a_demo_certificates_qr_code_opens_the_demos_own_verdict_page__R_DOC_4(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ECERT_")},
        "ECERT_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
        "ECERT_KEYS_DIR": str(tmp_path / "keys"),
        "ECERT_BASE_URL": base,
        "ECERT_TODAY": TODAY,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    demo = _run(env, tmp_path, "demo", "--holders", "20", "--json")
    assert demo["qr_base_url"] == base
    holder = next(a for a in demo["accounts"] if a["role"] == "holder")
    out = tmp_path / "c.pdf"
    issued = _run(env, tmp_path, "cert", "issue", holder["registration_no"], "--confirm", "--out", str(out), "--json")

    image = pdfium.PdfDocument(str(out))[0].render(scale=150 / 72).to_pil()
    codes = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [c.text for c in codes] == [issued["qr"]]
    scanned = codes[0].text
    assert scanned.startswith(f"HTTP://127.0.0.1:{port}/V/"), scanned
    cases = {c["case"]: c for c in demo["cases"]}
    for name in ("revoked", "superseded"):
        assert cases[name]["qr"].startswith(f"HTTP://127.0.0.1:{port}/V/"), cases[name]

    server = subprocess.Popen(
        [ECERT, "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        wait_ready(base, 30, server)
        assert _verdict(scanned) == "有效"
        assert _verdict(cases["revoked"]["qr"]) == "已撤销"
        assert _verdict(cases["superseded"]["qr"]) == "已被更新"
    finally:
        stop(server)
