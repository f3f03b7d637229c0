"""REFERENCE certificate renderer (ReportLab): tests/integration/test_fast_render.py holds fast_render equal to it.

:func:`render_certificate` paints the page of :mod:`.page` (:func:`.page.paint_page`) on a ReportLab
canvas through :class:`CanvasPainter`. Issuance uses :mod:`.fast_render`, which writes the same page
directly as PDF in about 1 ms; this rendering is the reference it is compared with, pixel for pixel,
text and word positions (tests/integration/test_fast_render.py). Output is deterministic: the same
inputs give the same bytes.

Speed (about 6–8 ms a certificate on a 2-core machine): everything that is the same on every
certificate — frame, rosettes, security background, seal — is a Form XObject compressed once per
process; labels and dates use the main font's fixed instance, whose subset is cached compressed;
images are prepared once per distinct input (:func:`.page.prepare_image`); the QR code uses a fixed
mask (:mod:`.qr`).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfdoc  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]

from ecert.adapters.documents import page
from ecert.adapters.documents.fonts import DCT_DONE, FLATE_DONE, FontSet, default_fonts
from ecert.adapters.documents.qr import draw_qr
from ecert.adapters.documents.seal_image import FormBuilder, draw_seal, draw_static_form
from ecert.domain.certificate import TITLE, CertificateContent

# ---------------------------------------------------------------------------------------------
# Text with the fallback chain.


def draw_text(
    c: Any, fonts: FontSet, text: str, x: float, y: float, size: float, style: page.TextStyle = page.PLAIN
) -> float:
    """Draw ``text`` at baseline ``y`` (points), each character in the first font that has it, placed and
    sized by :func:`.page.fit_text`: :meth:`.page.Painter.text` on a ReportLab canvas. A ``fixed`` text is
    drawn with the main font's fixed instance, whose subset is then cached (:func:`.fonts.load_font`).
    Returns the font size used.
    """
    runs = [(fonts.fixed, text)] if style.fixed and fonts.fixed_covers(text) else fonts.runs(text)
    x, size = page.fit_text(runs, text, x, size, style)
    color, char_space, bold = style.color, style.char_space, style.bold
    # Fallback fonts are Ming faces, lighter than the main Hei: stroke them a little to match its weight.
    fallback = any(font not in (fonts.main, fonts.fixed) for font, _ in runs)
    local_state = bold or char_space or fallback
    if local_state:
        c.saveState()  # render mode, line width and char spacing are graphics state: keep them local
        c.setLineWidth(size * (0.028 if bold else 0.012))
    t = c.beginText(x, y)
    t.setFillColorRGB(*color)
    if char_space:
        t.setCharSpace(char_space)
    if bold or fallback:
        t.setStrokeColorRGB(*color)
    if bold:  # faux bold: fill and stroke the glyphs (the CJK fonts here have no bold face)
        t.setTextRenderMode(2)
    for font, part in runs:
        if fallback and not bold:
            t.setTextRenderMode(0 if font in (fonts.main, fonts.fixed) else 2)
        t.setFont(font, size)
        t.textOut(part)
    c.drawText(t)
    if local_state:
        c.restoreState()
    return size


def draw_image_fit(c: Any, img: page.PreparedImage, x: float, y: float, w: float, h: float) -> None:
    """Draw ``img`` as large as fits in the box (points, lower-left x, y), centred, aspect kept."""
    doc = c._doc
    internal = doc.getXObjectName(img.name)
    if internal not in doc.idToObject:
        stream = pdfdoc.PDFStream(content=img.data, filters=[DCT_DONE if img.dct else FLATE_DONE])
        d = stream.dictionary
        d["Type"] = pdfdoc.PDFName("XObject")
        d["Subtype"] = pdfdoc.PDFName("Image")
        d["Width"] = img.width
        d["Height"] = img.height
        d["ColorSpace"] = pdfdoc.PDFName(img.color_space)
        d["BitsPerComponent"] = 8
        if img.png_colors:  # a PNG's image data passed through (page.prepare_image)
            parms = {"Predictor": 15, "Colors": img.png_colors, "BitsPerComponent": 8, "Columns": img.width}
            d["DecodeParms"] = pdfdoc.PDFArray([pdfdoc.PDFDictionary(parms)])  # ReportLab writes /Filter as an array
        if img.smask is not None:
            mask = pdfdoc.PDFStream(content=img.smask, filters=[FLATE_DONE])
            md = mask.dictionary
            md["Type"] = pdfdoc.PDFName("XObject")
            md["Subtype"] = pdfdoc.PDFName("Image")
            md["Width"] = img.width
            md["Height"] = img.height
            md["ColorSpace"] = pdfdoc.PDFName("DeviceGray")
            md["BitsPerComponent"] = 8
            d["SMask"] = doc.Reference(mask, doc.getXObjectName(img.name + "m"))
        doc.Reference(stream, internal)
    scale = min(w / img.width, h / img.height)
    dw, dh = img.width * scale, img.height * scale
    c.saveState()
    c.transform(dw, 0, 0, dh, x + (w - dw) / 2, y + (h - dh) / 2)
    c.doForm(img.name)
    c.restoreState()


# ---------------------------------------------------------------------------------------------
# The document.


class _Info(pdfdoc.PDFInfo):  # type: ignore[misc]
    """Document information dictionary with custom keys and a creation date from the content."""

    def __init__(self, extra: Mapping[str, str], created: str) -> None:
        super().__init__()
        self.extra = dict(extra)
        self.created = created

    def digest(self, md5object: Any) -> None:
        # The file ID is derived from this digest; include the custom entries so that different
        # certificates get different IDs while the same input still gives the same bytes.
        super().digest(md5object)
        for k in sorted(self.extra):
            md5object.update(k.encode("utf-8") + b"\0" + self.extra[k].encode("utf-8") + b"\0")

    def format(self, document: Any) -> bytes:
        d: dict[str, Any] = {
            "Title": pdfdoc.PDFString(self.title),
            "Author": pdfdoc.PDFString(self.author),
            "Subject": pdfdoc.PDFString(self.subject),
            "Keywords": pdfdoc.PDFString(self.keywords),
            "Creator": pdfdoc.PDFString(self.creator),
            "Producer": pdfdoc.PDFString(self.producer),
            "CreationDate": pdfdoc.PDFString(self.created),
            "ModDate": pdfdoc.PDFString(self.created),
            "Trapped": pdfdoc.PDFName(self.trapped),
        }
        for k, v in self.extra.items():
            d[k] = pdfdoc.PDFString(v)
        out: bytes = pdfdoc.PDFDictionary(d).format(document)
        return out


class CanvasPainter:
    """:class:`Painter` over a ReportLab canvas (the reference rendering)."""

    def __init__(self, c: Any, fonts: FontSet) -> None:
        self.c = c
        self.fonts = fonts

    def text(self, text: str, x: float, y: float, size: float, style: page.TextStyle = page.PLAIN) -> float:
        return draw_text(self.c, self.fonts, text, x, y, size, style)

    def literal(self, ops: str) -> None:
        self.c.addLiteral(ops)

    def form(self, key: str, build: Callable[[], tuple[str, tuple[float, float, float, float]]]) -> None:
        draw_static_form(self.c, key, build)

    def image_fit(self, img: page.PreparedImage, x: float, y: float, w: float, h: float) -> None:
        draw_image_fit(self.c, img, x, y, w, h)

    def qr(self, text: str, x: float, y: float, size: float) -> None:
        draw_qr(self.c, text, x, y, size)

    def seal(self, cx: float, cy: float, radius: float) -> None:
        draw_seal(self.c, cx, cy, radius, fonts=self.fonts)

    def overprint(self, key: str, build: FormBuilder, at: Sequence[page.Matrix]) -> None:
        c = self.c
        c.saveState()
        c.setBlendMode("Multiply")
        for m in at:
            c.saveState()
            c.transform(*m)
            draw_static_form(c, key, build)
            c.restoreState()
        c.restoreState()

    def layer(self, key: str, paint: Callable[[page.Painter], None]) -> None:
        paint(self)


def render_certificate(
    content: CertificateContent,
    *,
    qr_text: str,
    signature_image: bytes,
    photo: bytes | None,
    fonts: FontSet | None = None,
    metadata: Mapping[str, str] | None = None,
    demo: bool = False,
) -> bytes:
    """The unsigned certificate PDF (A4 portrait, one page) for ``content``; ``demo`` adds the DEMO
    mark (:func:`paint_demo_mark`: the seal key is a DEMO one).

    ``signature_image`` and ``photo`` are PNG or JPEG bytes (``ValueError`` if not). ``metadata``
    entries become custom keys of the document information dictionary (besides Title, Author,
    Subject, Keywords). Raises ``RuleRefusal("unsupported_character")`` if a character to print has
    no glyph in any font, and ``ValueError`` for more than ten specialties.
    """
    fs = fonts if fonts is not None else default_fonts()
    signature, portrait = page.prepare_inputs(content, signature_image, photo, fs)
    with _RENDER_LOCK:  # ReportLab keeps per-document font state in objects shared by all documents
        return _render(content, qr_text, signature, portrait, fs, dict(metadata or {}), demo)


_RENDER_LOCK = threading.Lock()


def _render(
    content: CertificateContent,
    qr_text: str,
    signature: page.PreparedImage,
    portrait: page.PreparedImage | None,
    fs: FontSet,
    metadata: dict[str, str],
    demo: bool,
) -> bytes:
    buf = io.BytesIO()
    c = Canvas(
        buf, pagesize=A4, invariant=1, pageCompression=1, lang="zh-CN", initialFontName=fs.fixed, initialFontSize=10
    )
    info = _Info(metadata, f"D:{content.issue_date:%Y%m%d}000000+08'00'")
    info.title = TITLE
    info.author = content.issuer
    info.subject = f"一级建造师电子注册证书 {content.registration_no} {content.name}"
    info.keywords = content.identifier
    info.creator = "ecert"
    info.producer = "ecert (ReportLab)"
    c._doc.info = info
    page.paint_page(CanvasPainter(c, fs), content, qr_text, signature, portrait, demo=demo)
    c.showPage()
    c.save()
    return buf.getvalue()
