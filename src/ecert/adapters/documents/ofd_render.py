"""The certificate as an OFD package (GB/T 33190-2016), the national format (R-DOC-6).

A third painter of the page description (:func:`.page.paint_page`), beside the fast PDF writer
(:mod:`.fast_render`) and the ReportLab reference (:mod:`.reportlab_render`): the same calls paint
the same marks, written as OFD page objects instead of PDF operators.

* **Text** is real text: one ``TextObject`` per font run, its ``TextCode`` holding the characters
  (extractable, searchable — rare characters such as 𠮷 included) with ``DeltaX`` per glyph, and a
  ``CGTransform`` naming the glyph of each character in the embedded font. The fonts are the same
  TrueType subsets as in the PDF (:mod:`.ttf_subset`, chosen per character along the same fallback
  chain, :mod:`.fonts`), embedded as ``Doc_0/Res/font_<n>.ttf`` (listed in ``PublicRes.xml``) with a
  Unicode ``cmap`` put in place of the PDF subset's one-byte codes (:func:`with_unicode_cmap`), so a
  reader finds each glyph either way.
* **Vector art** (frame, rosettes, security background, table rules, QR code, DEMO mark) arrives as
  the PDF path operators the page description is written in; :class:`_PathOps` interprets that small
  subset of PDF (``q Q cm w d rg RG g G m l c v y h re S s f f* F B B* b b* n W W*``) and writes
  ``PathObject`` elements in page millimetres (clips become ``Clips``).
* **Images** (listed in ``DocumentRes.xml``): the signature image and photo as ``ImageObject``
  (PNG, or the JPEG as it came), and the red seal as one PNG picture (``Doc_0/Res/seal.png``, named
  ``ecert-seal`` on the page): the same picture the electronic seal carries
  (:mod:`ecert.adapters.signing.ofd_seal`).

Coordinates are millimetres from the top-left corner of an A4 page (210 × 297). The package is a
zip with fixed timestamps: the same inputs give the same bytes. Static forms are interpreted once
per process and place; render and seal take about 8 ms (about 30 ms with the DEMO mark): bench/ofd.py.

Differences from the PDF that OFD 1.0 forces: no multiply blend mode, so the seal and the DEMO bands
are drawn with opacity (``Alpha``) instead; fallback-font and bold text are stroked as in the PDF.
"""

from __future__ import annotations

import io
import math
import re
import struct
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ParamSpec
from xml.sax.saxutils import escape, quoteattr

from PIL import Image, ImageChops, ImageDraw
from reportlab.lib.rl_accel import calcChecksum  # type: ignore[import-untyped]
from reportlab.pdfbase.pdfmetrics import stringWidth  # type: ignore[import-untyped]

from ecert.adapters.documents.fonts import FontSet
from ecert.adapters.documents.page import (
    MM,
    PAGE_H,
    PLAIN,
    Matrix,
    Painter,
    PreparedImage,
    TextStyle,
    fit_text,
    paint_page,
)
from ecert.adapters.documents.qr import QUIET_ZONE, _runs, qr_matrix
from ecert.adapters.documents.seal_image import SEAL_OPACITY, FormBuilder, seal_form
from ecert.adapters.documents.ttf_subset import SubsetFont
from ecert.domain.certificate import TITLE, CertificateContent

OFD_NS = "http://www.ofdspec.org/2016"
PAGE_BOX = "0 0 210 297"
SEAL_NAME_ON_PAGE = "ecert-seal"  # GraphicUnit Name of the seal picture: where the StampAnnot goes
SEAL_PICTURE = "seal.png"
ZIP_TIME = (2000, 1, 1, 0, 0, 0)  # fixed zip timestamps: deterministic packages
DEMO_BAND_ALPHA = 110  # of 255: the DEMO bands' ink without a multiply blend
SEAL_PX_PER_MM = 12  # the seal picture's resolution (about 300 dpi)
_SUBSET_SIZE = 256  # one-byte codes per embedded subset, as in the PDF

_IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
P = ParamSpec("P")


def _num(v: float) -> str:
    """A coordinate in mm: three decimals, no trailing zeros."""
    s = f"{v:.3f}".rstrip("0").rstrip(".")
    return "0" if s == "-0" else s


def _colour(rgb: Sequence[float]) -> str:
    return " ".join(str(round(c * 255)) for c in rgb)


def _concat(m: Matrix, ctm: Matrix) -> Matrix:
    """``m`` applied first, then ``ctm`` (PDF's ``cm``)."""
    a, b, c, d, e, f = m
    A, B, C, D, E, F = ctm
    return (a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D, e * A + f * C + E, e * B + f * D + F)


