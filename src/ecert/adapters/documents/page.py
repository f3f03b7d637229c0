"""The 一级建造师 electronic registration certificate page (R-DOC-1, R-DOC-5): what is drawn where.

One A4 portrait page: a double-rule frame with guilloché rosettes at the corners, the title, the
usage window at the top right, the field table (photo beside the personal data, one row per printed
specialty, up to ten), the signature image with its date beside a blank box for the handwritten
signature a printed copy needs, the verification QR code, the issuer with the red seal over it, and
the e-licence identifier. The signing step adds the PAdES signature afterwards (R-DOC-2).
A certificate sealed with a DEMO key also carries the DEMO mark over all of it
(:func:`paint_demo_mark`), so that it cannot pass for a real one.

This module is the page description both renderers share: :func:`paint_page` paints the page through
a :class:`Painter`. :mod:`.reportlab_render` paints it on a ReportLab canvas (the reference rendering)
and :mod:`.fast_render` writes the same page directly as PDF (what issuance uses); the tests compare
the two pixel for pixel (tests/integration/test_fast_render.py). It also holds what every rendering
prepares before painting: the input checks (:func:`prepare_inputs`) and the images, prepared once per
distinct input (:func:`prepare_image`).

All text is real text in embedded TrueType subsets with a working ToUnicode map, so ``pdftotext``
gives back every field exactly — rare name characters included (see :mod:`.fonts`).

Geometry is in millimetres from the top-left corner of the page (``_Y`` turns that into PDF space).
"""

from __future__ import annotations

import functools
import hashlib
import io
import math
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple, Protocol

from PIL import Image, ImageOps
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.pdfbase.pdfmetrics import stringWidth  # type: ignore[import-untyped]

from ecert.adapters.documents.fonts import FontSet
from ecert.adapters.documents.seal_image import FormBuilder, glyph_outline
from ecert.domain.certificate import TITLE, CertificateContent

MM = 72 / 25.4
PAGE_W, PAGE_H = float(A4[0]), float(A4[1])
COLON = "："  # full-width colon, as Chinese typesetting has it (U+FF1A)
MAX_SPECIALTIES = 10

# Colours (RGB 0..1).
INK = (0.08, 0.08, 0.1)
LABEL_INK = (0.2, 0.24, 0.32)
FRAME = (0.12, 0.27, 0.45)  # deep blue of the frame and ornaments
ORNAMENT = (0.36, 0.5, 0.68)
RULE = (0.35, 0.4, 0.48)  # table lines
LABEL_BG = (0.925, 0.94, 0.965)
HINT = (0.55, 0.58, 0.62)


class TextStyle(NamedTuple):
    """How :meth:`Painter.text` sets a text (sizes and widths in points)."""

    align: str = "left"  # left/centre/right about x
    max_width: float | None = None  # wider text is set smaller, not below min_size (fit_text)
    color: tuple[float, float, float] = INK
    min_size: float = 6.0
    char_space: float = 0.0
    bold: bool = False  # faux bold: the glyphs filled and stroked
    # Text whose non-ASCII characters are the same on every certificate (labels, dates): set in the
    # main font's fixed instance, whose subset is made once (fonts.load_font).
    fixed: bool = False


PLAIN = TextStyle()

# Content box (mm).
LEFT, RIGHT = 20.0, 190.0
WIDTH = RIGHT - LEFT
LABEL_W = 34.0  # label column
PHOTO_W = 36.0  # photo column beside the first four rows
SPEC_DATE_W = 62.0  # 有效期至 column of the specialty rows
SIG_LABEL_W = 26.0  # 个人签名 label cell

VALUE_SIZE = 11.5
LABEL_SIZE = 10.5


def _Y(top_mm: float) -> float:  # capitalised: reads as a coordinate transform
    return PAGE_H - top_mm * MM


def cn_date(d: date) -> str:
    """``2025年03月01日``: the form every date on the certificate is printed in."""
    return f"{d.year:04d}年{d.month:02d}月{d.day:02d}日"


def usage_window_text(content: CertificateContent) -> str:
    return f"使用有效期{COLON}{cn_date(content.usage_from)}至{cn_date(content.usage_until)}"


# ---------------------------------------------------------------------------------------------
# Static vector art: frame and ornaments, built once.


def _rosette_ops(cx: float, cy: float, r: float, petals: int = 12, rings: int = 3) -> str:
    """A guilloché-like rosette: rotated ellipses around (cx, cy), drawn as Bézier arcs."""
    k = 0.5522847498
    ops: list[str] = []
    for ring in range(rings):
        a = r * (1 - 0.16 * ring)  # semi-major axis
        b = a * 0.32
        off = a * 0.52  # ellipse centre offset from the rosette centre
        phase = math.pi / petals * ring
        for i in range(petals):
            t = 2 * math.pi * i / petals + phase
            ct, st = math.cos(t), math.sin(t)
            ex, ey = cx + off * ct, cy + off * st

            def p(u: float, v: float, ex: float = ex, ey: float = ey, ct: float = ct, st: float = st) -> str:
                return f"{ex + u * ct - v * st:.2f} {ey + u * st + v * ct:.2f}"

            half = a / 2
            ops.append(f"{p(half, 0)} m")
            ops.append(f"{p(half, k * b)} {p(k * half, b)} {p(0, b)} c")
            ops.append(f"{p(-k * half, b)} {p(-half, k * b)} {p(-half, 0)} c")
            ops.append(f"{p(-half, -k * b)} {p(-k * half, -b)} {p(0, -b)} c")
            ops.append(f"{p(k * half, -b)} {p(half, -k * b)} {p(half, 0)} c")
    ops.append("S")
    return "\n".join(ops)


