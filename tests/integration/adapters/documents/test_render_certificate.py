"""The rendered certificate PDF (R-DOC-1, R-DOC-4, R-DOC-5): its text extracts exactly (rare name
characters included), its QR code scans from a 150-dpi rendering, ten specialties fit one page, and
the output is deterministic. Uses poppler (pdftotext, pdffonts), pypdfium2 and zxing-cpp."""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from ecert.adapters.documents import CertificateRenderer, render_certificate
from ecert.domain.certificate import PrintedSpecialty
from ecert.domain.errors import RuleRefusal
from helpers_documents import (
    QR_TEXT,
    RARE_NAME,
    SPECIALTIES,
    need,
    need_tool,
    pdftotext,
    render_sample,
    sample_content,
    signature_png,
)


@pytest.fixture(scope="module")
def sample() -> bytes:
    return render_sample(render_certificate, sample_content(3))


def test_text_extracts_exactly_with_rare_characters__R_DOC_1(sample: bytes, tmp_path: Path) -> None:
    text = pdftotext(sample, tmp_path, "-layout")
    lines = [re.sub(r"\s+", " ", line).strip() for line in text.splitlines()]
    assert "中华人民共和国一级建造师注册证书" in lines
    assert "使用有效期：2025年03月01日至2025年08月28日" in lines  # top right, alone on its line
    for label, value in [
        ("姓名", RARE_NAME),
        ("性别", "男"),
        ("出生日期", "1985年03月12日"),
        ("身份证号", "140105********2315"),
        ("注册编号", "晋1142024202501467"),
        ("聘用企业", "山西建设投资集团有限公司第三工程分公司"),
        ("统一社会信用代码", "91140100MA0BC1D2E7"),
        ("签名日期", "2025年03月01日"),
    ]:
        assert any(line.startswith(f"{label} {value}") for line in lines), (label, value)
    for specialty, until in [
        ("建筑工程", "2027年05月31日"),
        ("公路工程", "2027年05月30日"),
        ("铁路工程", "2027年05月29日"),
    ]:
        assert any(line.endswith(f"{specialty} {until}") for line in lines), specialty
    assert "发证机关：中华人民共和国住房和城乡建设部" in lines
    assert "发证日期：2025年03月01日" in lines
    assert "电子证照标识：1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F" in lines
    assert "证书编号：K7Q2M9XW4TZP" in lines
    assert "扫码验证" in lines
    assert any(line.startswith("个人签名") or " 个人签名" in line for line in lines)
    # The seal is a picture: its 26 characters are not text.
    assert "行政许可专用章" not in text and "一级建造师行" not in text


def test_every_font_is_an_embedded_subset_with_unicode_map(sample: bytes, tmp_path: Path) -> None:
    exe = need_tool("pdffonts")
    src = tmp_path / "cert.pdf"
    src.write_bytes(sample)
    out = subprocess.run([exe, str(src)], check=True, capture_output=True, text=True).stdout
    rows = [line.split() for line in out.splitlines()[2:]]
    assert rows, out
    for row in rows:
        name, emb, sub, uni = row[0], row[-5], row[-4], row[-3]
        assert re.fullmatch(r"[A-Z]{6}\+\S+", name), name
        assert (emb, sub, uni) == ("yes", "yes", "yes"), row
    assert any("HanaMinA" in row[0] for row in rows)  # the rare characters' fallback font


def test_qr_code_scans_from_a_150_dpi_rendering__R_DOC_4(sample: bytes) -> None:
    pdfium = need("pypdfium2")
    zxingcpp = need("zxingcpp")
    doc = pdfium.PdfDocument(sample)
    assert len(doc) == 1
    page = doc[0]
    assert (round(page.get_width()), round(page.get_height())) == (595, 842)  # A4 portrait
    img = page.render(scale=150 / 72).to_pil()
    found = zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [r.text for r in found] == [QR_TEXT]


def test_red_seal_is_visible_over_the_issuer__R_DOC_2(sample: bytes) -> None:
    pdfium = need("pypdfium2")
    img = pdfium.PdfDocument(sample)[0].render(scale=1).to_pil().convert("RGB")
    # The seal's box (points, from the top-left): centred at about x=436, y=699, radius 60.
    box = img.crop((380, 640, 495, 760))
    red = sum(1 for r, g, b in box.get_flattened_data() if r > 170 and g < 90 and b < 90)
    assert red > 0.12 * box.width * box.height


