"""FAST certificate PDF writer: tests/integration/test_fast_render.py holds it equal to reportlab_render (reference).

What issuance uses: the page written directly as PDF (issue "national scale": issuance speed; R-DOC-1, R-DOC-4).

:func:`.reportlab_render.render_certificate` draws through ReportLab: about 5–8 ms a certificate, most of it
ReportLab's per-document object model, font subsetting and serialisation of parts that are the same
on every certificate. This module paints the *same page* — the same layout code
(:func:`.page.paint_page`) calls a :class:`_PdfPainter` instead of the ReportLab canvas — and writes
the file itself:

* **Template, once per process and font set.** Catalog, page tree, the static Form XObjects (frame
  and rosettes, security background, seal picture) and the *fixed* font — the main font's subset
  for text that is the same on every certificate (labels, title, issuer, 年月日 and all printable
  ASCII, so dates and identifiers need no per-document glyphs) — are serialised once with fixed
  object numbers and copied as bytes into every document. Certificates with the DEMO mark have a
  template of their own, in which the whole mark is one more Form XObject (a *layer*,
  :meth:`.page.Painter.layer`): per document it costs one ``Do``.
* **Per document** only: the content stream, the Info dictionary, the images (prepared once per
  distinct image, :func:`.page.prepare_image`), and one small subset font per fallback-chain font
  for the variable text (name, employer, specialties …), assembled from cached per-glyph pieces
  (:mod:`.ttf_subset`, byte-identical to ReportLab's subsetter) with a ToUnicode map that is right
  beyond the BMP (:func:`.fonts.to_unicode_cmap`, so 𠮷 𪚥 extract exactly).
* The QR code comes from :func:`.qr.fast_qr_operators` (the same matrix as segno, fixed mask).

The result is checked against the ReportLab rendering in the tests: same extracted text (pdftotext,
rare characters included), same word positions, same pixels within anti-aliasing, a scannable QR
code; and the sealed file passes pdfsig, pyHanko and ``ecert verify`` with the same verdicts on
tampered copies. Output is deterministic: the same inputs give the same bytes.
"""

from __future__ import annotations

import hashlib
import threading
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from reportlab.lib.rl_accel import fp_str  # type: ignore[import-untyped]
from reportlab.pdfbase.ttfonts import FF_NONSYMBOLIC, FF_SYMBOLIC  # type: ignore[import-untyped]

from ecert.adapters.documents.fonts import FontSet, LoadedFont, subset_tag, to_unicode_cmap
from ecert.adapters.documents.page import (
    PAGE_H,
    PAGE_W,
    PLAIN,
    Matrix,
    Painter,
    PreparedImage,
    TextStyle,
    fit_text,
    paint_page,
)
from ecert.adapters.documents.qr import fast_qr_operators
from ecert.adapters.documents.seal_image import SEAL_OPACITY, FormBuilder, seal_form, static_form
from ecert.adapters.documents.ttf_subset import SubsetFont
from ecert.domain.certificate import TITLE, CertificateContent, PrintedSpecialty

_HEADER = b"%PDF-1.4\n%\x93\x8c\x8b\x9e ecert\n"
_CATALOG, _PAGES, _PAGE = 1, 2, 3
_SUBSET_SIZE = 256  # one-byte codes per simple TrueType font
_TEXT_CACHE_MAX = 4096
_SEAL_GS = "GSeal"
_MULTIPLY_GS = "GMul"
_MULTIPLY = b"/%s << /BM /Multiply >>" % _MULTIPLY_GS.encode("ascii")
_SEAL_STATE = b"/%s << /ca %s /CA %s /BM /Multiply >>" % (
    _SEAL_GS.encode("ascii"),
    fp_str(SEAL_OPACITY).encode("ascii"),
    fp_str(SEAL_OPACITY).encode("ascii"),
)

BBox = tuple[float, float, float, float]


def _obj(num: int, body: bytes) -> bytes:
    return b"%d 0 obj\n" % num + body + b"\nendobj\n"


def _stream(dictionary: bytes, data: bytes) -> bytes:
    """A stream object body: ``dictionary`` is the inside of ``<< >>`` without /Length."""
    return b"<< " + dictionary + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def pdf_text_string(value: str) -> bytes:
    """A PDF text string: PDFDocEncoding-safe ASCII as a literal, anything else UTF-16BE with BOM (hex)."""
    if value.isascii() and value.isprintable():
        return b"(" + value.encode("ascii").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"
    return b"<FEFF" + value.encode("utf-16-be").hex().upper().encode("ascii") + b">"