def _frame_ops() -> str:
    """Outer heavy rule, inner fine rule with concave corners, corner rosettes, title ornament."""
    fr = " ".join(f"{v:.3f}" for v in FRAME)
    orn = " ".join(f"{v:.3f}" for v in ORNAMENT)
    o = 8.0 * MM
    i = 11.0 * MM
    notch = 7.0 * MM
    w, h = PAGE_W, PAGE_H
    ops = [f"q {fr} RG {fr} rg 2.2 w", f"{o:.2f} {o:.2f} {w - 2 * o:.2f} {h - 2 * o:.2f} re S"]
    # Inner rule: a rectangle whose corners are quarter circles cut inwards.
    k = 0.5522847498 * notch
    x0, y0, x1, y1 = i, i, w - i, h - i
    ops.append("0.7 w")
    ops.append(f"{x0 + notch:.2f} {y0:.2f} m {x1 - notch:.2f} {y0:.2f} l")
    ops.append(f"{x1 - notch:.2f} {y0 + k:.2f} {x1 - k:.2f} {y0 + notch:.2f} {x1:.2f} {y0 + notch:.2f} c")
    ops.append(f"{x1:.2f} {y1 - notch:.2f} l")
    ops.append(f"{x1 - k:.2f} {y1 - notch:.2f} {x1 - notch:.2f} {y1 - k:.2f} {x1 - notch:.2f} {y1:.2f} c")
    ops.append(f"{x0 + notch:.2f} {y1:.2f} l")
    ops.append(f"{x0 + notch:.2f} {y1 - k:.2f} {x0 + k:.2f} {y1 - notch:.2f} {x0:.2f} {y1 - notch:.2f} c")
    ops.append(f"{x0:.2f} {y0 + notch:.2f} l")
    ops.append(f"{x0 + k:.2f} {y0 + notch:.2f} {x0 + notch:.2f} {y0 + k:.2f} {x0 + notch:.2f} {y0:.2f} c h S")
    # A third, hairline rule just inside the heavy one.
    g = o + 1.1 * MM
    ops.append(f"0.35 w {g:.2f} {g:.2f} {w - 2 * g:.2f} {h - 2 * g:.2f} re S")
    # Corner rosettes, centred on the inner rule's corners.
    ops.append(f"{orn} RG 0.22 w")
    for cx, cy in ((x0, y0), (x1, y0), (x0, y1), (x1, y1)):
        ops.append(_rosette_ops(cx, cy, 5.4 * MM, petals=14, rings=2))
    # Small rosettes at the middle of the top and bottom edges.
    for cy in ((o + i) / 2, h - (o + i) / 2):
        ops.append(_rosette_ops(w / 2, cy, 3.0 * MM, petals=10, rings=2))
    ops.append("Q")
    return "\n".join(ops)


def _title_rule_ops(y: float) -> str:
    """A double rule under the title with a diamond in the middle, at ``y`` points."""
    fr = " ".join(f"{v:.3f}" for v in FRAME)
    cx = PAGE_W / 2
    half = 58 * MM
    d = 1.6 * MM
    return (
        f"q {fr} RG {fr} rg 0.6 w {cx - half:.2f} {y:.2f} m {cx - d * 2:.2f} {y:.2f} l S "
        f"{cx + d * 2:.2f} {y:.2f} m {cx + half:.2f} {y:.2f} l S "
        f"0.3 w {cx - half:.2f} {y - 1.2:.2f} m {cx - d * 2:.2f} {y - 1.2:.2f} l S "
        f"{cx + d * 2:.2f} {y - 1.2:.2f} m {cx + half:.2f} {y - 1.2:.2f} l S "
        f"{cx:.2f} {y + d:.2f} m {cx + d:.2f} {y - 0.6:.2f} l {cx:.2f} {y - d - 1.2:.2f} l "
        f"{cx - d:.2f} {y - 0.6:.2f} l h f Q"
    )


# Vertical plan (mm from the top).
USAGE_Y = 21.5
TITLE_Y = 36.0
TITLE_RULE_Y = 41.5
TABLE_TOP = 49.0
TABLE_BOTTOM_MAX = 219.0
QR_TOP = 228.0
QR_SIZE = 35.0
ISSUER_Y = 242.0
ISSUE_DATE_Y = 250.5
IDENT_Y = 277.5
SERIAL_Y = 281.6
SEAL_RADIUS_MM = 21.0


