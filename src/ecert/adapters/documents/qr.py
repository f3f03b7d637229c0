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

**Fast encoder** (issue "national scale", issuance speed). segno builds a fixed-mask symbol in about
2 ms of pure Python (bit buffers, Reed-Solomon division, module-by-module placement and masking).
:func:`fast_matrix` produces the *same* matrix (checked against segno for every version in the unit
tests) in about 0.1 ms: the function patterns, format/version information and mask of each version
are laid down once per process (with segno's own routines), Reed-Solomon is a table lookup per data
codeword (the code is linear: the remainder is the XOR of per-position, per-value remainders), and
the bit stream is placed with slice assignments along the zig-zag columns. It handles the
alphanumeric mode our uppercase verification URLs use (R-DOC-4); any other text goes through segno.
"""

from __future__ import annotations

import re
import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import reduce
from operator import getitem, itemgetter, xor
from typing import Any

import segno
from segno import consts as _consts_module
from segno import encoder as _encoder_module

# segno's internals (tables and pattern routines) are untyped: used through Any.
_segno_consts: Any = _consts_module
_segno_encoder: Any = _encoder_module

QUIET_ZONE = 4  # modules, the minimum ISO/IEC 18004 asks for
ERROR_LEVEL = "q"
MASK = 0


def qr_matrix(text: str, *, error: str = ERROR_LEVEL, mask: int = MASK) -> list[list[bool]]:
    """Rows of modules (True = dark), without the quiet zone. Full QR (never Micro QR), fixed level and mask."""
    if error == ERROR_LEVEL and mask == MASK:
        fast = fast_matrix(text)
        if fast is not None:
            return [[bool(v) for v in row] for row in fast[1]]
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
    fast = fast_matrix(text)
    matrix: Sequence[Sequence[int]]
    version: Any
    if fast is not None:
        version, matrix = fast
    else:
        qr = segno.make(text, error=ERROR_LEVEL, mask=MASK, micro=False, boost_error=False)
        matrix, version = qr.matrix, qr.version
    assert isinstance(version, int)
    canvas.addLiteral(
        f"q 1 g {x:.3f} {y:.3f} {size:.3f} {size:.3f} re f 0 g\n{qr_path_operators(matrix, x, y, size)}\nQ"
    )
    return version


# ---------------------------------------------------------------------------------------------
# Fast encoder: level Q, mask 0, alphanumeric mode (see the module docstring).

_Q = _segno_consts.ERROR_LEVEL_Q
_ALNUM_VALUE = {ch: i for i, ch in enumerate(_segno_consts.ALPHANUMERIC_CHARS.decode("ascii"))}
_BITS = [bytes((v >> (7 - i)) & 1 for i in range(8)) for v in range(256)]  # codeword -> 8 bytes of 0/1
_GF_LOG: Sequence[int] = _segno_consts.GALIOS_LOG
_GF_EXP: Sequence[int] = _segno_consts.GALIOS_EXP


@dataclass(frozen=True, slots=True)
class _VersionLayout:
    """Everything about one version that does not depend on the data."""

    size: int  # modules per side
    stride: int  # bytes per row in ``template``: ``size`` rounded up to a multiple of 8 (zero padding)
    template: bytes  # rows of 0/1 bytes, ``stride`` apart; data modules hold their mask bit
    mask: int  # the mask bit of each data module, in bit-stream order, as one big integer (a byte per bit)
    places: tuple[tuple[slice, slice], ...]  # (template slice, bit-stream slice) pairs covering the data
    blocks: tuple[tuple[int, int], ...]  # (data codewords, EC codewords) per block, in order
    interleave: Callable[[bytes], tuple[int, ...]]  # data codewords in transmission order
    n_bits: int  # data modules, remainder bits included


_LAYOUTS: dict[int, _VersionLayout] = {}
_RS_TABLES: dict[tuple[int, int], list[list[int]]] = {}
_FAST_LOCK = threading.Lock()


def _rs_table(n_data: int, n_ec: int) -> list[list[int]]:
    """``t[k][v]``: the EC remainder (as a big-endian integer) of a block whose only non-zero data
    codeword is ``v`` at position ``k``. RS encoding is linear over GF(256), so a block's remainder
    is the XOR of its codewords' entries. segno's generator polynomials and GF tables."""
    gen = _segno_consts.GEN_POLY[n_ec]
    table: list[list[int]] = []
    for k in range(n_data):
        block = bytearray(n_data + n_ec)
        block[k] = 1
        for i in range(n_data):  # polynomial division, as segno's make_blocks does it
            coef = block[i]
            if coef:
                lc = _GF_LOG[coef]
                for j in range(n_ec):
                    block[i + j + 1] ^= _GF_EXP[lc + gen[j]]
        logs = [_GF_LOG[r] if r else -1 for r in block[n_data:]]
        row = [0]
        for v in range(1, 256):
            lv = _GF_LOG[v]
            row.append(int.from_bytes(bytes(0 if lr < 0 else _GF_EXP[lv + lr] for lr in logs), "big"))
        table.append(row)
    return table


def _build_layout(version: int) -> _VersionLayout:
    enc = _segno_encoder
    n = enc.calc_matrix_size(version)
    m = enc.make_matrix(n, n)
    enc.add_finder_patterns(m, n, n)
    enc.add_alignment_patterns(m, n, n)
    # Data module order: segno's add_codewords walk (two-module columns, alternately up and down).
    order: list[tuple[int, int]] = []
    for right in range(n - 1, 0, -2):
        if right <= 6:
            right -= 1  # skip the vertical timing pattern
        for vertical in range(n):
            for z in (0, 1):
                j = right - z
                upwards = ((right & 2) == 0) ^ (j < 6)
                i = (n - 1 - vertical) if upwards else vertical
                if m[i][j] == 0x2:
                    order.append((i, j))
    for i, j in order:
        m[i][j] = 1 if (i + j) % 2 == 0 else 0  # mask 0 over an all-zero bit stream
    enc.add_format_info(m, version, _Q, MASK)
    enc.add_version_info(m, version)
    w1 = (n + 7) // 8 * 8  # whole 8-module chunks per row: see fast_qr_operators
    template = b"".join(bytes(row) + b"\0" * (w1 - n) for row in m)
    if max(template) > 1:
        raise AssertionError("QR template has unfilled modules")
    flat = [i * w1 + j for i, j in order]
    # Group the stream into runs that advance by a constant step in both the stream and the
    # template (same column, same direction): each run is one slice assignment.
    by_col: dict[int, list[tuple[int, int]]] = {}
    for k, (_, j) in enumerate(order):
        by_col.setdefault(j, []).append((k, flat[k]))
    places: list[tuple[slice, slice]] = []
    for items in by_col.values():
        a = 0
        while a < len(items):
            b = a
            sk = sp = 1
            if a + 1 < len(items):
                b = a + 1
                sk, sp = items[b][0] - items[a][0], items[b][1] - items[a][1]
                while b + 1 < len(items) and (items[b + 1][0] - items[b][0], items[b + 1][1] - items[b][1]) == (sk, sp):
                    b += 1
            (k0, p0), (k1, p1) = items[a], items[b]
            dst = slice(p0, p1 + sp if p1 + sp >= 0 else None, sp)
            src = slice(k0, k1 + sk if k1 + sk >= 0 else None, sk)
            places.append((dst, src))
            a = b + 1
    blocks = tuple(
        (ec.num_data, ec.num_total - ec.num_data) for ec in _segno_consts.ECC[version][_Q] for _ in range(ec.num_blocks)
    )
    starts = [sum(d for d, _ in blocks[:b]) for b in range(len(blocks))]
    perm = [starts[b] + i for i in range(max(d for d, _ in blocks)) for b, (d, _) in enumerate(blocks) if i < d]
    mask = bytes(1 if (i + j) % 2 == 0 else 0 for i, j in order)
    for d, e in set(blocks):
        if (d, e) not in _RS_TABLES:
            _RS_TABLES[(d, e)] = _rs_table(d, e)
    return _VersionLayout(
        size=n,
        stride=w1,
        template=template,
        mask=int.from_bytes(mask, "big"),
        places=tuple(places),
        blocks=blocks,
        interleave=itemgetter(*perm),
        n_bits=len(order),
    )


def _layout(version: int) -> _VersionLayout:
    hit = _LAYOUTS.get(version)
    if hit is None:
        with _FAST_LOCK:
            hit = _LAYOUTS.get(version)
            if hit is None:
                hit = _LAYOUTS[version] = _build_layout(version)
    return hit


def fast_matrix(text: str) -> tuple[int, list[bytes]] | None:
    """(version, rows of 0/1 bytes) of the level-Q, mask-0 symbol for ``text`` — the matrix
    ``segno.make(text, error="q", mask=0, micro=False, boost_error=False)`` gives — or None when
    ``text`` is not alphanumeric-mode text (then segno is used)."""
    found = _fast(text)
    if found is None:
        return None
    version, lay, flat = found
    w1 = lay.stride
    return version, [bytes(flat[r * w1 : r * w1 + lay.size]) for r in range(lay.size)]


def _fast(text: str) -> tuple[int, _VersionLayout, bytearray] | None:
    """(version, its layout, the rows of 0/1 bytes ``layout.stride`` apart)."""
    values = [_ALNUM_VALUE.get(ch, -1) for ch in text]
    if not text or -1 in values or text.isdigit():  # segno picks numeric mode for all-digit text
        return None
    count = len(values)
    data_bits = 4 + 11 * (count // 2) + 6 * (count % 2)
    capacity = version = cci = 0
    for version in range(1, 41):
        cci = 9 if version < 10 else 11 if version < 27 else 13  # character count indicator length
        capacity = _segno_consts.SYMBOL_CAPACITY[version][_Q]
        if capacity >= data_bits + cci:
            break
    else:
        return None  # too long for any version: segno raises its DataOverflowError
    lay = _layout(version)
    # Bit stream, exactly as segno writes it: mode 0010, count, pairs of characters in 11 bits.
    acc = (0b0010 << cci) | count
    for i in range(0, count - 1, 2):
        acc = (acc << 11) | (values[i] * 45 + values[i + 1])
    if count % 2:
        acc = (acc << 6) | values[-1]
    nbits = data_bits + cci
    term = min(capacity - nbits, 4)
    acc <<= term
    nbits += term
    pad = 8 - nbits % 8  # segno pads a whole zero byte when already on a boundary
    acc <<= pad
    nbits += pad
    n_data = capacity // 8
    data = acc.to_bytes(nbits // 8, "big")
    if len(data) < n_data:
        fill = n_data - len(data)
        data += (b"\xec\x11" * (fill // 2 + 1))[:fill]
    data = data[:n_data]
    # Reed-Solomon per block, by table.
    ec_blocks: list[bytes] = []
    start = 0
    for d, e in lay.blocks:
        table = _RS_TABLES[(d, e)]
        r = reduce(xor, map(getitem, table, data[start : start + d]), 0)
        ec_blocks.append(r.to_bytes(e, "big"))
        start += d
    n_ec = lay.blocks[0][1]  # every block of a version has the same number of EC codewords
    ec_all = b"".join(ec_blocks)
    nb = len(lay.blocks)
    ec_order = bytes(ec_all[b * n_ec + i] for i in range(n_ec) for b in range(nb))
    message = bytes(lay.interleave(data)) + ec_order
    stream = b"".join(map(_BITS.__getitem__, message))  # one byte per bit
    masked = (int.from_bytes(stream, "big") << 8 * (lay.n_bits - len(stream))) ^ lay.mask  # remainder bits: 0
    bits = masked.to_bytes(lay.n_bits, "big")
    flat = bytearray(lay.template)
    for dst, src in lay.places:
        flat[dst] = bits[src]
    return version, lay, flat


# Per 8-module chunk position of a row: the chunk's modules (as the big-endian integer of its eight
# 0/1 bytes) -> the rectangles of its dark runs, "R" standing for the row number. 256 entries each.
_CHUNK_OPS: dict[int, dict[int, str]] = {}


def _chunk_table(index: int) -> dict[int, str]:
    table = _CHUNK_OPS.get(index)
    if table is None:
        table = {}
        x0 = index * 8
        for v in range(256):
            chunk = bytes((v >> (7 - i)) & 1 for i in range(8))
            table[int.from_bytes(chunk, "big")] = "".join(f"{x0 + s} R {ln} 1 re\n" for s, ln in _runs(chunk))
        _CHUNK_OPS[index] = table  # complete before it is published: safe for other threads
    return table


def fast_qr_operators(text: str, x: float, y: float, size: float) -> tuple[str, int]:
    """(PDF operators, version): the QR code for ``text`` painted as :func:`draw_qr` paints it —
    a white square with the quiet zone, then the dark modules filled as one path of rectangles in
    module units under one ``cm`` — but written from per-chunk pieces (a run crossing an 8-module
    boundary becomes two touching rectangles of the same path: the same filled area)."""
    found = _fast(text)
    if found is None:
        qr = segno.make(text, error=ERROR_LEVEL, mask=MASK, micro=False, boost_error=False)
        version = qr.version
        assert isinstance(version, int)
        ops = qr_path_operators(qr.matrix, x, y, size)
        return f"q 1 g {x:.3f} {y:.3f} {size:.3f} {size:.3f} re f 0 g\n{ops}\nQ", version
    version, lay, flat = found
    n = lay.size
    chunks = lay.stride // 8
    module = size / (n + 2 * QUIET_ZONE)
    ox = x + QUIET_ZONE * module
    top = y + size - QUIET_ZONE * module
    parts = [
        f"q 1 g {x:.3f} {y:.3f} {size:.3f} {size:.3f} re f 0 g\n",
        f"q {module:.5f} 0 0 {-module:.5f} {ox:.3f} {top:.3f} cm\n",
    ]
    tables = [_chunk_table(j) for j in range(chunks)]
    keys = struct.unpack(f">{n * chunks}Q", flat)  # every 8-module chunk as one integer, in one call
    for r in range(n):
        row = "".join(map(getitem, tables, keys[r * chunks : (r + 1) * chunks]))
        parts.append(row.replace("R", str(r)))
    parts.append("f Q\nQ")
    return "".join(parts), version