# ---------------------------------------------------------------------------------------------
# PDF path operators → OFD path objects.

_TOKEN = re.compile(r"\[[^\]]*\]|[^\s\[\]]+")


@dataclass
class _State:
    ctm: Matrix = _IDENTITY
    fill: tuple[float, ...] = (0.0, 0.0, 0.0)
    stroke: tuple[float, ...] = (0.0, 0.0, 0.0)
    width: float = 1.0
    dash: str = ""
    alpha: int | None = None
    clips: tuple[str, ...] = ()  # ready <ofd:Clip> elements


@dataclass
class _PathOps:
    """Interprets PDF path operators into OFD ``PathObject`` bodies (without their ``ID``), keeping the
    graphics state across calls as a content stream does. ``polygons`` (when collecting) receives each
    painted path flattened to polygons in mm, with its paint mode, for :func:`seal_picture`."""

    objects: list[str] = field(default_factory=list)
    state: _State = field(default_factory=_State)
    stack: list[_State] = field(default_factory=list)
    polygons: list[tuple[str, float, list[list[tuple[float, float]]]]] | None = None
    _path: list[str] = field(default_factory=list)
    _flat: list[list[tuple[float, float]]] = field(default_factory=list)
    _pending_clip: str | None = None

    def point(self, x: float, y: float) -> tuple[float, float]:
        a, b, c, d, e, f = self.state.ctm
        return (a * x + c * y + e) / MM, (PAGE_H - (b * x + d * y + f)) / MM

    def run(self, ops: str) -> None:
        args: list[str] = []
        for tok in _TOKEN.findall(ops):
            if tok[0] in "-.0123456789[":
                args.append(tok)
                continue
            self._op(tok, args)
            args = []

    def _op(self, op: str, args: list[str]) -> None:
        st = self.state
        n = [float(a) for a in args if a[0] != "["]
        if op == "q":
            self.stack.append(_State(st.ctm, st.fill, st.stroke, st.width, st.dash, st.alpha, st.clips))
        elif op == "Q":
            self.state = self.stack.pop() if self.stack else _State()
        elif op == "cm":
            st.ctm = _concat((n[0], n[1], n[2], n[3], n[4], n[5]), st.ctm)
        elif op in ("rg", "g"):
            st.fill = tuple(n) * (3 if op == "g" else 1)
        elif op in ("RG", "G"):
            st.stroke = tuple(n) * (3 if op == "G" else 1)
        elif op == "w":
            st.width = n[0]
        elif op == "d":
            st.dash = args[0].strip("[]").strip() if args else ""
        elif op in ("m", "l"):
            self._to("M" if op == "m" else "L", [(n[0], n[1])])
        elif op == "c":
            self._to("B", [(n[0], n[1]), (n[2], n[3]), (n[4], n[5])])
        elif op in ("v", "y"):  # not used by the page; drawn as lines to the end point
            self._to("L", [(n[-2], n[-1])])
        elif op == "re":
            x, y, w, h = n
            self._to("M", [(x, y)])
            self._to("L", [(x + w, y), (x + w, y + h), (x, y + h)])
            self._path.append("C")
        elif op == "h":
            self._path.append("C")
        elif op in ("W", "W*"):
            self._pending_clip = op
        elif op in ("S", "s", "f", "F", "f*", "B", "B*", "b", "b*", "n"):
            self._paint(op)
        # j, J, M, i, ri and gs (opacity, blend) set nothing OFD draws differently here.

    def _to(self, cmd: str, pts: list[tuple[float, float]]) -> None:
        mm = [self.point(x, y) for x, y in pts]
        if self.polygons is not None:
            self._flatten(cmd, mm)
        if cmd == "L" and len(mm) > 1:
            self._path.append(" ".join(f"L {_num(x)} {_num(y)}" for x, y in mm))
            return
        self._path.append(cmd + " " + " ".join(f"{_num(x)} {_num(y)}" for x, y in mm))

    def _flatten(self, cmd: str, mm: list[tuple[float, float]]) -> None:
        if cmd == "M" or not self._flat:
            self._flat.append([mm[0]])
            mm = mm[1:]
        poly = self._flat[-1]
        if cmd == "B":
            (x0, y0), (x1, y1), (x2, y2), (x3, y3) = poly[-1], *mm
            for i in range(1, 9):
                t = i / 8
                u = 1 - t
                poly.append((
                    u**3 * x0 + 3 * u * u * t * x1 + 3 * u * t * t * x2 + t**3 * x3,
                    u**3 * y0 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t**3 * y3,
                ))  # fmt: skip
        else:
            poly.extend(mm)

    def _paint(self, op: str) -> None:
        data = " ".join(self._path)
        self._path = []
        flat, self._flat = self._flat, []
        st = self.state
        if data and op != "n":
            fill = op not in ("S", "s")
            stroke = op in ("S", "s", "B", "B*", "b", "b*")
            scale = math.sqrt(abs(st.ctm[0] * st.ctm[3] - st.ctm[1] * st.ctm[2]))
            width = st.width * scale / MM
            attrs = f' Boundary="{PAGE_BOX}" LineWidth="{_num(width)}"'
            attrs += "" if stroke else ' Stroke="false"'
            attrs += ' Fill="true"' if fill else ""
            attrs += ' Rule="Even-Odd"' if op in ("f*", "B*", "b*") else ""
            if st.dash:
                attrs += f' DashPattern="{" ".join(_num(float(v) * scale / MM) for v in st.dash.split())}"'
            attrs += f' Alpha="{st.alpha}"' if st.alpha is not None else ""
            body = _clips_xml(st.clips)
            body += f'<ofd:FillColor Value="{_colour(st.fill)}"/>' if fill else ""
            body += f'<ofd:StrokeColor Value="{_colour(st.stroke)}"/>' if stroke else ""
            self.objects.append(
                f"<ofd:PathObject{attrs}>{body}<ofd:AbbreviatedData>{data}</ofd:AbbreviatedData></ofd:PathObject>"
            )
            if self.polygons is not None:
                self.polygons.append(("fill" if fill else "stroke", width, flat))
        if self._pending_clip is not None and data:
            rule = ' Rule="Even-Odd"' if self._pending_clip == "W*" else ""
            clip = (
                f'<ofd:Clip><ofd:Area><ofd:Path Boundary="{PAGE_BOX}" Stroke="false" Fill="true"{rule}>'
                f"<ofd:AbbreviatedData>{data}</ofd:AbbreviatedData></ofd:Path></ofd:Area></ofd:Clip>"
            )
            st.clips = (*st.clips, clip)
        self._pending_clip = None