def _page_art() -> tuple[str, tuple[float, float, float, float]]:
    return _frame_ops() + "\n" + _title_rule_ops(_Y(TITLE_RULE_Y)), (0.0, 0.0, PAGE_W, PAGE_H)


WATERMARK = (0.86, 0.9, 0.95)
WATERMARK_CENTRE_Y = 128.0  # mm from the top: behind the middle of the table


def _watermark() -> tuple[str, tuple[float, float, float, float]]:
    """A faint guilloché medallion: bands of phase-shifted wavy rings, like a security background."""
    cx, cy = PAGE_W / 2, _Y(WATERMARK_CENTRE_Y)
    ops = [f"q {WATERMARK[0]:.3f} {WATERMARK[1]:.3f} {WATERMARK[2]:.3f} RG 0.35 w 1 j"]
    steps = 360
    for r0, amp, waves, curves in ((58.0, 7.0, 30, 9), (38.0, 6.0, 20, 7), (20.0, 5.0, 12, 6)):
        for i in range(curves):
            phase = 2 * math.pi * i / curves
            pts = []
            for k in range(steps + 1):
                t = 2 * math.pi * k / steps
                r = (r0 + amp * math.sin(waves * t + phase)) * MM
                pts.append(f"{cx + r * math.cos(t):.1f} {cy + r * math.sin(t):.1f}")
            ops.append(pts[0] + " m " + " l ".join(pts[1:]) + " l S")
    ops.append("Q")
    r = 66 * MM
    return "\n".join(ops), (cx - r, cy - r, cx + r, cy + r)


# ---------------------------------------------------------------------------------------------
# The DEMO mark: a certificate sealed with a DEMO key must not pass for a real one.

DEMO_MARK = "演示证书 DEMO — 非真实证书 / not a real certificate"
DEMO_BAND_INK = (0.96, 0.6, 0.6)  # multiplied into the page: tints paper and photo, leaves black text black
DEMO_TEXT_INK = (0.72, 0.06, 0.08)
DEMO_BAND_SIZE = 12.5  # pt
DEMO_BAND_ANGLE = math.radians(32)
DEMO_BAND_PITCH = 27.0  # mm between the bands, across them
DEMO_BAND_GAP = 14.0  # mm between two copies of the phrase along a band
DEMO_EDGE_SIZE = 7.5
DEMO_EDGE_STYLE = TextStyle(align="centre", color=DEMO_TEXT_INK, fixed=True)
DEMO_EDGE_Y = (5.6, 293.6)  # mm from the top: baselines in the margins above and below the frame
DEMO_QR_CLEAR = 2.5  # mm kept free of the bands around the QR code, for scanners
DEMO_LAYER = "demo-mark:v1"

Matrix = tuple[float, float, float, float, float, float]


def demo_phrase_form(fonts: FontSet) -> tuple[str, FormBuilder, float]:
    """(form key, builder, width in points) of :data:`DEMO_MARK` drawn as glyph outlines of the main
    font, DEMO_BAND_SIZE points, baseline from the origin to the right; built once per font.

    Outlines, not text: the bands cross the page diagonally, and diagonal text would be extracted
    (``pdftotext``) into the middle of every field it crosses. The text layer carries the mark in the
    horizontal lines of :func:`paint_demo_mark` instead.
    """
    key = f"demo-phrase:v1:{fonts.fonts[0].path}"
    with _DEMO_LOCK:
        hit = _DEMO_PHRASES.get(key)
    if hit is not None:
        return key, hit[0], hit[1]
    face = fonts.face(fonts.main)
    scale = DEMO_BAND_SIZE / float(face.unitsPerEm)
    glyphs = [glyph_outline(face, ch) for ch in DEMO_MARK]
    width = sum(g.advance for g in glyphs) * scale

    def build() -> tuple[str, tuple[float, float, float, float]]:
        ops = [f"{DEMO_BAND_INK[0]:.3f} {DEMO_BAND_INK[1]:.3f} {DEMO_BAND_INK[2]:.3f} rg"]
        x = 0.0
        for g in glyphs:
            if g.path:
                ops.append(f"q {scale:.6f} 0 0 {scale:.6f} {x:.3f} 0 cm\n{g.path}\nf Q")
            x += g.advance * scale
        return "\n".join(ops), (0.0, -DEMO_BAND_SIZE * 0.3, width, DEMO_BAND_SIZE)

    with _DEMO_LOCK:
        _DEMO_PHRASES[key] = (build, width)
    return key, build, width


_DEMO_PHRASES: dict[str, tuple[FormBuilder, float]] = {}
_DEMO_LOCK = threading.Lock()


