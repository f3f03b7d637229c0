"""The visible red seal (R-DOC-2), drawn in vector.

中华人民共和国住房和城乡建设部一级建造师行政许可专用章: a red ring, a five-pointed star in the centre,
the authority's name along the upper arc (each character turned to face outwards), and
一级建造师行政许可专用章 in two horizontal lines below the star.

The seal's characters are drawn as glyph *outlines* (paths), not as text: a seal is a picture, and
as text its 26 characters would be extracted by ``pdftotext`` into the middle of the issuer line it
overlaps. The outlines come from the Ming (宋体-style) Hanazono font when it has the character —
Chinese official seals are cut in 宋体 — else from the next font of the chain. The finished operator
string is built once per radius and reused (it is the same on every certificate).

The cryptographic seal is the PAdES signature the signing step adds; this is only its picture.
"""

from __future__ import annotations

import hashlib
import math
import struct
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reportlab.pdfbase import pdfdoc  # type: ignore[import-untyped]

from ecert.adapters.documents.fonts import FLATE_DONE, FontSet, default_fonts
from ecert.domain.certificate import ISSUER

SEAL_RED = (0xD7 / 255, 0x00 / 255, 0x0F / 255)
SEAL_ARC_TEXT = ISSUER  # 中华人民共和国住房和城乡建设部
SEAL_LINES = ("一级建造师", "行政许可专用章")
SEAL_OPACITY = 0.9

# TrueType composite-glyph flags.
_ARG_WORDS = 0x0001
_ARGS_XY = 0x0002
_HAVE_SCALE = 0x0008
_MORE = 0x0020
_XY_SCALE = 0x0040
_TWO_BY_TWO = 0x0080

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Glyph:
    """A glyph outline as PDF path operators in font units, with the metrics to place it."""

    path: str  # PDF path construction operators (m/l/c/h), font units, baseline at y = 0
    advance: float  # font units
    units_per_em: int
    centre_y: float  # font units: middle of the em box (between descent and ascent)


def _coordinates(data: bytes, pos: int, flags: list[int], short: int, same: int) -> tuple[list[int], int]:
    """One axis of a simple glyph's points (absolute font units), and the position after them."""
    out: list[int] = []
    v = 0
    for f in flags:
        if f & short:
            d = data[pos]
            pos += 1
            v += d if f & same else -d
        elif not f & same:
            v += struct.unpack_from(">h", data, pos)[0]
            pos += 2
        out.append(v)
    return out, pos