def _clips_xml(clips: tuple[str, ...]) -> str:
    return "<ofd:Clips>" + "".join(clips) + "</ofd:Clips>" if clips else ""


# ---------------------------------------------------------------------------------------------
# The seal picture.

_SEAL_PICTURES: dict[str, bytes] = {}
_SEAL_LOCK = threading.Lock()


def seal_picture(radius: float, fonts: FontSet) -> bytes:
    """The red seal (:func:`.seal_image.seal_form`, ``radius`` in points) as a PNG with transparency,
    :data:`SEAL_PX_PER_MM` pixels per mm; built once per process and font set."""
    key, build = seal_form(radius, fonts)
    with _SEAL_LOCK:
        hit = _SEAL_PICTURES.get(key)
    if hit is not None:
        return hit
    ops, _ = build()
    interp = _PathOps(polygons=[])
    # The form is centred on the origin: put its top-left corner at the page's top-left corner.
    interp.state.ctm = (1.0, 0.0, 0.0, 1.0, radius, PAGE_H - radius)
    interp.run(ops)
    assert interp.polygons is not None
    side_mm = 2 * radius / MM
    ss = 3  # supersampling
    px = round(side_mm * SEAL_PX_PER_MM)
    scale = px * ss / side_mm
    coverage = Image.new("L", (px * ss, px * ss), 0)
    for mode, width, polys in interp.polygons:
        # Bilevel masks ("1") all along: PIL draws without antialiasing, so these are the pixels an "L"
        # mask would get, without converting the whole supersampled picture at each contour.
        mask = Image.new("1", coverage.size, 0)
        draw = ImageDraw.Draw(mask)
        for poly in polys:
            pts = [(x * scale, y * scale) for x, y in poly]
            if mode == "stroke":
                draw.line([*pts, pts[0]], fill=255, width=max(1, round(width * scale)), joint="curve")
            elif len(pts) > 2:  # even-odd: each contour toggles what it covers (holes of 口, 国 …)
                one = Image.new("1", coverage.size, 0)
                ImageDraw.Draw(one).polygon(pts, fill=255)
                mask = ImageChops.logical_xor(mask, one)
                draw = ImageDraw.Draw(mask)
        coverage = ImageChops.lighter(coverage, mask.convert("L"))
    alpha = coverage.resize((px, px), Image.Resampling.LANCZOS)
    red = tuple(round(v * 255) for v in _seal_red(ops))
    picture = Image.new("RGBA", (px, px), (*red, 0))
    picture.putalpha(alpha)
    out = io.BytesIO()
    picture.save(out, format="PNG", optimize=False, compress_level=9)
    data = out.getvalue()
    with _SEAL_LOCK:
        _SEAL_PICTURES[key] = data
    return data