@functools.cache
def demo_band_matrices(phrase_width: float) -> tuple[Matrix, ...]:
    """Where the phrase goes: parallel bands at DEMO_BAND_ANGLE over the whole page, each band a row
    of copies, every other row shifted by half a copy (brickwork), so that any piece of the page
    cut out still shows some of the mark."""
    cos, sin = math.cos(DEMO_BAND_ANGLE), math.sin(DEMO_BAND_ANGLE)
    period = phrase_width + DEMO_BAND_GAP * MM
    pitch = DEMO_BAND_PITCH * MM
    cx, cy = PAGE_W / 2, PAGE_H / 2
    reach = math.hypot(PAGE_W, PAGE_H) / 2 + period  # beyond it nothing of a copy can be on the page
    out: list[Matrix] = []
    rows, cols = int(reach / pitch) + 1, int(reach / period) + 1
    for j in range(-rows, rows + 1):
        for i in range(-cols, cols + 1):
            u = i * period + (period / 2 if j % 2 else 0.0) - phrase_width / 2  # along the band
            v = j * pitch - DEMO_BAND_SIZE * 0.35  # across it (the phrase's middle on the band's axis)
            x, y = cx + u * cos - v * sin, cy + u * sin + v * cos
            half = phrase_width / 2  # a copy whose middle is further off the page than this misses it
            mid_x, mid_y = x + half * cos, y + half * sin
            if -half < mid_x < PAGE_W + half and -half < mid_y < PAGE_H + half:
                out.append((cos, sin, -sin, cos, round(x, 2), round(y, 2)))
    return tuple(out)


def paint_demo_mark(painter: Painter) -> None:
    """The DEMO mark over the finished page: the phrase in diagonal bands across the whole page
    (outlines, multiplied in: the text under them stays legible; the QR code is left clear for
    scanners), and as text in the margins above and below the frame, for the text layer."""
    key, build, width = demo_phrase_form(painter.fonts)
    pad = DEMO_QR_CLEAR * MM
    qx, qy, qs = LEFT * MM - pad, _Y(QR_TOP + QR_SIZE) - pad, QR_SIZE * MM + 2 * pad
    painter.literal(f"q 0 0 {PAGE_W:.2f} {PAGE_H:.2f} re {qx:.2f} {qy:.2f} {qs:.2f} {qs:.2f} re W* n")
    painter.overprint(key, build, demo_band_matrices(width))
    painter.literal("Q")
    line = f"{DEMO_MARK}    ·    {DEMO_MARK}"
    for top in DEMO_EDGE_Y:
        painter.text(line, PAGE_W / 2, _Y(top), DEMO_EDGE_SIZE, DEMO_EDGE_STYLE)


# ---------------------------------------------------------------------------------------------
# Images: prepared once per distinct input (signature images and photos repeat across issuances).

MAX_IMAGE_PX = 1200  # longest side kept: 300 dpi over 100 mm, more than any box on the page


@dataclass(frozen=True, slots=True)
class PreparedImage:
    """An image ready to embed: encoded stream bytes and the entries of its XObject dictionary."""

    name: str
    width: int
    height: int
    color_space: str
    data: bytes
    dct: bool  # JPEG passed through (DCTDecode) rather than Flate-compressed samples
    smask: bytes | None  # Flate-compressed 8-bit alpha, same size
    # > 0: ``data`` is a PNG's own image data, passed through (zlib of PNG-predicted rows): the XObject
    # says ``/DecodeParms << /Predictor 15 /Colors png_colors /BitsPerComponent 8 /Columns width >>``.
    png_colors: int = 0
    source: bytes | None = None  # the PNG file as it came, when passed through (the OFD embeds it as it is)

    def decode_parms(self) -> bytes:
        """The XObject's ``/DecodeParms`` entry (with its leading space), empty unless passed through."""
        if not self.png_colors:
            return b""
        return b" /DecodeParms << /Predictor 15 /Colors %d /BitsPerComponent 8 /Columns %d >>" % (
            self.png_colors,
            self.width,
        )


_IMAGES: OrderedDict[bytes, PreparedImage] = OrderedDict()
_IMAGES_LOCK = threading.Lock()
_IMAGES_MAX = 128


def prepare_image(data: bytes, what: str = "image") -> PreparedImage:
    """Decode and encode a PNG/JPEG for embedding; cached by content. ``ValueError`` if unreadable.

    RGB/grey JPEGs without EXIF rotation are embedded as they are (no re-encoding); anything
    else is decoded, turned upright (EXIF), reduced to at most ``MAX_IMAGE_PX`` and Flate-compressed,
    alpha becoming a soft mask.
    """
    key = hashlib.sha256(data).digest()
    with _IMAGES_LOCK:
        hit = _IMAGES.get(key)
        if hit is not None:
            _IMAGES.move_to_end(key)
            return hit
    try:
        prepared = _prepare(data, "EcertImg" + key.hex()[:16])
    except Exception as exc:  # PIL raises many types for bad data (OSError, SyntaxError, DecompressionBombError …)
        raise ValueError(f"the {what} is not a readable PNG or JPEG image: {exc}") from exc
    with _IMAGES_LOCK:
        _IMAGES[key] = prepared
        while len(_IMAGES) > _IMAGES_MAX:
            _IMAGES.popitem(last=False)
    return prepared


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_COLORS = {0: 1, 2: 3}  # colour type -> samples per pixel, for the types passed through (grey, RGB)
# Ancillary chunks that change what is shown: transparency, EXIF orientation. With any of them the PNG
# is decoded as before; every other ancillary chunk (gamma, colour profile, text …) is ignored by both routes.
_PNG_DECODE_CHUNKS = {b"tRNS", b"eXIf"}