def test_ten_specialties_fit_on_one_page__R_DOC_1(tmp_path: Path) -> None:
    pdfium = need("pypdfium2")
    zxingcpp = need("zxingcpp")
    pdf = render_sample(render_certificate, sample_content(10), photo=False)
    doc = pdfium.PdfDocument(pdf)
    assert len(doc) == 1
    text = pdftotext(pdf, tmp_path, "-layout")
    for s in SPECIALTIES:
        assert s in text
    assert "照片" in text  # the empty photo frame is labelled
    # The table ends above the bottom block: compare word boxes.
    bbox = pdftotext(pdf, tmp_path, "-bbox")
    words = {
        m.group(3): (float(m.group(1)), float(m.group(2)))
        for m in re.finditer(r'yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]+)</word>', bbox)
    }
    assert words["签名日期"][1] < words["发证机关：中华人民共和国住房和城乡建设部"][0] - 20
    assert words["机电工程"][1] < words["签名日期"][0]
    img = doc[0].render(scale=150 / 72).to_pil()
    assert [r.text for r in zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)] == [QR_TEXT]


def test_metadata_goes_into_the_info_dictionary(sample: bytes) -> None:
    pdfium = need("pypdfium2")
    doc = pdfium.PdfDocument(sample)
    content = sample_content(3)
    assert doc.get_metadata_value("EcertContent") == content.canonical_json().decode("utf-8")
    assert doc.get_metadata_value("EcertQR") == QR_TEXT
    assert doc.get_metadata_value("Title") == "中华人民共和国一级建造师注册证书"
    assert doc.get_metadata_value("Author") == "中华人民共和国住房和城乡建设部"
    assert doc.get_metadata_value("CreationDate") == "D:20250301000000+08'00'"


def test_metadata_values_with_pdf_delimiters_round_trip() -> None:
    pdfium = need("pypdfium2")
    tricky = 'a (b) \\c\\ ) ( "张\U00020bb7" \n end'
    pdf = render_certificate(
        sample_content(1, name="王芳"),
        qr_text=QR_TEXT,
        signature_image=signature_png(),
        photo=None,
        metadata={"EcertContent": tricky},
    )
    assert pdfium.PdfDocument(pdf).get_metadata_value("EcertContent") == tricky


def test_same_input_gives_the_same_bytes_and_another_serial_another_id(sample: bytes) -> None:
    assert render_sample(render_certificate, sample_content(3)) == sample
    other = render_sample(render_certificate, replace(sample_content(3), serial="ZZZZZZZZZZZZ"))
    file_id = re.compile(rb"/ID\s*\[\s*<([0-9a-fA-F]+)>")
    a, b = file_id.search(sample), file_id.search(other)
    assert a is not None and b is not None and a.group(1) != b.group(1)


def test_uncovered_character_is_refused_before_anything_is_drawn__R_DOC_1() -> None:
    with pytest.raises(RuleRefusal) as err:
        render_sample(render_certificate, sample_content(3, name="李\ue000"))
    assert err.value.code == "unsupported_character"
    assert err.value.params == {"chars": "U+E000"}


def test_bad_signature_image_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="signature image"):
        render_certificate(sample_content(1), qr_text=QR_TEXT, signature_image=b"GIF89a...", photo=None)


def test_more_than_ten_specialties_is_a_value_error() -> None:
    content = replace(
        sample_content(10),
        specialties=(*sample_content(10).specialties, PrintedSpecialty("建筑工程", date(2027, 1, 1))),
    )
    with pytest.raises(ValueError, match="at most 10"):
        render_sample(render_certificate, content)


def test_renderer_adapter_matches_the_port(tmp_path: Path) -> None:
    renderer = CertificateRenderer()
    assert renderer.missing_characters("张\U00020bb7\ue000") == ["U+E000"]
    pdf = renderer.render(
        sample_content(2, name="欧阳\u4dae"),
        qr_text=QR_TEXT,
        signature_image=signature_png(),
        photo=None,
        metadata={"EcertQR": QR_TEXT},
    )
    assert "欧阳\u4dae" in pdftotext(pdf, tmp_path)