def _seal_red(ops: str) -> tuple[float, float, float]:
    """The fill colour the seal form sets first (``r g b rg``)."""
    r, g, b = ops.split(" rg", 1)[0].split()[-3:]
    return float(r), float(g), float(b)


# ---------------------------------------------------------------------------------------------
# Fonts and images of one package.


@dataclass
class _EmbeddedFont:
    """One embedded subset: the font's code points in code order (code 0 unused, as in the PDF)."""

    id: int
    font: str
    codes: list[int] = field(default_factory=lambda: [0])
    index: dict[int, int] = field(default_factory=dict)


_SUBSETTERS: dict[int, SubsetFont] = {}
_SUBSETTERS_LOCK = threading.Lock()


def _subsetter(face: Any) -> SubsetFont:
    with _SUBSETTERS_LOCK:
        hit = _SUBSETTERS.get(id(face))
        if hit is None or hit.face is not face:
            hit = _SUBSETTERS[id(face)] = SubsetFont(face)
        return hit


def _glyph_ids(sub: SubsetFont, codes: Sequence[int]) -> list[int]:
    """The glyph index of each code of a subset font (:meth:`.ttf_subset.SubsetFont.program` numbers the
    glyphs in order of first use, .notdef first)."""
    seen: dict[int, int] = {0: 0}
    return [seen.setdefault(sub.char_to_glyph.get(cp, 0), len(seen)) for cp in codes]


def with_unicode_cmap(program: bytes, code_points: Sequence[int], glyphs: Sequence[int]) -> bytes:
    """The TrueType ``program`` with its ``cmap`` replaced by a Unicode one mapping each code point to its
    glyph: (3,1) format 4 for the BMP, (3,10) format 12 for all (Extension B too). The PDF's subsets map
    one-byte codes; an OFD reader that ignores ``CGTransform`` looks characters up by Unicode."""
    pairs = sorted({cp: g for cp, g in zip(code_points, glyphs, strict=True) if cp and g}.items())
    bmp = [(cp, g) for cp, g in pairs if cp < 0xFFFF] + [(0xFFFF, 0)]
    n = len(bmp)  # one segment per character, the last (0xFFFF) closing the table
    ends = struct.pack(f">{n}H", *(cp for cp, _ in bmp))
    deltas = struct.pack(f">{n}H", *((g - cp) & 0xFFFF if cp != 0xFFFF else 1 for cp, g in bmp))
    search = 2 ** (n.bit_length() - 1)
    arrays = ends + b"\0\0" + ends + deltas + b"\0\0" * n
    f4 = struct.pack(">HHHHHHH", 4, 14 + len(arrays), 0, 2 * n, 2 * search, n.bit_length() - 1, 2 * (n - search))
    f4 += arrays
    f12 = struct.pack(">HHIII", 12, 0, 16 + 12 * len(pairs), 0, len(pairs))
    f12 += b"".join(struct.pack(">III", cp, cp, g) for cp, g in pairs)
    cmap = struct.pack(">HHHHIHHI", 0, 2, 3, 1, 20, 3, 10, 20 + len(f4)) + f4 + f12
    num = struct.unpack_from(">H", program, 4)[0]
    tables: dict[bytes, bytes] = {}
    for i in range(num):
        tag, _, offset, length = struct.unpack_from(">4sIII", program, 12 + 16 * i)
        tables[tag] = program[offset : offset + length]
    tables[b"cmap"] = cmap
    tables[b"head"] = tables[b"head"][:8] + b"\0\0\0\0" + tables[b"head"][12:]
    tags = sorted(tables)
    at = 12 + 16 * len(tags)
    directory: list[bytes] = []
    body: list[bytes] = []
    for tag in tags:
        data = tables[tag]
        directory.append(struct.pack(">4sIII", tag, calcChecksum(data), at, len(data)))
        padded = data + b"\0" * (-len(data) % 4)
        body.append(padded)
        at += len(padded)
    header = program[:4] + struct.pack(">HHHH", len(tags), *_search_fields(len(tags)))
    font = bytearray(header + b"".join(directory) + b"".join(body))
    head_at = 12 + 16 * len(tags) + sum(len(b) for t, b in zip(tags, body, strict=True) if t < b"head")
    struct.pack_into(">I", font, head_at + 8, (0xB1B0AFBA - calcChecksum(bytes(font))) & 0xFFFFFFFF)
    return bytes(font)