def _read_contours(face: Any, gid: int, depth: int = 0) -> list[list[tuple[float, float, bool]]]:
    """Contours of glyph ``gid`` as lists of (x, y, on_curve), composites resolved."""
    data: bytes = face._ttf_data
    glyf_start = face.get_table_pos("glyf")[0]
    start = glyf_start + face.glyphPos[gid]
    end = glyf_start + face.glyphPos[gid + 1]
    if end <= start or depth > 8:
        return []
    n_contours = struct.unpack_from(">h", data, start)[0]
    pos = start + 10
    if n_contours >= 0:
        ends = struct.unpack_from(f">{n_contours}H", data, pos)
        pos += 2 * n_contours
        n_points = (ends[-1] + 1) if n_contours else 0
        ins_len = struct.unpack_from(">H", data, pos)[0]
        pos += 2 + ins_len
        flags: list[int] = []
        while len(flags) < n_points:
            f = data[pos]
            pos += 1
            flags.append(f)
            if f & 0x08:
                flags.extend([f] * data[pos])
                pos += 1
        xs, pos = _coordinates(data, pos, flags, 0x02, 0x10)  # x: short-vector and same-or-positive flags
        ys, pos = _coordinates(data, pos, flags, 0x04, 0x20)  # y: likewise
        contours: list[list[tuple[float, float, bool]]] = []
        first = 0
        for last in ends:
            contours.append([(float(xs[i]), float(ys[i]), bool(flags[i] & 1)) for i in range(first, last + 1)])
            first = last + 1
        return contours
    # Composite glyph: components, each with an offset and an optional linear transform.
    out: list[list[tuple[float, float, bool]]] = []
    flag = _MORE
    while flag & _MORE:
        flag, comp = struct.unpack_from(">HH", data, pos)
        pos += 4
        if flag & _ARG_WORDS:
            dx, dy = struct.unpack_from(">hh" if flag & _ARGS_XY else ">HH", data, pos)
            pos += 4
        else:
            dx, dy = struct.unpack_from(">bb" if flag & _ARGS_XY else ">BB", data, pos)
            pos += 2
        if not flag & _ARGS_XY:  # point matching: rare, approximated by no offset
            dx = dy = 0
        a, b, c, d = 1.0, 0.0, 0.0, 1.0
        if flag & _HAVE_SCALE:
            a = d = struct.unpack_from(">h", data, pos)[0] / 16384
            pos += 2
        elif flag & _XY_SCALE:
            a, d = (v / 16384 for v in struct.unpack_from(">hh", data, pos))
            pos += 4
        elif flag & _TWO_BY_TWO:
            a, b, c, d = (v / 16384 for v in struct.unpack_from(">hhhh", data, pos))
            pos += 8
        for contour in _read_contours(face, comp, depth + 1):
            out.append([(a * x + c * y + dx, b * x + d * y + dy, on) for x, y, on in contour])
    return out


def _contour_ops(contour: list[tuple[float, float, bool]]) -> list[str]:
    """PDF operators for one closed quadratic-B-spline contour (quadratics raised to cubics)."""
    n = len(contour)
    if n < 2:
        return []
    # Start on an on-curve point; if there is none, on the midpoint of the first two.
    k = next((i for i, p in enumerate(contour) if p[2]), None)
    if k is None:
        (x0, y0, _), (x1, y1, _) = contour[0], contour[1]
        pts = [((x0 + x1) / 2, (y0 + y1) / 2, True), *contour[1:], contour[0]]
    else:
        pts = contour[k:] + contour[:k]
    sx, sy = pts[0][0], pts[0][1]
    ops = [f"{sx:.1f} {sy:.1f} m"]
    cx, cy = sx, sy  # current point
    ctrl: Point | None = None
    for x, y, on in [*pts[1:], (sx, sy, True)]:
        if on:
            if ctrl is None:
                ops.append(f"{x:.1f} {y:.1f} l")
            else:
                ops.append(_quad(cx, cy, ctrl, x, y))
                ctrl = None
            cx, cy = x, y
        elif ctrl is None:
            ctrl = (x, y)
        else:  # two off-curve points in a row: implied on-curve point midway
            mx, my = (ctrl[0] + x) / 2, (ctrl[1] + y) / 2
            ops.append(_quad(cx, cy, ctrl, mx, my))
            cx, cy = mx, my
            ctrl = (x, y)
    ops.append("h")
    return ops


def _quad(x0: float, y0: float, q: Point, x1: float, y1: float) -> str:
    c1x, c1y = x0 + 2 / 3 * (q[0] - x0), y0 + 2 / 3 * (q[1] - y0)
    c2x, c2y = x1 + 2 / 3 * (q[0] - x1), y1 + 2 / 3 * (q[1] - y1)
    return f"{c1x:.1f} {c1y:.1f} {c2x:.1f} {c2y:.1f} {x1:.1f} {y1:.1f} c"


def glyph_outline(face: Any, ch: str) -> Glyph:
    """The outline of ``ch`` in a ReportLab TTFontFace (which must map it)."""
    gid = face.charToGlyph[ord(ch)]
    ops: list[str] = []
    for contour in _read_contours(face, gid):
        ops.extend(_contour_ops(contour))
    upem = int(face.unitsPerEm)
    advance = face.hmetrics[gid][0]
    centre = (face.ascent + face.descent) / 2 * upem / 1000
    return Glyph(path="\n".join(ops), advance=float(advance), units_per_em=upem, centre_y=centre)


