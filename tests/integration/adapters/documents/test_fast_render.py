"""The fast PDF writer paints the same page as the ReportLab rendering (R-DOC-1, R-DOC-4, R-DOC-5).

Each case renders the same certificate both ways and compares what a reader sees: the pixels of a
150-dpi rendering (pypdfium2), the extracted text and the word positions (poppler), the fonts
(embedded subsets with a Unicode map), the QR code (zxing-cpp) and the metadata. The rare name
characters (𠮷 U+20BB7, 䶮 U+4DAE, 𪚥 U+2A6A5) must extract exactly.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from PIL import Image, ImageChops

import helpers_documents as docs
from ecert.adapters.documents import CertificateRenderer
from ecert.domain.certificate import CertificateContent, PrintedSpecialty
from ecert.domain.errors import RuleRefusal

FAST, REFERENCE = CertificateRenderer(), CertificateRenderer(fast=False)
DEMO_FAST, DEMO_REFERENCE = CertificateRenderer(demo=True), CertificateRenderer(fast=False, demo=True)


CASES = {  # content, photo, DEMO mark (sealed with a DEMO key: test_demo_mark.py)
    "three specialties, photo, rare name": (docs.sample_content(3), True, False),
    "ten specialties, no photo": (docs.sample_content(10, name="欧阳明"), False, False),
    "long employer shrinks, one specialty": (docs.sample_content(1, employer="中国" * 30 + "有限公司"), False, False),
    "DEMO mark, three specialties, photo, rare name": (docs.sample_content(3), True, True),
    "DEMO mark, ten specialties, no photo": (docs.sample_content(10, name="欧阳明"), False, True),
}


@pytest.fixture(scope="module", params=list(CASES))
def pair(request: pytest.FixtureRequest) -> tuple[bytes, bytes, CertificateContent]:
    content, photo, demo = CASES[request.param]
    fast, reference = (DEMO_FAST, DEMO_REFERENCE) if demo else (FAST, REFERENCE)
    return (
        docs.render_sample(fast.render, content, photo=photo),
        docs.render_sample(reference.render, content, photo=photo),
        content,
    )


def _pixels(pdf: bytes) -> Image.Image:
    pdfium = docs.need("pypdfium2")
    doc = pdfium.PdfDocument(pdf)
    assert len(doc) == 1
    image: Image.Image = doc[0].render(scale=150 / 72).to_pil().convert("RGB")
    return image


def test_fast_page_has_the_same_pixels__R_DOC_1(pair: tuple[bytes, bytes, CertificateContent]) -> None:
    fast, reference, _ = pair
    assert fast != reference  # really two writers
    a, b = _pixels(fast), _pixels(reference)
    assert a.size == b.size == (1241, 1754)  # A4 portrait at 150 dpi
    diff = ImageChops.difference(a, b).convert("L")
    hist = diff.histogram()
    assert sum(hist[48:]) <= 20, f"{sum(hist[48:])} pixels differ visibly, within {diff.getbbox()}"


def test_fast_page_has_the_same_text_and_word_positions__R_DOC_1(
    pair: tuple[bytes, bytes, CertificateContent], tmp_path: Path
) -> None:
    fast, reference, content = pair
    text = docs.pdftotext(fast, tmp_path, "-layout")
    assert text == docs.pdftotext(reference, tmp_path, "-layout")
    assert content.name in text and content.employer_name in text
    assert "行政许可专用章" not in text  # the seal is a picture, as in the reference

    def words(pdf: bytes) -> list[tuple[str, float, float]]:
        bbox = docs.pdftotext(pdf, tmp_path, "-bbox")
        found = re.findall(r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="[\d.]+" yMax="[\d.]+">([^<]+)</word>', bbox)
        return [(w, float(x), float(y)) for x, y, w in found]

    wf, wr = words(fast), words(reference)
    assert [w for w, _, _ in wf] == [w for w, _, _ in wr]
    for (w, x1, y1), (_, x2, y2) in zip(wf, wr, strict=True):
        assert abs(x1 - x2) < 0.05 and abs(y1 - y2) < 0.05, w


def test_rare_characters_extract_exactly_from_the_fast_page__R_DOC_1(tmp_path: Path) -> None:
    pdf = docs.render_sample(FAST.render, docs.sample_content(3), photo=True)
    lines = [re.sub(r"\s+", " ", line).strip() for line in docs.pdftotext(pdf, tmp_path, "-layout").splitlines()]
    assert any(line.startswith(f"姓名 {docs.RARE_NAME}") for line in lines), lines
    assert "使用有效期：2025年03月01日至2025年08月28日" in lines
    assert "电子证照标识：1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F" in lines


def test_fast_page_fonts_are_embedded_subsets_with_unicode_maps__R_DOC_1(tmp_path: Path) -> None:
    src = tmp_path / "c.pdf"
    src.write_bytes(docs.render_sample(FAST.render, docs.sample_content(3), photo=True))
    out = subprocess.run([docs.need_tool("pdffonts"), str(src)], check=True, capture_output=True, text=True).stdout
    rows = [line.split() for line in out.splitlines()[2:]]
    assert len(rows) >= 3, out  # fixed text, the variable main-font text, the rare characters' fallback
    for row in rows:
        assert re.fullmatch(r"[A-Z]{6}\+\S+", row[0]), row
        assert (row[-5], row[-4], row[-3]) == ("yes", "yes", "yes"), row
    assert any("HanaMinA" in row[0] for row in rows)


def test_fast_page_qr_code_scans__R_DOC_4() -> None:
    zxingcpp = docs.need("zxingcpp")
    img = _pixels(docs.render_sample(FAST.render, docs.sample_content(10), photo=False))
    assert [r.text for r in zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)] == [docs.QR_TEXT]


def test_fast_page_metadata_and_determinism() -> None:
    pdfium = docs.need("pypdfium2")
    content = docs.sample_content(3)
    pdf = docs.render_sample(FAST.render, content, photo=True)
    doc = pdfium.PdfDocument(pdf)
    assert doc.get_metadata_value("EcertContent") == content.canonical_json().decode("utf-8")
    assert doc.get_metadata_value("EcertQR") == docs.QR_TEXT
    assert doc.get_metadata_value("Title") == "中华人民共和国一级建造师注册证书"
    assert doc.get_metadata_value("CreationDate") == "D:20250301000000+08'00'"
    assert docs.render_sample(FAST.render, content, photo=True) == pdf
    other = docs.render_sample(FAST.render, replace(content, serial="ZZZZZZZZZZZZ"), photo=True)
    ids = [re.search(rb"/ID \[<([0-9a-f]+)>", p) for p in (pdf, other)]
    assert ids[0] is not None and ids[1] is not None and ids[0].group(1) != ids[1].group(1)
    tricky = 'a (b) \\c\\ ) ( "张\U00020bb7" \n end'
    odd = FAST.render(content, qr_text=docs.QR_TEXT, signature_image=docs.signature_png(), photo=None,
                      metadata={"EcertContent": tricky})  # fmt: skip
    assert pdfium.PdfDocument(odd).get_metadata_value("EcertContent") == tricky


def test_fast_path_refuses_what_the_reference_refuses__R_DOC_1() -> None:
    with pytest.raises(RuleRefusal) as err:
        docs.render_sample(FAST.render, docs.sample_content(3, name="李\ue000"), photo=False)
    assert (err.value.code, err.value.params) == ("unsupported_character", {"chars": "U+E000"})
    with pytest.raises(ValueError, match="signature image"):
        FAST.render(docs.sample_content(1), qr_text=docs.QR_TEXT, signature_image=b"GIF89a", photo=None, metadata={})
    too_many = replace(
        docs.sample_content(10),
        specialties=(*docs.sample_content(10).specialties, PrintedSpecialty("矿业工程", date(2027, 1, 1))),
    )
    with pytest.raises(ValueError, match="at most 10"):
        docs.render_sample(FAST.render, too_many, photo=False)


def _png(mode: str, **save: object) -> tuple[bytes, Image.Image]:
    """A signature-like PNG in ``mode`` (strokes on white) and the image Pillow decodes from it."""
    import io

    from PIL import ImageDraw

    im = Image.new(mode, (240, 80), "white")
    ImageDraw.Draw(im).line([(10, 60), (80, 15), (150, 62), (230, 20)], fill="navy" if mode == "RGB" else 40, width=4)
    buf = io.BytesIO()
    im.save(buf, "PNG", **save)
    data = buf.getvalue()
    return data, Image.open(io.BytesIO(data)).convert(mode)


@pytest.mark.parametrize("mode", ["RGB", "L"])
@pytest.mark.parametrize("renderer", [FAST, REFERENCE], ids=["fast", "reference"])
def test_png_signature_is_passed_through_and_extracts_pixel_exact__R_DOC_5(
    mode: str, renderer: CertificateRenderer, tmp_path: Path
) -> None:
    """Issue 15: an 8-bit grey or RGB PNG is embedded with its own image data (PNG predictors), not decoded
    and re-encoded; poppler's ``pdfimages`` gets back exactly the pixels Pillow decodes from the file."""
    from ecert.adapters.documents.page import prepare_image

    data, decoded = _png(mode, optimize=True)
    prepared = prepare_image(data, "signature image")
    assert prepared.png_colors == (3 if mode == "RGB" else 1) and prepared.source == data
    content = docs.sample_content(1)
    pdf = renderer.render(content, qr_text=docs.QR_TEXT, signature_image=data, photo=None, metadata={})
    assert b"/Predictor 15" in pdf
    (tmp_path / "c.pdf").write_bytes(pdf)
    subprocess.run([docs.need_tool("pdfimages"), "-png", str(tmp_path / "c.pdf"), str(tmp_path / "img")], check=True)
    found = [Image.open(p).convert(mode) for p in sorted(tmp_path.glob("img-*.png"))]
    same = [im for im in found if im.size == decoded.size and ImageChops.difference(im, decoded).getbbox() is None]
    assert same, f"no embedded image equals the signature's pixels among {[im.size for im in found]}"