def _search_fields(n: int) -> tuple[int, int, int]:
    """searchRange, entrySelector, rangeShift of a table directory of ``n`` entries."""
    power = 2 ** (n.bit_length() - 1)
    return 16 * power, n.bit_length() - 1, 16 * (n - power)


@dataclass
class _Image:
    id: int
    file: str
    data: bytes
    fmt: str


_IMAGE_FILES: dict[str, bytes] = {}
_IMAGE_FILES_MAX = 128


def _image_file(img: PreparedImage) -> tuple[bytes, str]:
    """The prepared image as a file an OFD reader opens: the JPEG as it came, otherwise a PNG (made once
    per distinct image: signature images repeat across issuances)."""
    if img.dct:
        return img.data, "JPEG"
    if img.source is not None:  # a PNG passed through as it came (page.prepare_image)
        return img.source, "PNG"
    hit = _IMAGE_FILES.get(img.name)
    if hit is None:
        hit = _png(img)
        if len(_IMAGE_FILES) >= _IMAGE_FILES_MAX:
            _IMAGE_FILES.clear()
        _IMAGE_FILES[img.name] = hit
    return hit, "PNG"


def _png(img: PreparedImage) -> bytes:
    mode = "L" if img.color_space == "DeviceGray" else "RGB"
    im = Image.frombytes(mode, (img.width, img.height), zlib.decompress(img.data))
    if img.smask is not None:
        im = im.convert("LA" if mode == "L" else "RGBA")
        im.putalpha(Image.frombytes("L", (img.width, img.height), zlib.decompress(img.smask)))
    out = io.BytesIO()
    im.save(out, format="PNG", compress_level=6)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# The painter.