def _png_passthrough(data: bytes, name: str) -> PreparedImage | None:
    """The PNG's image data as it is, when a PDF can take it so (issue 15: no decode and re-encode per
    image): 8-bit grey or RGB, not interlaced, no transparency or EXIF, at most ``MAX_IMAGE_PX``, every
    chunk's CRC right and the data inflating to exactly the rows the header announces, each with a valid
    filter type. None otherwise (or for anything malformed): the caller then decodes it with Pillow."""
    if not data.startswith(_PNG_SIGNATURE):
        return None
    pos, end = len(_PNG_SIGNATURE), len(data)
    header: tuple[int, ...] | None = None
    idat: list[bytes] = []
    prev = b""
    while pos + 12 <= end:
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        body_end = pos + 8 + length
        if body_end + 4 > end or zlib.crc32(data[pos + 4 : body_end]) != int.from_bytes(
            data[body_end : body_end + 4], "big"
        ):
            return None
        body = data[pos + 8 : body_end]
        pos = body_end + 4
        if header is None:
            if kind != b"IHDR" or length != 13:
                return None
            header = (int.from_bytes(body[0:4], "big"), int.from_bytes(body[4:8], "big"), *body[8:13])
        elif kind == b"IDAT":
            if idat and prev != b"IDAT":  # IDAT chunks must be consecutive
                return None
            idat.append(body)
        elif kind == b"IEND":
            break
        elif kind in _PNG_DECODE_CHUNKS or (kind[0] & 0x20 == 0 and kind != b"PLTE"):  # unknown critical chunk
            return None
        prev = kind
    else:
        return None  # no IEND
    if header is None or not idat:
        return None
    width, height, depth, color_type, compression, filtering, interlace = header
    colors = _PNG_COLORS.get(color_type)
    if colors is None or depth != 8 or compression or filtering or interlace:
        return None
    if not 0 < width <= MAX_IMAGE_PX or not 0 < height <= MAX_IMAGE_PX:
        return None
    stream = b"".join(idat)
    stride = 1 + width * colors
    expected = stride * height
    inflater = zlib.decompressobj()
    try:
        rows = inflater.decompress(stream, expected + 1)  # bounded: a bomb stops at the announced size
    except zlib.error:
        return None
    if len(rows) != expected or not inflater.eof or inflater.unconsumed_tail or max(rows[::stride]) > 4:
        return None
    cs = "DeviceGray" if colors == 1 else "DeviceRGB"
    return PreparedImage(name, width, height, cs, stream, False, None, png_colors=colors, source=data)


def _prepare(data: bytes, name: str) -> PreparedImage:
    passed = _png_passthrough(data, name)
    if passed is not None:
        return passed
    im: Image.Image = Image.open(io.BytesIO(data))
    if im.format not in ("PNG", "JPEG"):
        raise ValueError(f"unsupported image format {im.format}")
    orientation = im.getexif().get(0x0112, 1)
    if im.format == "JPEG" and im.mode in ("RGB", "L") and orientation == 1 and max(im.size) <= MAX_IMAGE_PX:
        cs = "DeviceRGB" if im.mode == "RGB" else "DeviceGray"
        return PreparedImage(name, im.width, im.height, cs, data, True, None)
    im.load()
    im = ImageOps.exif_transpose(im) or im
    if max(im.size) > MAX_IMAGE_PX:
        im.thumbnail((MAX_IMAGE_PX, MAX_IMAGE_PX), Image.Resampling.LANCZOS)
    alpha: Image.Image | None = None
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA") if im.mode in ("P", "PA") else im
        alpha = im.getchannel("A")
        if alpha.getextrema() == (255, 255):
            alpha = None
    if im.mode.startswith("I"):  # 16/32-bit grey: scale to 8 bits rather than clip
        im = im.point(lambda v: v / 256).convert("L")
    base = im.convert("L") if im.mode in ("L", "LA", "1") else im.convert("RGB")
    cs = "DeviceGray" if base.mode == "L" else "DeviceRGB"
    smask = zlib.compress(alpha.tobytes(), 1) if alpha is not None else None
    return PreparedImage(name, base.width, base.height, cs, zlib.compress(base.tobytes(), 1), False, smask)


