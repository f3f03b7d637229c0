"""R-DOC-6: the pieces of the OFD painter — PDF path operators become OFD path objects in page
millimetres, embedded subsets get a Unicode cmap, packages are deterministic zips."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile

from reportlab.pdfbase.ttfonts import TTFontFile

from ecert.adapters.documents import default_fonts
from ecert.adapters.documents.ofd_render import (
    OFD_NS,
    ZIP_TIME,
    _glyph_ids,
    _PathOps,
    _subsetter,
    with_unicode_cmap,
    zip_package,
)
from ecert.adapters.documents.page import MM, PAGE_H

NS = {"ofd": OFD_NS}


def _objects(ops: str) -> list[ET.Element]:
    interp = _PathOps()
    interp.run(ops)
    return [_el(o) for o in interp.objects]


def _el(xml: str) -> ET.Element:
    """An object element, parsed with the namespace its page declares."""
    return ET.fromstring(xml.replace(" ", f' xmlns:ofd="{OFD_NS}" ', 1))


def _colour(obj: ET.Element, which: str) -> str | None:
    found = obj.find(f"ofd:{which}Color", NS)
    return None if found is None else found.get("Value")


def test_a_filled_rectangle_in_page_millimetres() -> None:
    (obj,) = _objects(f"0 0 1 rg {10 * MM} {PAGE_H - 30 * MM} {20 * MM} {5 * MM} re f")
    assert obj.get("Fill") == "true" and obj.get("Stroke") == "false"
    assert _colour(obj, "Fill") == "0 0 255"
    # y grows downwards from the top in OFD: the rectangle's bottom edge (PDF y) is 30 mm from the top.
    assert obj.findtext("ofd:AbbreviatedData", None, NS) == "M 10 30 L 30 30 L 30 25 L 10 25 C"


def test_graphics_state_scales_line_width_and_restores() -> None:
    first, second = _objects("q 2 0 0 2 0 0 cm 1 0 0 RG 1.5 w 0 0 m 10 0 l S Q 0 0 m 10 0 l S")
    assert float(first.get("LineWidth", "")) == round(3 / MM, 3)
    assert _colour(first, "Stroke") == "255 0 0"
    assert float(second.get("LineWidth", "")) == round(1 / MM, 3)
    assert _colour(second, "Stroke") == "0 0 0"
    assert first.get("Fill") is None  # stroked only


def test_a_clip_applies_until_restored() -> None:
    clipped, free = _objects("q 0 0 100 100 re 10 10 20 20 re W* n 0 0 50 50 re f Q 0 0 50 50 re f")
    path = clipped.find("ofd:Clips/ofd:Clip/ofd:Area/ofd:Path", NS)
    assert path is not None and path.get("Rule") == "Even-Odd"
    assert free.find("ofd:Clips", NS) is None


def test_embedded_subsets_map_unicode_to_the_cgtransform_glyphs() -> None:
    fonts = default_fonts()
    face = fonts.face(fonts.main)
    codes = [0, *map(ord, "一级建造师A1")]
    sub = _subsetter(face)
    glyphs = _glyph_ids(sub, codes)
    font = TTFontFile(io.BytesIO(with_unicode_cmap(sub.program(codes), codes, glyphs)), validate=1)
    assert {cp: font.charToGlyph[cp] for cp in codes[1:]} == dict(zip(codes[1:], glyphs[1:], strict=True))


def test_zip_package_is_deterministic() -> None:
    files = [("OFD.xml", b"<x/>"), ("Doc_0/a.bin", bytes(range(256)))]
    a, b = zip_package(files), zip_package(files)
    assert a == b
    with zipfile.ZipFile(io.BytesIO(a)) as z:
        assert [i.filename for i in z.infolist()] == ["OFD.xml", "Doc_0/a.bin"]
        assert {i.date_time for i in z.infolist()} == {ZIP_TIME}