class _OfdPainter:
    """Paints the page into OFD page objects (bodies without ``ID``; numbered when the package is written)."""

    def __init__(self, fonts: FontSet, seal_png: bytes | None = None) -> None:
        self.fonts = fonts
        self.seal_png = seal_png  # the seal's own picture (R-DOC-6), else the one drawn from the seal form
        self.paths = _PathOps()
        self.embedded: dict[str, list[_EmbeddedFont]] = {}
        self.images: dict[str, _Image] = {}
        self.next_res = 1  # resource IDs; page objects are numbered after them

    @property
    def objects(self) -> list[str]:
        return self.paths.objects

    def _res_id(self) -> int:
        self.next_res += 1
        return self.next_res - 1

    def _code(self, font: str, cp: int) -> tuple[_EmbeddedFont, int]:
        subsets = self.embedded.setdefault(font, [])
        for sub in subsets:
            code = sub.index.get(cp)
            if code is not None:
                return sub, code
        if not subsets or len(subsets[-1].codes) >= _SUBSET_SIZE:
            subsets.append(_EmbeddedFont(self._res_id(), font))
        sub = subsets[-1]
        sub.index[cp] = len(sub.codes)
        sub.codes.append(cp)
        return sub, sub.index[cp]

    def text(self, text: str, x: float, y: float, size: float, style: TextStyle = PLAIN) -> float:
        """As the PDF painters (:meth:`.page.Painter.text`): placed and sized by :func:`.page.fit_text`, each
        fallback run drawn in its font; fallback and bold text stroked."""
        runs = self.fonts.runs(text)
        x, size = fit_text(runs, text, x, size, style)
        char_space, color, bold = style.char_space, style.color, style.bold
        main = self.fonts.main
        for font, part in runs:
            adv = [stringWidth(ch, font, size) + char_space for ch in part]
            self._run(font, part, adv, x, y, size, color, bold, stroked=bold or font != main)
            x += sum(adv)
        return size

    def _run(
        self,
        font: str,
        part: str,
        adv: list[float],
        x: float,
        y: float,
        size: float,
        color: tuple[float, float, float],
        bold: bool,
        *,
        stroked: bool,
    ) -> None:
        """One TextObject per embedded subset the run's characters fall in."""
        pieces: list[tuple[_EmbeddedFont, str, list[float], float]] = []
        for ch, a in zip(part, adv, strict=True):
            sub, _ = self._code(font, ord(ch))
            if not pieces or pieces[-1][0] is not sub:
                pieces.append((sub, "", [], x))
            s, chars, advs, x0 = pieces[-1]
            pieces[-1] = (s, chars + ch, [*advs, a], x0)
            x += a
        col = _colour(color)
        for sub, chars, advs, x0 in pieces:
            attrs = f' Boundary="{PAGE_BOX}" Font="{sub.id}" Size="{_num(size / MM)}"'
            stroke = ""
            if stroked:
                attrs += f' Stroke="true" LineWidth="{_num(size * (0.028 if bold else 0.012) / MM)}"'
                stroke = f'<ofd:StrokeColor Value="{col}"/>'
            attrs += f' Alpha="{self.paths.state.alpha}"' if self.paths.state.alpha is not None else ""
            glyphs = _glyph_ids(_subsetter(self.fonts.face(font)), [sub.codes[sub.index[ord(c)]] for c in chars])
            n = len(chars)
            delta = " ".join(_num(a / MM) for a in advs[:-1])
            self.objects.append(
                f"<ofd:TextObject{attrs}>{_clips_xml(self.paths.state.clips)}"
                f'<ofd:FillColor Value="{col}"/>{stroke}'
                f'<ofd:CGTransform CodePosition="0" CodeCount="{n}" GlyphCount="{n}">'
                f"<ofd:Glyphs>{' '.join(map(str, glyphs))}</ofd:Glyphs></ofd:CGTransform>"
                f'<ofd:TextCode X="{_num(x0 / MM)}" Y="{_num((PAGE_H - y) / MM)}"'
                + (f' DeltaX="{delta}"' if delta else "")
                + f">{escape(chars)}</ofd:TextCode></ofd:TextObject>"
            )

    def literal(self, ops: str) -> None:
        self.paths.run(ops)

    def form(self, key: str, build: FormBuilder) -> None:
        """The static form's objects, interpreted once per process for each place and state it is painted in."""
        st = self.paths.state
        place = (key, st.ctm, st.alpha, st.clips)
        hit = _FORM_OBJECTS.get(place)
        if hit is None:
            interp = _PathOps(state=_State(st.ctm, st.fill, st.stroke, st.width, st.dash, st.alpha, st.clips))
            interp.run(_form_ops(key, build))
            hit = tuple(interp.objects)
            with _FORM_LOCK:
                if len(_FORM_OBJECTS) >= _FORM_OBJECTS_MAX:
                    _FORM_OBJECTS.clear()
                _FORM_OBJECTS[place] = hit
        self.objects.extend(hit)

    def image_fit(self, img: PreparedImage, x: float, y: float, w: float, h: float) -> None:
        scale = min(w / img.width, h / img.height)
        dw, dh = img.width * scale, img.height * scale
        image = self.images.get(img.name)
        if image is None:
            data, fmt = _image_file(img)
            rid = self._res_id()
            image = self.images[img.name] = _Image(rid, f"image_{rid}.{fmt.lower().replace('jpeg', 'jpg')}", data, fmt)
        self._image(image.id, x + (w - dw) / 2, y + (h - dh) / 2, dw, dh)

    def _image(
        self, rid: int, x: float, y: float, w: float, h: float, *, name: str = "", alpha: int | None = None
    ) -> None:
        left, top = x / MM, (PAGE_H - y - h) / MM
        wm, hm = w / MM, h / MM
        attrs = f' Name="{name}"' if name else ""
        attrs += f' Alpha="{alpha}"' if alpha is not None else ""
        self.objects.append(
            f'<ofd:ImageObject Boundary="{_num(left)} {_num(top)} {_num(wm)} {_num(hm)}"'
            f' CTM="{_num(wm)} 0 0 {_num(hm)} 0 0" ResourceID="{rid}"{attrs}>'
            f"{_clips_xml(self.paths.state.clips)}</ofd:ImageObject>"
        )

    def qr(self, text: str, x: float, y: float, size: float) -> None:
        """As :func:`.qr.draw_qr`: a white square with the quiet zone, the dark modules as one filled path."""
        matrix = qr_matrix(text)
        n = len(matrix)
        module = size / MM / (n + 2 * QUIET_ZONE)
        left, top = x / MM, (PAGE_H - y - size) / MM
        xs = [_num(left + (QUIET_ZONE + i) * module) for i in range(n + 1)]
        ys = [_num(top + (QUIET_ZONE + i) * module) for i in range(n + 1)]
        self.paths.run(f"q 1 g {x:.3f} {y:.3f} {size:.3f} {size:.3f} re f Q")
        rects = [
            f"M {xs[s]} {ys[r]} L {xs[s + k]} {ys[r]} L {xs[s + k]} {ys[r + 1]} L {xs[s]} {ys[r + 1]} C"
            for r, row in enumerate(matrix)
            for s, k in _runs(row)
        ]
        clips = _clips_xml(self.paths.state.clips)
        self.objects.append(
            f'<ofd:PathObject Boundary="{PAGE_BOX}" Stroke="false" Fill="true">{clips}<ofd:FillColor Value="0 0 0"/>'
            f"<ofd:AbbreviatedData>{' '.join(rects)}</ofd:AbbreviatedData></ofd:PathObject>"
        )

    def seal(self, cx: float, cy: float, radius: float) -> None:
        image = self.images.get(SEAL_PICTURE)
        if image is None:
            picture = self.seal_png if self.seal_png is not None else seal_picture(radius, self.fonts)
            image = self.images[SEAL_PICTURE] = _Image(self._res_id(), SEAL_PICTURE, picture, "PNG")
        self._image(image.id, cx - radius, cy - radius, 2 * radius, 2 * radius,
                    name=SEAL_NAME_ON_PAGE, alpha=round(SEAL_OPACITY * 255))  # fmt: skip

    def overprint(self, key: str, build: FormBuilder, at: Sequence[Matrix]) -> None:
        saved = self.paths.state.alpha
        self.paths.state.alpha = DEMO_BAND_ALPHA  # no multiply blend in OFD 1.0
        for m in at:
            self.paths.run("q " + " ".join(f"{v:.4f}" for v in m) + " cm")
            self.form(key, build)
            self.paths.run("Q")
        self.paths.state.alpha = saved

    def layer(self, key: str, paint: Callable[[Painter], None]) -> None:
        paint(self)