@dataclass(frozen=True, slots=True)
class _Rows:
    """Row heights (mm), shrunk together when the specialties would push the table past its band."""

    field: float
    spec_head: float
    spec: float
    sig: float
    sig_date: float

    @classmethod
    def fit(cls, n_specs: int, band: float) -> _Rows:
        big = cls(field=12.0, spec_head=8.5, spec=10.0, sig=26.0, sig_date=10.5)
        need = big.total(n_specs)
        if need <= band:
            return big
        f = band / need
        return cls(big.field * f, big.spec_head * f, big.spec * f, big.sig * f, big.sig_date * f)

    def total(self, n_specs: int) -> float:
        return 7 * self.field + self.spec_head + n_specs * self.spec + self.sig + self.sig_date


def _baseline(top: float, h: float, size: float) -> float:
    """Baseline (points) that centres CJK text of ``size`` points vertically in a row (mm)."""
    return _Y(top + h / 2) - size * 0.36


def fit_text(
    runs: Sequence[tuple[str, str]], text: str, x: float, size: float, style: TextStyle
) -> tuple[float, float]:
    """Where ``text`` starts and at what size it is set, for both renderers: ``runs`` (font name, part) measured
    at ``size`` and set smaller when wider than ``style.max_width`` (not below ``style.min_size``); ``x`` moved
    left by the whole width (right) or half of it (centre). Returns (x, size)."""
    char_space = style.char_space
    width = sum(stringWidth(part, font, size) for font, part in runs) + char_space * len(text)
    max_width = style.max_width
    if max_width is not None and width > max_width:
        size = max(style.min_size, size * max_width / width)
        width = sum(stringWidth(part, font, size) for font, part in runs) + char_space * len(text)
    if style.align == "centre":
        x -= width / 2
    elif style.align == "right":
        x -= width
    return x, size


class Painter(Protocol):
    """What the page is painted with: the ReportLab canvas (:class:`.reportlab_render.CanvasPainter`) or the fast
    direct PDF writer (:mod:`.fast_render`). Both must paint the same marks for the same calls."""

    fonts: FontSet

    def text(self, text: str, x: float, y: float, size: float, style: TextStyle = PLAIN) -> float:
        """Set ``text`` at baseline ``y`` (points), each character in the first font that has it, placed
        and sized by :func:`fit_text`; returns the font size used."""
        ...

    def literal(self, ops: str) -> None:
        """Append PDF operators that use no resources."""
        ...

    def form(self, key: str, build: Callable[[], tuple[str, tuple[float, float, float, float]]]) -> None:
        """:func:`.seal_image.draw_static_form` semantics."""
        ...

    def image_fit(self, img: PreparedImage, x: float, y: float, w: float, h: float) -> None:
        """:func:`.reportlab_render.draw_image_fit` semantics."""
        ...

    def qr(self, text: str, x: float, y: float, size: float) -> None:
        """:func:`.qr.draw_qr` semantics."""
        ...

    def seal(self, cx: float, cy: float, radius: float) -> None:
        """:func:`.seal_image.draw_seal` semantics."""
        ...

    def overprint(self, key: str, build: FormBuilder, at: Sequence[Matrix]) -> None:
        """The static form ``key`` (as :meth:`form`) painted at each matrix of ``at`` with a multiply
        blend: ink that darkens what is under it and never hides it."""
        ...

    def layer(self, key: str, paint: Callable[[Painter], None]) -> None:
        """What ``paint`` draws, in the current graphics state. It must be the same on every page that
        has it (fixed text, static forms, literals): the fast writer serialises it once per process
        as one Form XObject, the reference paints it in place."""
        ...


class _Page:
    def __init__(self, painter: Painter) -> None:
        self.p = painter

    def text(self, text: str, x_mm: float, y_pt: float, size: float, **style: Any) -> float:
        return self.p.text(text, x_mm * MM, y_pt, size, TextStyle(**style))

    def label(self, text: str, x: float, top: float, w: float, h: float) -> None:
        size = LABEL_SIZE
        self.text(
            text,
            x + w / 2,
            _baseline(top, h, size),
            size,
            align="centre",
            max_width=(w - 3) * MM,
            color=LABEL_INK,
            fixed=True,
        )

    def value(
        self, text: str, x: float, top: float, w: float, h: float, *, size: float = VALUE_SIZE, fixed: bool = False
    ) -> None:
        self.text(text, x + 3.5, _baseline(top, h, size), size, max_width=(w - 6) * MM, fixed=fixed)


def prepare_inputs(
    content: CertificateContent, signature_image: bytes, photo: bytes | None, fs: FontSet
) -> tuple[PreparedImage, PreparedImage | None]:
    """The checks every rendering makes before drawing (R-DOC-1: ten specialties at most, every
    character covered by a font), and the prepared images."""
    if len(content.specialties) > MAX_SPECIALTIES:
        raise ValueError(f"at most {MAX_SPECIALTIES} specialties fit on the certificate")
    fs.ensure_covered(
        "".join((content.name, content.gender, content.employer_name, content.registration_no, content.issuer))
        + "".join(s.specialty for s in content.specialties)
        + content.identifier
        + content.serial
        + content.id_number_masked
        + content.employer_uscc
    )
    signature = prepare_image(signature_image, "signature image")
    portrait = prepare_image(photo, "photo") if photo is not None else None
    return signature, portrait


