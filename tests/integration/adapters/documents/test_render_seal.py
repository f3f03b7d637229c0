"""The visible seal (R-DOC-2): red, vector, its characters drawn as outlines (a picture, not text),
and those outlines the same shapes the fonts draw."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]

from ecert.adapters.documents.fonts import FontSet, default_fonts
from ecert.adapters.documents.seal_image import SEAL_ARC_TEXT, SEAL_LINES, draw_seal, glyph_outline, seal_operators
from helpers_documents import need


def _raster(pdf: bytes, dpi: int = 100) -> Image.Image:
    pdfium = need("pypdfium2")
    img: Image.Image = pdfium.PdfDocument(pdf)[0].render(scale=dpi / 72).to_pil().convert("RGB")
    return img


def _seal_pdf(fonts: FontSet) -> bytes:
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(140, 140), invariant=1)
    draw_seal(c, 70, 70, 60, fonts=fonts)
    c.showPage()
    c.save()
    return buf.getvalue()


@pytest.fixture(scope="module")
def fonts() -> FontSet:
    return default_fonts()


def test_seal_is_red_and_round__R_DOC_2(fonts: FontSet) -> None:
    img = _raster(_seal_pdf(fonts))
    w, h = img.size
    red = [(x, y) for y in range(h) for x in range(w) if _is_red(img.getpixel((x, y)))]
    assert len(red) > 0.1 * w * h
    xs, ys = [x for x, _ in red], [y for _, y in red]
    assert abs((min(xs) + max(xs)) / 2 - w / 2) < 3 and abs((min(ys) + max(ys)) / 2 - h / 2) < 3
    assert _is_red(img.getpixel((w // 2, h // 2)))  # the star's centre
    assert not _is_red(img.getpixel((w // 2 + int(w * 0.12), h // 2 + int(h * 0.01))))  # between star and text


def _is_red(px: Any) -> bool:
    r, g, b = px
    return bool(r > 170 and g < 100 and b < 100)


def test_seal_characters_are_pictures_not_text__R_DOC_2(fonts: FontSet, tmp_path: Path) -> None:
    ops = seal_operators(60, fonts)
    assert " Tj" not in ops and "BT" not in ops
    assert ops.count(" cm ") == len(SEAL_ARC_TEXT) + sum(map(len, SEAL_LINES))
    exe = shutil.which("pdftotext")
    if exe is None:
        pytest.fail("pdftotext (poppler-utils) is not installed — run scripts/setup")
    src = tmp_path / "seal.pdf"
    src.write_bytes(_seal_pdf(fonts))
    assert subprocess.run([exe, str(src), "-"], check=True, capture_output=True, text=True).stdout.strip() == ""


@pytest.mark.parametrize(("font_index", "ch"), [(0, "国"), (1, "章"), (1, "\u4dae"), (2, "\U00020bb7")])
def test_outlines_match_the_fonts_own_rendering(fonts: FontSet, font_index: int, ch: str) -> None:
    """The glyph parser against the renderer: outline drawn as a path vs the same glyph drawn as text."""
    font = fonts.fonts[font_index]
    glyph = glyph_outline(font.ttfont.face, ch)
    size = 100.0
    s = size / glyph.units_per_em
    as_path, as_text = io.BytesIO(), io.BytesIO()
    for buf, literal in ((as_path, True), (as_text, False)):
        c = Canvas(buf, pagesize=(140, 140), invariant=1)
        if literal:
            c.addLiteral(f"q {s:.6f} 0 0 {s:.6f} 20 30 cm\n{glyph.path}\nf Q")
        else:
            c.setFont(font.name, size)
            c.drawString(20, 30, ch)
        c.showPage()
        c.save()
    a = _raster(as_path.getvalue(), 150).convert("L").point(lambda v: 255 if v < 128 else 0)
    b = _raster(as_text.getvalue(), 150).convert("L").point(lambda v: 255 if v < 128 else 0)
    inter = ImageChops.multiply(a, b).histogram()[255]
    union = ImageChops.lighter(a, b).histogram()[255]
    assert union > 500
    assert inter / union > 0.95