_FORM_OPS: dict[str, str] = {}
_FORM_OBJECTS: dict[tuple[str, Matrix, int | None, tuple[str, ...]], tuple[str, ...]] = {}
_FORM_OBJECTS_MAX = 4096  # places: the page's forms and each copy of the DEMO phrase
_FORM_LOCK = threading.Lock()


def _form_ops(key: str, build: FormBuilder) -> str:
    hit = _FORM_OPS.get(key)
    if hit is None:
        hit = _FORM_OPS[key] = build()[0]
    return hit


# ---------------------------------------------------------------------------------------------
# The package.


_STORED = (".png", ".jpg", ".esl", ".dat")


def zip_package(files: Iterable[tuple[str, bytes]]) -> bytes:
    """A zip of ``(path, bytes)`` in the order given, with fixed timestamps and attributes (deterministic)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            # PNG and JPEG are compressed already, and the seal's files (Seal.esl, SignedValue.dat) are mostly its
            # PNG: stored as they are (deflating them took 2 ms a certificate for nothing), the rest deflated.
            info.compress_type = zipfile.ZIP_STORED if name.endswith(_STORED) else zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            z.writestr(info, data, compresslevel=1)  # level 6 takes four times as long for 10 % less
    return out.getvalue()


def _xml(body: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode("utf-8")


def ofd_files(
    content: CertificateContent,
    qr_text: str,
    signature: PreparedImage,
    portrait: PreparedImage | None,
    fonts: FontSet,
    metadata: Mapping[str, str] | None = None,
    demo: bool = False,
    seal_png: bytes | None = None,
) -> dict[str, bytes]:
    """The unsealed certificate's OFD package (R-DOC-6) as its files, in package order; inputs already
    checked by :func:`.page.prepare_inputs`; ``demo``: with the DEMO mark (:func:`.page.paint_demo_mark`);
    ``seal_png``: the picture of the electronic seal that will seal it (default: :func:`seal_picture`).
    :func:`render_ofd` zips them; a caller that seals zips once after sealing
    (:meth:`ecert.adapters.signing.ofd_seal.OfdSealer.seal_files`)."""
    painter = _OfdPainter(fonts, seal_png)
    paint_page(painter, content, qr_text, signature, portrait, demo=demo)

    files: list[tuple[str, bytes]] = []
    res: list[str] = []
    for font, subsets in painter.embedded.items():
        face = fonts.face(font)
        family = escape(
            face.familyName.decode("latin-1") if isinstance(face.familyName, bytes) else str(face.familyName)
        )
        for sub in subsets:
            subsetter = _subsetter(face)
            program = with_unicode_cmap(subsetter.program(sub.codes), sub.codes, _glyph_ids(subsetter, sub.codes))
            name = f"font_{sub.id}.ttf"
            files.append((f"Doc_0/Res/{name}", program))
            res.append(
                f'<ofd:Font ID="{sub.id}" FontName="{family}" FamilyName="{family}">'
                f"<ofd:FontFile>{name}</ofd:FontFile></ofd:Font>"
            )
    fonts_xml = "<ofd:Fonts>" + "".join(res) + "</ofd:Fonts>"
    media = "".join(
        f'<ofd:MultiMedia ID="{img.id}" Type="Image" Format="{img.fmt}"><ofd:MediaFile>{img.file}</ofd:MediaFile>'
        "</ofd:MultiMedia>"
        for img in painter.images.values()
    )
    files += [(f"Doc_0/Res/{img.file}", img.data) for img in painter.images.values()]
    # Fonts in PublicRes.xml, images in DocumentRes.xml, as OFD producers lay them out (and readers look for them).
    public_res = _xml(f'<ofd:Res xmlns:ofd="{OFD_NS}" BaseLoc="Res">{fonts_xml}</ofd:Res>')
    document_res = _xml(
        f'<ofd:Res xmlns:ofd="{OFD_NS}" BaseLoc="Res"><ofd:MultiMedias>{media}</ofd:MultiMedias></ofd:Res>'
    )
    next_id = painter.next_res
    page_id = next_id
    layer_id = next_id + 1
    first = next_id + 2
    body = "".join(
        obj.replace(" ", f' ID="{first + i}" ', 1) for i, obj in enumerate(painter.objects)
    )  # every object element starts with "<ofd:Name " followed by its attributes
    max_id = first + len(painter.objects) - 1
    page = _xml(
        f'<ofd:Page xmlns:ofd="{OFD_NS}"><ofd:Area><ofd:PhysicalBox>{PAGE_BOX}</ofd:PhysicalBox></ofd:Area>'
        f'<ofd:Content><ofd:Layer ID="{layer_id}" Type="Body">{body}</ofd:Layer></ofd:Content></ofd:Page>'
    )
    document = _xml(
        f'<ofd:Document xmlns:ofd="{OFD_NS}"><ofd:CommonData><ofd:MaxUnitID>{max_id}</ofd:MaxUnitID>'
        f"<ofd:PageArea><ofd:PhysicalBox>{PAGE_BOX}</ofd:PhysicalBox></ofd:PageArea>"
        "<ofd:PublicRes>PublicRes.xml</ofd:PublicRes><ofd:DocumentRes>DocumentRes.xml</ofd:DocumentRes>"
        "</ofd:CommonData>"
        f'<ofd:Pages><ofd:Page ID="{page_id}" BaseLoc="Pages/Page_0/Content.xml"/></ofd:Pages></ofd:Document>'
    )
    ofd = _xml(
        f'<ofd:OFD xmlns:ofd="{OFD_NS}" Version="1.0" DocType="OFD"><ofd:DocBody>'
        + _doc_info(content, dict(metadata or {}))
        + "<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>"
    )
    return dict(
        [("OFD.xml", ofd), ("Doc_0/Document.xml", document), ("Doc_0/PublicRes.xml", public_res),
         ("Doc_0/DocumentRes.xml", document_res), ("Doc_0/Pages/Page_0/Content.xml", page), *files]
    )  # fmt: skip


def _zipped(files_of: Callable[P, dict[str, bytes]]) -> Callable[P, bytes]:
    def zipped(*args: P.args, **kwargs: P.kwargs) -> bytes:
        return zip_package(files_of(*args, **kwargs).items())

    return zipped


render_ofd = _zipped(ofd_files)
"""The unsealed certificate as an OFD package (zip bytes): :func:`ofd_files`, zipped (:func:`zip_package`)."""


def _doc_info(content: CertificateContent, metadata: dict[str, str]) -> str:
    """DocInfo: the same entries as the PDF's Info dictionary; DocID from the serial (deterministic)."""
    doc_id = (content.serial.encode("utf-8").hex() + "0" * 32)[:32]
    custom = {"serial": content.serial, "identifier": content.identifier, **metadata}
    return (
        f"<ofd:DocInfo><ofd:DocID>{doc_id}</ofd:DocID><ofd:Title>{escape(TITLE)}</ofd:Title>"
        f"<ofd:Author>{escape(content.issuer)}</ofd:Author>"
        f"<ofd:Subject>{escape(f'一级建造师电子注册证书 {content.registration_no} {content.name}')}</ofd:Subject>"
        f"<ofd:Keywords><ofd:Keyword>{escape(content.identifier)}</ofd:Keyword></ofd:Keywords>"
        f"<ofd:Creator>ecert</ofd:Creator><ofd:CreationDate>{content.issue_date.isoformat()}</ofd:CreationDate>"
        "<ofd:CustomDatas>"
        + "".join(f"<ofd:CustomData Name={quoteattr(k)}>{escape(v)}</ofd:CustomData>" for k, v in custom.items())
        + "</ofd:CustomDatas></ofd:DocInfo>"
    )