def paint_page(
    painter: Painter,
    content: CertificateContent,
    qr_text: str,
    signature: PreparedImage,
    portrait: PreparedImage | None,
    *,
    demo: bool = False,
) -> None:
    """Everything on the page, in painting order (R-DOC-1, R-DOC-2 image, R-DOC-4, R-DOC-5); with
    ``demo``, the DEMO mark over it all (:func:`paint_demo_mark`)."""
    p = _Page(painter)
    painter.form("page-art:v1", _page_art)

    # Usage window, top right (R-DOC-1).
    p.text(usage_window_text(content), RIGHT - 4, _Y(USAGE_Y), 10.0, align="right", fixed=True)
    p.text(TITLE, PAGE_W / 2 / MM, _Y(TITLE_Y), 23.0, align="centre", bold=True, char_space=1.2, fixed=True)

    rows = _Rows.fit(len(content.specialties), TABLE_BOTTOM_MAX - TABLE_TOP)
    _table(p, content, signature, portrait, TABLE_TOP, rows)

    # Bottom block: QR (left), issuer with the seal over it (right), identifier (bottom).
    painter.qr(qr_text, LEFT * MM, _Y(QR_TOP + QR_SIZE), QR_SIZE * MM)
    p.text("扫码验证", LEFT + QR_SIZE / 2, _Y(QR_TOP + QR_SIZE + 4.0), 9.5, align="centre", color=LABEL_INK, fixed=True)
    issuer_cx = 142.0
    p.text(f"发证机关{COLON}{content.issuer}", issuer_cx, _Y(ISSUER_Y), 11.5, align="centre", fixed=True)
    p.text(
        f"发证日期{COLON}{cn_date(content.issue_date)}", issuer_cx, _Y(ISSUE_DATE_Y), 11.5, align="centre", fixed=True
    )
    # The seal covers the end of the issuer's name and the date, as a stamp does.
    painter.seal((issuer_cx + 12) * MM, _Y((ISSUER_Y + ISSUE_DATE_Y) / 2 - 1.5), SEAL_RADIUS_MM * MM)
    p.text(
        f"电子证照标识{COLON}{content.identifier}",
        LEFT,
        _Y(IDENT_Y),
        8.0,
        color=LABEL_INK,
        max_width=WIDTH * MM,
        fixed=True,
    )
    p.text(f"证书编号{COLON}{content.serial}", LEFT, _Y(SERIAL_Y), 8.0, color=LABEL_INK, fixed=True)
    if demo:
        painter.layer(DEMO_LAYER, paint_demo_mark)


