"""The verification QR code (R-DOC-4): fixed level and mask, merged vector rectangles, quiet zone kept."""

from __future__ import annotations

import io
import re

import pytest
import segno
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]

from ecert.adapters.documents.qr import QUIET_ZONE, _runs, draw_qr, qr_matrix, qr_path_operators
from helpers_documents import need

# The shape the lead's QR signer produces: an uppercase URL with a base32 token, ~200 characters.
URL = "HTTPS://ECERT.EXAMPLE.CN/V/" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" * 5 + "ABCDEFGHIJKLMNOP"


def test_url_uses_alphanumeric_mode_version_10_level_q__R_DOC_4() -> None:
    assert len(URL) == 203
    qr = segno.make(URL, error="q", mask=0, micro=False, boost_error=False)
    assert qr.mode == "alphanumeric"
    assert qr.designator == "10-Q"
    matrix = qr_matrix(URL)
    assert len(matrix) == 57 and all(len(row) == 57 for row in matrix)


def test_matrix_uses_the_fixed_mask_and_is_deterministic() -> None:
    fixed = segno.make(URL, error="q", mask=0, micro=False, boost_error=False)
    assert fixed.mask == 0
    assert qr_matrix(URL) == [[bool(v) for v in row] for row in fixed.matrix]
    assert qr_matrix(URL) == qr_matrix(URL)


def test_runs_merge_neighbouring_dark_modules() -> None:
    assert _runs([False, True, True, False, True]) == [(1, 2), (4, 1)]
    assert _runs(bytearray([1, 1, 1])) == [(0, 3)]
    assert _runs([0, 0]) == []


def test_rectangles_stay_inside_the_quiet_zone() -> None:
    matrix = qr_matrix(URL)
    n = len(matrix)
    size = 100.0
    ops = qr_path_operators(matrix, 10.0, 20.0, size)
    module = size / (n + 2 * QUIET_ZONE)
    cm = re.match(r"q (\S+) 0 0 (\S+) (\S+) (\S+) cm", ops)
    assert cm is not None
    assert float(cm.group(1)) == pytest.approx(module, abs=1e-4)
    assert float(cm.group(3)) == pytest.approx(10.0 + QUIET_ZONE * module, abs=1e-3)
    assert float(cm.group(4)) == pytest.approx(20.0 + size - QUIET_ZONE * module, abs=1e-3)
    rects = [tuple(map(int, m.groups())) for m in re.finditer(r"^(\d+) (\d+) (\d+) 1 re$", ops, re.M)]
    assert len(rects) == sum(len(_runs(row)) for row in matrix)
    dark = sum(map(sum, matrix))
    assert sum(length for _, _, length in rects) == dark
    assert len(rects) < dark / 1.5  # merged, not one square per module
    for start, row, length in rects:
        assert start >= 0 and start + length <= n and 0 <= row < n


def test_drawn_code_scans_back__R_DOC_4() -> None:
    pdfium = need("pypdfium2")
    zxingcpp = need("zxingcpp")
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(120, 120), invariant=1)
    version = draw_qr(c, URL, 10, 10, 100)
    c.showPage()
    c.save()
    assert version == 10
    page = pdfium.PdfDocument(buf.getvalue())[0]
    img = page.render(scale=150 / 72).to_pil()
    found = zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [r.text for r in found] == [URL]