def _seal_glyph(fonts: FontSet, ch: str) -> Glyph:
    # Prefer the Ming fallbacks (宋体-like) over the sans main font, as a seal cutter would.
    for f in (*fonts.fonts[1:], fonts.fonts[0]):
        if ord(ch) in f.cmap:
            return glyph_outline(f.ttfont.face, ch)
    fonts.ensure_covered(ch)  # raises
    raise AssertionError("unreachable")


def _place(glyph: Glyph, cx: float, cy: float, height: float, angle: float, squeeze: float) -> str:
    """Operators drawing ``glyph`` centred on (cx, cy), ``height`` pt tall, turned by ``angle`` radians
    (0 = upright), its width multiplied by ``squeeze`` (seal characters are narrow)."""
    s = height / glyph.units_per_em
    cos, sin = math.cos(angle), math.sin(angle)
    # Glyph space: move the em-box centre to the origin, scale, squeeze, rotate, translate.
    a, b = s * squeeze * cos, s * squeeze * sin
    c, d = -s * sin, s * cos
    ox, oy = -glyph.advance / 2, -glyph.centre_y
    e = cx + a * ox + c * oy
    f = cy + b * ox + d * oy
    # Filled and stroked: Ming strokes are hair-thin; a seal's are cut bold.
    weight = 0.045 * glyph.units_per_em
    return f"q {a:.5f} {b:.5f} {c:.5f} {d:.5f} {e:.3f} {f:.3f} cm {weight:.1f} w 1 j\n{glyph.path}\nB Q"


def _star(cx: float, cy: float, r_outer: float) -> str:
    r_inner = r_outer * math.sin(math.radians(18)) / math.sin(math.radians(126))  # regular pentagram
    pts = []
    for i in range(10):
        r = r_outer if i % 2 == 0 else r_inner
        t = math.radians(90 + 36 * i)
        pts.append((cx + r * math.cos(t), cy + r * math.sin(t)))
    ops = [f"{pts[0][0]:.3f} {pts[0][1]:.3f} m"] + [f"{x:.3f} {y:.3f} l" for x, y in pts[1:]] + ["h f"]
    return "\n".join(ops)


def _circle(r: float) -> str:
    """A circle of radius r around the origin as four Bézier arcs."""
    k = 0.5522847498 * r
    return (
        f"{r:.3f} 0 m {r:.3f} {k:.3f} {k:.3f} {r:.3f} 0 {r:.3f} c "
        f"{-k:.3f} {r:.3f} {-r:.3f} {k:.3f} {-r:.3f} 0 c "
        f"{-r:.3f} {-k:.3f} {-k:.3f} {-r:.3f} 0 {-r:.3f} c "
        f"{k:.3f} {-r:.3f} {r:.3f} {-k:.3f} {r:.3f} 0 c h"
    )


def seal_operators(radius: float, fonts: FontSet) -> str:
    """The seal, centred on the origin, as PDF operators (fill colour and opacity set by the caller)."""
    r = radius
    ring = 0.06 * r
    parts = [f"{ring:.3f} w", _circle(r - ring / 2), "S"]
    # Upper arc: characters centred on a circle inside the ring, tops pointing outwards.
    text = SEAL_ARC_TEXT
    char_h = 0.25 * r
    arc_r = r - ring - 0.07 * r - char_h / 2
    span = math.radians(236)
    step = span / (len(text) - 1)
    for i, ch in enumerate(text):
        theta = math.pi / 2 + span / 2 - i * step  # left to right, clockwise over the top
        x, y = arc_r * math.cos(theta), arc_r * math.sin(theta)
        parts.append(_place(_seal_glyph(fonts, ch), x, y, char_h, theta - math.pi / 2, 0.78))
    parts.append(_star(0, 0.03 * r, 0.3 * r))
    # Two horizontal lines under the star.
    line_h = (0.165 * r, 0.165 * r)
    ys = (-0.4 * r, -0.6 * r)
    widths = (0.66 * r, 0.9 * r)
    for line, h, y, w in zip(SEAL_LINES, line_h, ys, widths, strict=True):
        pitch = w / len(line)
        x0 = -w / 2 + pitch / 2
        for i, ch in enumerate(line):
            parts.append(_place(_seal_glyph(fonts, ch), x0 + i * pitch, y, h, 0.0, 0.82))
    return "\n".join(parts)