def _fixed_chars_sample() -> CertificateContent:
    """A content whose fixed-font texts (labels, dates, issuer) show every character such texts use: what
    is printed in the variable fonts does not matter here, so every such text is "A" and every date the same."""
    texts = ("serial", "identifier", "registration_no", "name", "gender", "id_number_masked", "employer_name")
    day = date(2000, 1, 1)
    return CertificateContent(
        **dict.fromkeys(texts, "A"),
        employer_uscc="A",
        birth_date=day,
        specialties=(PrintedSpecialty("A", day),),
        usage_from=day,
        usage_until=day,
        issue_date=day,
        data_version=1,
    )


# ---------------------------------------------------------------------------------------------
# Per font set: the template and the subsetters.


@dataclass
class _FontInfo:
    """What a font's objects need besides the subset."""

    loaded: LoadedFont
    subsetter: SubsetFont
    descriptor_tail: bytes  # the FontDescriptor entries that do not depend on the subset
    widths: dict[int, bytes] = field(default_factory=dict)  # code point -> formatted width

    def width(self, cp: int) -> bytes:
        hit = self.widths.get(cp)
        if hit is None:
            hit = self.widths[cp] = str(round(self.loaded.ttfont.face.getCharWidth(cp), 3)).encode("ascii")
        return hit


def _font_info(loaded: LoadedFont) -> _FontInfo:
    face = loaded.ttfont.face
    flags = (face.flags & ~FF_NONSYMBOLIC) | FF_SYMBOLIC
    tail = (
        f"/Ascent {fp_str(face.ascent)} /CapHeight {fp_str(face.capHeight)} /Descent {fp_str(face.descent)} "
        f"/Flags {flags} /FontBBox [{fp_str(*face.bbox)}] /ItalicAngle {fp_str(face.italicAngle)} "
        f"/StemV {fp_str(face.stemV)} /MissingWidth {fp_str(face.defaultWidth)}"
    ).encode("ascii")
    return _FontInfo(loaded, SubsetFont(face), tail)


def _font_objects(info: _FontInfo, subset: list[int], first: int) -> list[tuple[int, bytes]]:
    """Font, descriptor, font program and ToUnicode objects (numbers ``first`` … ``first + 3``)
    for ``subset`` (code point of code 0, 1, …), as ReportLab's TTFont.addObjects lays them out."""
    face = info.loaded.ttfont.face
    base = subset_tag(info.loaded.name, subset) + "+" + (face.name + face.subfontNameX).decode("pdfdoc")
    base_b = base.encode("latin-1")
    program, raw_length = info.subsetter.build(subset)
    cmap = zlib.compress(to_unicode_cmap(base, subset).encode("ascii"), 6)
    widths = b" ".join(info.width(cp) for cp in subset)
    font = (
        b"<< /Type /Font /Subtype /TrueType /BaseFont /" + base_b + b" /FirstChar 0 /LastChar %d" % (len(subset) - 1)
        + b" /Widths [" + widths + b"] /FontDescriptor %d 0 R /ToUnicode %d 0 R >>" % (first + 1, first + 3)
    )  # fmt: skip
    descriptor = (
        b"<< /Type /FontDescriptor /FontName /" + base_b + b" " + info.descriptor_tail
        + b" /FontFile2 %d 0 R >>" % (first + 2)
    )  # fmt: skip
    return [
        (first, font),
        (first + 1, descriptor),
        (first + 2, _stream(b"/Filter /FlateDecode /Length1 %d" % raw_length, program)),
        (first + 3, _stream(b"/Filter /FlateDecode", cmap)),
    ]