def _table(
    p: _Page,
    content: CertificateContent,
    signature: PreparedImage,
    portrait: PreparedImage | None,
    top0: float,
    rows: _Rows,
) -> None:
    painter = p.p
    fh = rows.field
    value_x = LEFT + LABEL_W
    photo_x = RIGHT - PHOTO_W
    spec_date_x = RIGHT - SPEC_DATE_W
    n = len(content.specialties)
    sig_w = (WIDTH - LABEL_W - SIG_LABEL_W) / 2
    box_x = value_x + sig_w + SIG_LABEL_W  # the handwritten-signature box

    tops = [top0 + i * fh for i in range(8)]  # seven field rows; tops[7] is the specialty header
    spec_top = tops[7] + rows.spec_head
    sig_top = spec_top + n * rows.spec
    sig_date_top = sig_top + rows.sig
    bottom = sig_date_top + rows.sig_date

    # Label cell backgrounds, then the grid, in one path each.
    bg = [(LEFT, t, LABEL_W, fh) for t in tops[:7]]
    bg += [
        (LEFT, tops[7], LABEL_W, rows.spec_head + n * rows.spec),
        (value_x, tops[7], WIDTH - LABEL_W, rows.spec_head),
        (LEFT, sig_top, LABEL_W, rows.sig + rows.sig_date),
        (value_x + sig_w, sig_top, SIG_LABEL_W, rows.sig + rows.sig_date),
    ]
    ops = [f"q {LABEL_BG[0]:.3f} {LABEL_BG[1]:.3f} {LABEL_BG[2]:.3f} rg"]
    ops += [f"{x * MM:.2f} {_Y(t + h):.2f} {w * MM:.2f} {h * MM:.2f} re" for x, t, w, h in bg]
    ops.append("f Q")
    painter.literal("\n".join(ops))
    # The security background goes over the label tint and under the grid and the text.
    painter.form("watermark:v1", _watermark)
    ops = ["q"]
    lines: list[tuple[float, float, float, float]] = []  # x0, y0, x1, y1 in mm
    for i, t in enumerate(tops[1:], start=1):
        lines.append((LEFT, t, photo_x if i < 4 else RIGHT, t))
    for i in range(n):
        t = spec_top + i * rows.spec
        lines.append((value_x, t, RIGHT, t))
    lines += [
        (LEFT, sig_top, RIGHT, sig_top),
        (LEFT, sig_date_top, value_x + sig_w, sig_date_top),
        (value_x, top0, value_x, bottom),
        (photo_x, top0, photo_x, tops[4]),
        (spec_date_x, tops[7], spec_date_x, sig_top),
        (value_x + sig_w, sig_top, value_x + sig_w, bottom),
        (box_x, sig_top, box_x, bottom),
    ]
    ops.append(f"{RULE[0]:.3f} {RULE[1]:.3f} {RULE[2]:.3f} RG 0.5 w")
    ops += [f"{x0 * MM:.2f} {_Y(y0):.2f} m {x1 * MM:.2f} {_Y(y1):.2f} l" for x0, y0, x1, y1 in lines]
    ops.append("S")
    ops.append(f"{FRAME[0]:.3f} {FRAME[1]:.3f} {FRAME[2]:.3f} RG 1.1 w")
    ops.append(f"{LEFT * MM:.2f} {_Y(bottom):.2f} {WIDTH * MM:.2f} {(bottom - top0) * MM:.2f} re S Q")
    painter.literal("\n".join(ops))

    # Personal data beside the photo.
    vw = photo_x - value_x
    p.label("姓名", LEFT, tops[0], LABEL_W, fh)
    p.value(content.name, value_x, tops[0], vw, fh, size=VALUE_SIZE + 1.5)
    p.label("性别", LEFT, tops[1], LABEL_W, fh)
    p.value(content.gender, value_x, tops[1], vw, fh)
    p.label("出生日期", LEFT, tops[2], LABEL_W, fh)
    p.value(cn_date(content.birth_date), value_x, tops[2], vw, fh, fixed=True)
    p.label("身份证号", LEFT, tops[3], LABEL_W, fh)
    p.value(content.id_number_masked, value_x, tops[3], vw, fh, fixed=True)
    p.label("注册编号", LEFT, tops[4], LABEL_W, fh)
    p.value(content.registration_no, value_x, tops[4], WIDTH - LABEL_W, fh)
    p.label("聘用企业", LEFT, tops[5], LABEL_W, fh)
    p.value(content.employer_name, value_x, tops[5], WIDTH - LABEL_W, fh)
    p.label("统一社会信用代码", LEFT, tops[6], LABEL_W, fh)
    p.value(content.employer_uscc, value_x, tops[6], WIDTH - LABEL_W, fh, fixed=True)

    _photo(p, portrait, photo_x, top0, PHOTO_W, 4 * fh)

    # Specialties, one row each.
    p.label("注册专业", LEFT, tops[7], LABEL_W, rows.spec_head + n * rows.spec)
    p.label("专业", value_x, tops[7], spec_date_x - value_x, rows.spec_head)
    p.label("有效期至", spec_date_x, tops[7], SPEC_DATE_W, rows.spec_head)
    for i, s in enumerate(content.specialties):
        t = spec_top + i * rows.spec
        p.value(s.specialty, value_x, t, spec_date_x - value_x, rows.spec)
        p.value(cn_date(s.valid_until), spec_date_x, t, SPEC_DATE_W, rows.spec, fixed=True)

    # Signature image and its date; beside them the box for the handwritten signature (R-DOC-5).
    p.label("签名图像", LEFT, sig_top, LABEL_W, rows.sig)
    pad = 2.0
    painter.image_fit(
        signature,
        (value_x + pad) * MM,
        _Y(sig_top + rows.sig - pad),
        (sig_w - 2 * pad) * MM,
        (rows.sig - 2 * pad) * MM,
    )
    p.label("签名日期", LEFT, sig_date_top, LABEL_W, rows.sig_date)
    p.value(cn_date(content.issue_date), value_x, sig_date_top, sig_w, rows.sig_date, fixed=True)
    p.label("个人签名", value_x + sig_w, sig_top, SIG_LABEL_W, rows.sig + rows.sig_date)
    p.text(
        "打印件须本人在此手写签名", (box_x + RIGHT) / 2, _Y(bottom - 2.4), 7.0, align="centre", color=HINT, fixed=True
    )


def _photo(p: _Page, portrait: PreparedImage | None, x: float, top: float, w: float, h: float) -> None:
    """The photo, or an empty dashed frame labelled 照片, in a 3:4 box centred in the cell (mm)."""
    bw = min(w - 7, (h - 5) * 0.75)
    bh = bw / 0.75
    bx = x + (w - bw) / 2
    bt = top + (h - bh) / 2
    if portrait is not None:
        p.p.image_fit(portrait, bx * MM, _Y(bt + bh), bw * MM, bh * MM)
        return
    p.p.literal(
        f"q {RULE[0]:.3f} {RULE[1]:.3f} {RULE[2]:.3f} RG 0.5 w [2 2] 0 d "
        f"{bx * MM:.2f} {_Y(bt + bh):.2f} {bw * MM:.2f} {bh * MM:.2f} re S Q"
    )
    p.text("照片", bx + bw / 2, _baseline(bt, bh, 10.0), 10.0, align="centre", color=HINT, fixed=True)