_FORMS: dict[str, tuple[bytes, tuple[float, float, float, float]]] = {}
_FORMS_LOCK = threading.Lock()

FormBuilder = Callable[[], tuple[str, tuple[float, float, float, float]]]


def static_form(key: str, build: FormBuilder) -> tuple[bytes, tuple[float, float, float, float]]:
    """(Flate-compressed operators, bounding box) of a static form, built once per process and ``key``."""
    with _FORMS_LOCK:
        hit = _FORMS.get(key)
    if hit is None:
        ops, bbox = build()
        hit = (zlib.compress(ops.encode("ascii"), 9), bbox)
        with _FORMS_LOCK:
            _FORMS[key] = hit
    return hit


def draw_static_form(canvas: Any, key: str, build: Callable[[], tuple[str, tuple[float, float, float, float]]]) -> None:
    """Paint a Form XObject whose content never changes, in the current graphics state.

    ``build()`` returns (PDF operators, bounding box); it runs once per process and ``key``, and the
    operators are compressed once too: documents only copy the bytes. The form must not use
    resources (fonts, images, extended graphics states) — set colours inside, opacity outside.
    """
    data, bbox = static_form(key, build)
    name = "Ecert" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
    doc = canvas._doc
    internal = doc.getXObjectName(name)
    if internal not in doc.idToObject:
        stream = pdfdoc.PDFStream(content=data, filters=[FLATE_DONE])
        d = stream.dictionary
        d["Type"] = pdfdoc.PDFName("XObject")
        d["Subtype"] = pdfdoc.PDFName("Form")
        d["BBox"] = pdfdoc.PDFArray([round(v, 2) for v in bbox])
        d["Resources"] = pdfdoc.PDFDictionary({})
        doc.Reference(stream, internal)
    canvas.doForm(name)


def seal_form(radius: float, fonts: FontSet) -> tuple[str, FormBuilder]:
    """(form key, builder) of the seal picture centred on the origin (see :func:`draw_seal`)."""
    key = f"seal:{radius:.3f}:" + "|".join(str(f.path) for f in fonts.fonts)

    def build() -> tuple[str, tuple[float, float, float, float]]:
        red = " ".join(f"{v:.4f}" for v in SEAL_RED)
        ops = f"{red} rg {red} RG\n{seal_operators(radius, fonts)}"
        return ops, (-radius, -radius, radius, radius)

    return key, build


def draw_seal(canvas: Any, cx: float, cy: float, radius: float, *, fonts: FontSet | None = None) -> None:
    """Draw the red seal centred on (cx, cy) with the given outer radius (points; 21 mm ≈ 59.5 pt).

    Drawn with a multiply blend at 90 % opacity, so text under it stays legible, as with real ink.
    The seal itself is a Form XObject built and compressed once per process.
    """
    fs = fonts if fonts is not None else default_fonts()
    key, build = seal_form(radius, fs)
    canvas.saveState()
    canvas.setFillAlpha(SEAL_OPACITY)
    canvas.setStrokeAlpha(SEAL_OPACITY)
    canvas.setBlendMode("Multiply")
    canvas.translate(cx, cy)
    draw_static_form(canvas, key, build)
    canvas.restoreState()