class _Template:
    """The bytes shared by every certificate of one font set and kind — with the DEMO mark or
    without (see the module docstring)."""

    FIXED_RES = "F0"

    def __init__(self, fonts: FontSet, demo: bool = False) -> None:
        self.fonts = fonts
        self.demo = demo
        self.infos = {f.name: _font_info(f) for f in fonts.fonts}
        self.fixed_name = fonts.fixed
        self.text_cache: dict[tuple[Any, ...], tuple[str, float]] = {}
        self.lock = threading.Lock()
        # A dry run of the layout collects the fixed texts' characters, the static forms and layers.
        collector = _Collector(fonts)
        sample = _fixed_chars_sample()
        blank = PreparedImage("EcertBlank", 1, 1, "DeviceGray", b"", False, None)
        paint_page(collector, sample, "A", blank, None, demo=demo)
        main = fonts.fonts[0]
        extra = sorted(cp for cp in collector.fixed_chars if cp >= 128 and cp in main.cmap)
        extra = extra[: _SUBSET_SIZE - 128]
        self.fixed_subset = list(range(128)) + extra
        self.fixed_codes: dict[str, int] = {chr(cp): i for i, cp in enumerate(self.fixed_subset) if 32 <= cp != 127}
        objects: list[tuple[int, bytes]] = []
        num = 4
        self.fixed_font_ref = b"/%s %d 0 R" % (self.FIXED_RES.encode("ascii"), num)
        objects += _font_objects(self.infos[main.name], self.fixed_subset, num)
        num += 4
        self.forms: dict[str, tuple[int, str]] = {}  # key -> (object number, resource name)
        for key, build in collector.forms.items():
            objects.append((num, _form_body(key, build)))
            self.forms[key] = (num, f"Fm{num}")
            num += 1
        self.layers: dict[str, tuple[int, str]] = {}  # key -> (object number, resource name)
        for key, paint in collector.layers.items():
            objects.append((num, self._layer_body(key, paint)))
            self.layers[key] = (num, f"Fm{num}")
            num += 1
        objects.append((_CATALOG, b"<< /Type /Catalog /Pages 2 0 R /Lang (zh-CN) /PageMode /UseNone >>"))
        objects.append((_PAGES, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"))
        self.first_free = num
        chunks: list[bytes] = []
        self.offsets: dict[int, int] = {}
        at = len(_HEADER)
        for n, body in objects:
            chunk = _obj(n, body)
            self.offsets[n] = at
            at += len(chunk)
            chunks.append(chunk)
        self.block = _HEADER + b"".join(chunks)
        self.xobject_refs = b" ".join(
            b"/%s %d 0 R" % (name.encode("ascii"), n) for n, name in [*self.forms.values(), *self.layers.values()]
        )

    def _layer_body(self, key: str, paint: Callable[[Painter], None]) -> bytes:
        """A layer (:meth:`.page.Painter.layer`) as a Form XObject over the fixed font and the static
        forms; painted with the template's painter, so its operators are those of an inline painting."""
        painter = _PdfPainter(self)
        paint(painter)
        if painter.doc_fonts or painter.images or painter.extra_forms or painter.seal_used:
            raise ValueError(f"layer {key} draws something that differs between documents")
        resources = b"/Font << " + self.fixed_font_ref + b" >> /XObject << " + b" ".join(
            b"/%s %d 0 R" % (name.encode("ascii"), n) for n, name in self.forms.values()
        ) + b" >>"  # fmt: skip
        if painter.multiply_used:
            resources += b" /ExtGState << " + _MULTIPLY + b" >>"
        data = zlib.compress("\n".join(painter.ops).encode("ascii"), 9)
        return _stream(
            b"/Type /XObject /Subtype /Form /BBox [%s] /Resources << %s >> /Filter /FlateDecode"
            % (fp_str(0, 0, PAGE_W, PAGE_H).encode("ascii"), resources),
            data,
        )


def _form_body(key: str, build: FormBuilder) -> bytes:
    data, bbox = static_form(key, build)
    return _stream(
        b"/Type /XObject /Subtype /Form /BBox [%s] /Resources << >> /Filter /FlateDecode"
        % fp_str(*[round(v, 2) for v in bbox]).encode("ascii"),
        data,
    )


_TEMPLATES: dict[tuple[int, bool], _Template] = {}
_TEMPLATES_LOCK = threading.Lock()


def template_for(fonts: FontSet, demo: bool = False) -> _Template:
    key = (id(fonts), demo)
    hit = _TEMPLATES.get(key)
    if hit is None or hit.fonts is not fonts:
        with _TEMPLATES_LOCK:
            hit = _TEMPLATES.get(key)
            if hit is None or hit.fonts is not fonts:
                hit = _TEMPLATES[key] = _Template(fonts, demo)
    return hit


# ---------------------------------------------------------------------------------------------
# Painters.


class _Collector:
    """Dry-run painter: records the fixed texts' characters, the static forms and the layers, draws nothing."""

    def __init__(self, fonts: FontSet) -> None:
        self.fonts = fonts
        self.fixed_chars: set[int] = set()
        self.forms: dict[str, FormBuilder] = {}
        self.layers: dict[str, Callable[[Painter], None]] = {}

    def text(self, text: str, x: float, y: float, size: float, style: TextStyle = PLAIN) -> float:
        if style.fixed:
            self.fixed_chars.update(map(ord, text))
        return size

    def literal(self, ops: str) -> None:
        pass

    def form(self, key: str, build: FormBuilder) -> None:
        self.forms.setdefault(key, build)

    def image_fit(self, img: PreparedImage, x: float, y: float, w: float, h: float) -> None:
        pass

    def qr(self, text: str, x: float, y: float, size: float) -> None:
        pass

    def seal(self, cx: float, cy: float, radius: float) -> None:
        key, build = seal_form(radius, self.fonts)
        self.forms.setdefault(key, build)

    def overprint(self, key: str, build: FormBuilder, at: Sequence[Matrix]) -> None:
        self.forms.setdefault(key, build)

    def layer(self, key: str, paint: Callable[[Painter], None]) -> None:
        self.layers.setdefault(key, paint)
        paint(self)


class _DocFont:
    """The per-document subsets of one font: code point -> (subset index, code)."""

    def __init__(self, info: _FontInfo) -> None:
        self.info = info
        self.subsets: list[list[int]] = []
        self.codes: dict[int, tuple[int, int]] = {}

    def encode(self, cp: int) -> tuple[int, int]:
        hit = self.codes.get(cp)
        if hit is None:
            if not self.subsets or len(self.subsets[-1]) >= _SUBSET_SIZE:
                self.subsets.append([0])  # code 0 stays unused, as in ReportLab's subsets
            sub = self.subsets[-1]
            hit = self.codes[cp] = (len(self.subsets) - 1, len(sub))
            sub.append(cp)
        return hit


class _PdfPainter:
    """Paints into a content stream and tracks the per-document resources."""

    def __init__(self, tpl: _Template) -> None:
        self.tpl = tpl
        self.fonts = tpl.fonts
        self.ops: list[str] = []
        self.doc_fonts: dict[str, _DocFont] = {}
        self.resource_of: dict[tuple[str, int], str] = {}  # (font name, subset index) -> resource name
        self.images: dict[str, PreparedImage] = {}
        self.extra_forms: dict[str, FormBuilder] = {}
        self.seal_used = False
        self.multiply_used = False

    # --- text
    def text(self, text: str, x: float, y: float, size: float, style: TextStyle = PLAIN) -> float:
        tpl = self.tpl
        key = None
        if style.fixed:
            codes = tpl.fixed_codes
            if all(ch in codes for ch in text):
                key = (text, x, y, size, style)
                hit = tpl.text_cache.get(key)
                if hit is not None:
                    self.ops.append(hit[0])
                    return hit[1]
                runs: list[tuple[str, str]] = [(tpl.fixed_name, text)]
            else:
                runs = self.fonts.runs(text)
        else:
            runs = self.fonts.runs(text)
        x, size = fit_text(runs, text, x, size, style)
        color, char_space, bold = style.color, style.char_space, style.bold
        main, fixed_name = self.fonts.main, tpl.fixed_name
        fallback = any(font not in (main, fixed_name) for font, _ in runs)
        local_state = bold or char_space or fallback
        col = fp_str(*color)
        out = []
        if local_state:
            out.append(f"q\n{fp_str(size * (0.028 if bold else 0.012))} w\n")
        out.append(f"BT 1 0 0 1 {fp_str(x, y)} Tm {col} rg")
        if char_space:
            out.append(f" {fp_str(char_space)} Tc")
        if bold or fallback:
            out.append(f" {col} RG")
        if bold:
            out.append(" 2 Tr")
        fsize = fp_str(size)
        for font, part in runs:
            if fallback and not bold:
                out.append(" 0 Tr" if font in (main, fixed_name) else " 2 Tr")
            if font == fixed_name:
                codes = tpl.fixed_codes
                out.append(f" /{tpl.FIXED_RES} {fsize} Tf <{bytes([codes[ch] for ch in part]).hex()}> Tj")
            else:
                self._encode_run(out, font, part, fsize)
        out.append(" ET")
        if local_state:
            out.append("\nQ")
        ops = "".join(out)
        self.ops.append(ops)
        if key is not None:
            with tpl.lock:
                if len(tpl.text_cache) >= _TEXT_CACHE_MAX:
                    tpl.text_cache.clear()
                tpl.text_cache[key] = (ops, size)
        return size

    def _encode_run(self, out: list[str], font: str, part: str, fsize: str) -> None:
        doc_font = self.doc_fonts.get(font)
        if doc_font is None:
            doc_font = self.doc_fonts[font] = _DocFont(self.tpl.infos[font])
        current = -1
        buf = bytearray()
        for ch in part:
            sub, code = doc_font.encode(ord(ch))
            if sub != current:
                if buf:
                    out.append(f" /{self._resource(font, current)} {fsize} Tf <{buf.hex()}> Tj")
                    buf = bytearray()
                current = sub
            buf.append(code)
        if buf:
            out.append(f" /{self._resource(font, current)} {fsize} Tf <{buf.hex()}> Tj")

    def _resource(self, font: str, subset: int) -> str:
        key = (font, subset)
        name = self.resource_of.get(key)
        if name is None:
            name = self.resource_of[key] = f"F{len(self.resource_of) + 1}"
        return name

    # --- the rest
    def literal(self, ops: str) -> None:
        self.ops.append(ops)

    def form(self, key: str, build: FormBuilder) -> None:
        hit = self.tpl.forms.get(key)
        if hit is not None:
            self.ops.append(f"/{hit[1]} Do")
            return
        self.extra_forms.setdefault(key, build)
        self.ops.append(f"/Xf{list(self.extra_forms).index(key)} Do")

    def image_fit(self, img: PreparedImage, x: float, y: float, w: float, h: float) -> None:
        self.images.setdefault(img.name, img)
        scale = min(w / img.width, h / img.height)
        dw, dh = img.width * scale, img.height * scale
        self.ops.append(f"q\n{fp_str(dw, 0, 0, dh, x + (w - dw) / 2, y + (h - dh) / 2)} cm\n/{img.name} Do\nQ")

    def qr(self, text: str, x: float, y: float, size: float) -> None:
        self.ops.append(fast_qr_operators(text, x, y, size)[0])

    def seal(self, cx: float, cy: float, radius: float) -> None:
        key, build = seal_form(radius, self.fonts)
        self.seal_used = True
        self.ops.append(f"q\n/{_SEAL_GS} gs\n1 0 0 1 {fp_str(cx, cy)} cm")
        self.form(key, build)
        self.ops.append("Q")

    def overprint(self, key: str, build: FormBuilder, at: Sequence[Matrix]) -> None:
        self.multiply_used = True
        self.ops.append(f"q\n/{_MULTIPLY_GS} gs")
        for m in at:
            self.ops.append(f"q\n{fp_str(*m)} cm")
            self.form(key, build)
            self.ops.append("Q")
        self.ops.append("Q")

    def layer(self, key: str, paint: Callable[[Painter], None]) -> None:
        hit = self.tpl.layers.get(key)
        if hit is None:
            paint(self)
        else:
            self.ops.append(f"/{hit[1]} Do")


# ---------------------------------------------------------------------------------------------
# Images: object bodies cached per prepared image.

_IMAGE_BODIES: dict[tuple[str, int], tuple[bytes, bytes | None]] = {}
_IMAGE_BODIES_MAX = 256


def _image_bodies(img: PreparedImage, num: int) -> tuple[bytes, bytes | None]:
    """(image XObject body, soft-mask body or None); the soft mask is object ``num + 1``."""
    key = (img.name, num)
    hit = _IMAGE_BODIES.get(key)
    if hit is None:
        d = (
            b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /%s /BitsPerComponent 8 /Filter /%s"
            % (
                img.width,
                img.height,
                img.color_space.encode("ascii"),
                b"DCTDecode" if img.dct else b"FlateDecode",
            )
            + img.decode_parms()
        )
        mask = None
        if img.smask is not None:
            d += b" /SMask %d 0 R" % (num + 1)
            mask = _stream(
                b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8"
                b" /Filter /FlateDecode" % (img.width, img.height),
                img.smask,
            )
        hit = (_stream(d, img.data), mask)
        if len(_IMAGE_BODIES) >= _IMAGE_BODIES_MAX:
            _IMAGE_BODIES.clear()
        _IMAGE_BODIES[key] = hit
    return hit


# ---------------------------------------------------------------------------------------------
# The document.


def render_fast(
    content: CertificateContent,
    qr_text: str,
    signature: PreparedImage,
    portrait: PreparedImage | None,
    fonts: FontSet,
    metadata: Mapping[str, str],
    demo: bool = False,
) -> bytes:
    """The unsigned certificate PDF; inputs already checked by :func:`.page.prepare_inputs`;
    ``demo``: with the DEMO mark (:func:`.page.paint_demo_mark`)."""
    tpl = template_for(fonts, demo)
    painter = _PdfPainter(tpl)
    paint_page(painter, content, qr_text, signature, portrait, demo=demo)

    objects: list[tuple[int, bytes]] = []
    num = tpl.first_free
    info_num, content_num = num, num + 1
    num += 2
    xobjects = [tpl.xobject_refs]
    for img in painter.images.values():
        body, mask = _image_bodies(img, num)
        objects.append((num, body))
        xobjects.append(b"/%s %d 0 R" % (img.name.encode("ascii"), num))
        num += 1
        if mask is not None:
            objects.append((num, mask))
            num += 1
    for i, (key, build) in enumerate(painter.extra_forms.items()):
        objects.append((num, _form_body(key, build)))
        xobjects.append(b"/Xf%d %d 0 R" % (i, num))
        num += 1
    font_refs = [tpl.fixed_font_ref]
    for (font, subset_index), res in painter.resource_of.items():
        subset = painter.doc_fonts[font].subsets[subset_index]
        objects += _font_objects(tpl.infos[font], subset, num)
        font_refs.append(b"/%s %d 0 R" % (res.encode("ascii"), num))
        num += 4

    # Level 1: a third of level 6's time for 20 % more bytes (mostly the QR code's rectangles).
    stream = zlib.compress("\n".join(painter.ops).encode("ascii"), 1)
    objects.append((content_num, _stream(b"/Filter /FlateDecode", stream)))
    info = _info_dict(content, metadata)
    objects.append((info_num, info))
    states = []
    if painter.seal_used:
        states.append(_SEAL_STATE)
    if painter.multiply_used:  # a layer that was painted inline
        states.append(_MULTIPLY)
    gs = b" /ExtGState << " + b" ".join(states) + b" >>" if states else b""
    page = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %s] /Rotate 0 /Contents %d 0 R /Resources << /Font << "
        % (fp_str(PAGE_W, PAGE_H).encode("ascii"), content_num)
        + b" ".join(font_refs) + b" >> /XObject << " + b" ".join(xobjects) + b" >>"
        + gs
        + b" /ProcSet [/PDF /Text /ImageB /ImageC /ImageI] >> >>"
    )  # fmt: skip
    objects.append((_PAGE, page))

    parts = [tpl.block]
    offsets = dict(tpl.offsets)
    at = len(tpl.block)
    for n, body in objects:
        chunk = _obj(n, body)
        offsets[n] = at
        at += len(chunk)
        parts.append(chunk)
    size = num
    xref = [b"xref\n0 %d\n0000000000 65535 f \n" % size]
    xref += [b"%010d 00000 n \n" % offsets[n] for n in range(1, size)]
    file_id = hashlib.md5(info + stream, usedforsecurity=False).hexdigest().encode("ascii")
    trailer = b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /ID [<%s><%s>] >>\nstartxref\n%d\n%%%%EOF\n" % (
        size,
        _CATALOG,
        info_num,
        file_id,
        file_id,
        at,
    )
    return b"".join([*parts, *xref, trailer])


def _info_dict(content: CertificateContent, metadata: Mapping[str, str]) -> bytes:
    created = f"D:{content.issue_date:%Y%m%d}000000+08'00'"
    entries = {
        "Title": TITLE,
        "Author": content.issuer,
        "Subject": f"一级建造师电子注册证书 {content.registration_no} {content.name}",
        "Keywords": content.identifier,
        "Creator": "ecert",
        "Producer": "ecert",
        "CreationDate": created,
        "ModDate": created,
    }
    entries.update(metadata)
    body = [b"<<"]
    for k, v in entries.items():
        body.append(b" /" + _name(k) + b" " + pdf_text_string(v))
    body.append(b" /Trapped /False >>")
    return b"".join(body)


def _name(key: str) -> bytes:
    """A PDF name (metadata keys are plain identifiers; anything else is refused, never mangled)."""
    if not key.isascii() or not key.isalnum():
        raise ValueError(f"metadata key must be ASCII letters and digits: {key!r}")
    return key.encode("ascii")