@pytest.mark.parametrize(
    "case",
    ["alpha", "transparency", "interlaced", "16-bit", "palette", "broken crc", "truncated data", "exif"],
)
def test_pngs_a_pdf_cannot_take_as_they_are_are_decoded_as_before__R_DOC_5(case: str) -> None:
    """Anything but a plain 8-bit grey/RGB PNG with sound chunks and data takes Pillow's route (decoded,
    alpha as a soft mask) or, if Pillow cannot read it either, is refused as before; never passed through."""
    import io
    import zlib

    from ecert.adapters.documents.page import _png_passthrough, prepare_image

    im = Image.new("RGB", (60, 20), "white")
    buf = io.BytesIO()
    if case == "alpha":
        im.convert("RGBA").save(buf, "PNG")
    elif case == "transparency":
        im.save(buf, "PNG", transparency=(255, 255, 255))
    elif case == "interlaced":
        im.save(buf, "PNG")  # Pillow writes no Adam7: set the interlace byte and fix the header's CRC
        raw = bytearray(buf.getvalue())
        raw[28] = 1
        raw[29:33] = zlib.crc32(bytes(raw[12:29])).to_bytes(4, "big")
        buf = io.BytesIO(bytes(raw))
    elif case == "16-bit":
        Image.new("I;16", (60, 20), 30000).save(buf, "PNG")
    elif case == "palette":
        im.convert("P").save(buf, "PNG")
    elif case == "exif":
        exif = Image.Exif()
        exif[0x0112] = 6
        im.save(buf, "PNG", exif=exif.tobytes())
    else:
        im.save(buf, "PNG")
    data = buf.getvalue()
    if case == "broken crc":
        at = data.index(b"IDAT") + 4
        data = data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]
    elif case == "truncated data":
        at = data.index(b"IDAT")
        length = int.from_bytes(data[at - 4 : at], "big")
        body = data[at + 4 : at + 4 + length - 3]
        chunk = (len(body)).to_bytes(4, "big") + b"IDAT" + body + zlib.crc32(b"IDAT" + body).to_bytes(4, "big")
        data = data[: at - 4] + chunk + data[at + 4 + length + 4 :]
    assert _png_passthrough(data, "x") is None
    try:
        prepared = prepare_image(data, "signature image")
    except ValueError:
        assert case in ("broken crc", "truncated data", "interlaced")  # Pillow refuses these too
        return
    assert prepared.png_colors == 0 and prepared.source is None
