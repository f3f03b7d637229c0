"""TrueType subsets assembled from per-glyph pieces cached per process (R-DOC-1 fonts, issuance speed).

ReportLab's ``makeSubset`` re-reads every glyph, rebuilds every table and checksums the file each
time (0.16 ms for a 30-glyph name subset, plus 0.1–0.15 ms to deflate it). :class:`SubsetFont`
produces the *same* font program (byte for byte: a unit test compares the two) from pieces kept per
font — the copied tables (name, OS/2, cvt, fpgm, prep, post) and each glyph's padded outline — and
deflates it by concatenating independently compressed pieces: every piece is a raw deflate stream
cut with a full flush (byte-aligned, no reference to earlier data), so the cached compressed glyphs
can be joined behind a per-document header and the whole still inflates to the font program.
"""

from __future__ import annotations

import struct
import threading
import zlib
from collections.abc import Sequence
from typing import Any

from reportlab.lib.rl_accel import calcChecksum  # type: ignore[import-untyped]

# Composite glyph flags (TrueType 'glyf').
_MORE = 0x0020
_WORDS = 0x0001
_SCALE = 0x0008
_XY_SCALE = 0x0040
_TWO_BY_TWO = 0x0080

_COPIED = ("name", "OS/2", "cvt ", "fpgm", "prep")
_ZLIB_HEADER = b"\x78\x01"
_FINAL_EMPTY_BLOCK = b"\x03\x00"  # BFINAL=1, fixed Huffman, end-of-block: closes the joined stream
_LEVEL = 6


def deflate_piece(data: bytes, level: int = _LEVEL) -> bytes:
    """``data`` as a raw deflate fragment that can be joined with others (see the module docstring)."""
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush(zlib.Z_FULL_FLUSH)


def stored_piece(data: bytes) -> bytes:
    """``data`` as raw deflate *stored* blocks (no compression, no CPU): for the few hundred bytes
    per document that differ every time, which are not worth a compressor's set-up."""
    out = []
    for at in range(0, len(data), 0xFFFF):
        chunk = data[at : at + 0xFFFF]
        out.append(b"\x00" + struct.pack("<HH", len(chunk), len(chunk) ^ 0xFFFF) + chunk)
    return b"".join(out)


def join_deflated(pieces: Sequence[tuple[bytes, bytes]]) -> bytes:
    """A zlib (FlateDecode) stream from ``(raw bytes, deflate_piece(raw bytes))`` pairs, in order."""
    adler = 1
    for raw, _ in pieces:
        adler = zlib.adler32(raw, adler)
    return b"".join([_ZLIB_HEADER, *(z for _, z in pieces), _FINAL_EMPTY_BLOCK, adler.to_bytes(4, "big")])


def _pad4(b: bytes) -> bytes:
    return b + b"\0" * (-len(b) % 4)


class SubsetFont:
    """Fast subsets of one ReportLab ``TTFontFace`` (read-only use of its parsed data)."""

    def __init__(self, face: Any) -> None:
        self.face = face
        data: bytes = face._ttf_data
        self._data = data
        self._glyf_start = face.get_table_pos("glyf")[0]
        self._glyph_pos: Sequence[int] = face.glyphPos
        self._hmetrics: Sequence[tuple[int, int]] = face.hmetrics
        self.char_to_glyph: dict[int, int] = face.charToGlyph
        self._tables: dict[str, bytes] = {}
        for tag in _COPIED:
            try:
                self._tables[tag] = bytes(face.get_table(tag))
            except KeyError:  # cvt, fpgm, prep are optional
                continue
        self._tables["post"] = b"\x00\x03\x00\x00" + bytes(face.get_table("post"))[4:16] + b"\x00" * 16
        self._hhea = bytes(face.get_table("hhea"))
        self._maxp = bytes(face.get_table("maxp"))
        self._head = bytes(face.get_table("head"))
        self._checksums = {tag: calcChecksum(t) for tag, t in self._tables.items()}
        self._pieces: dict[str, bytes] = {tag: deflate_piece(_pad4(t)) for tag, t in self._tables.items()}
        # gid -> (padded outline, component gids or () for a simple glyph, compressed piece or b"")
        self._glyphs: dict[int, tuple[bytes, tuple[int, ...], bytes]] = {}
        self._lock = threading.Lock()

    def _glyph(self, gid: int) -> tuple[bytes, tuple[int, ...], bytes]:
        hit = self._glyphs.get(gid)
        if hit is not None:
            return hit
        start = self._glyf_start + self._glyph_pos[gid]
        end = self._glyf_start + self._glyph_pos[gid + 1]
        outline = self._data[start:end]
        components: list[int] = []
        if len(outline) > 2 and struct.unpack_from(">h", outline, 0)[0] < 0:
            pos, flags = 10, _MORE
            while flags & _MORE:
                flags, comp = struct.unpack_from(">HH", outline, pos)
                components.append(comp)
                pos += 4 + (4 if flags & _WORDS else 2)
                pos += 2 if flags & _SCALE else 4 if flags & _XY_SCALE else 8 if flags & _TWO_BY_TWO else 0
        padded = _pad4(outline)
        # Composite glyphs are renumbered per subset: they are written stored (a few bytes each).
        made = (padded, tuple(components), b"" if components else deflate_piece(padded))
        with self._lock:
            self._glyphs[gid] = made
        return made

    def build(self, subset: Sequence[int]) -> tuple[bytes, int]:
        """(FlateDecode-compressed font program, its uncompressed length) for ``subset`` — the code
        points of codes 0, 1, … — identical to ``face.makeSubset(subset)`` once inflated."""
        pieces = self._pieces_for(subset)
        return join_deflated(pieces), sum(len(raw) for raw, _ in pieces)

    def program(self, subset: Sequence[int]) -> bytes:
        """The uncompressed font program (what ``makeSubset`` returns)."""
        return b"".join(raw for raw, _ in self._pieces_for(subset))

    def _pieces_for(self, subset: Sequence[int]) -> list[tuple[bytes, bytes]]:
        c2g = self.char_to_glyph
        glyph_map = [0]  # new gid -> old gid
        glyph_set = {0: 0}  # old gid -> new gid
        code_to_glyph: list[int] = []
        for code in subset:
            old = c2g.get(code, 0)
            new = glyph_set.get(old)
            if new is None:
                new = glyph_set[old] = len(glyph_map)
                glyph_map.append(old)
            code_to_glyph.append(new)
        glyphs = []
        n = 0
        while n < len(glyph_map):  # composites pull in their components (appended, as ReportLab does)
            g = self._glyph(glyph_map[n])
            glyphs.append(g)
            for comp in g[1]:
                if comp not in glyph_set:
                    glyph_set[comp] = len(glyph_map)
                    glyph_map.append(comp)
            n += 1
        num_glyphs = len(glyph_map)

        # hmtx: full pairs up to the last change of advance width, then left side bearings only.
        hm = self._hmetrics
        metrics = [hm[old] for old in glyph_map]
        k = num_glyphs - 1  # last glyph whose advance differs from its predecessor's starts the run
        while k and metrics[k][0] == metrics[k - 1][0]:
            k -= 1
        number_of_hmetrics = k + 1
        hmtx_values = [int(v) for pair in metrics[:number_of_hmetrics] for v in pair]
        hmtx_values += [int(lsb) for _, lsb in metrics[number_of_hmetrics:]]
        hmtx_b = struct.pack(f">{len(hmtx_values)}H", *hmtx_values)

        hhea = self._hhea[:34] + struct.pack(">H", number_of_hmetrics) + self._hhea[36:]
        maxp = self._maxp[:4] + struct.pack(">H", num_glyphs) + self._maxp[6:]
        cmap_words = [0, 1, 1, 0, 0, 12, 6, 10 + len(subset) * 2, 0, 0, len(subset), *code_to_glyph]
        cmap = struct.pack(f">{len(cmap_words)}H", *cmap_words)

        # glyf and loca.
        glyf_parts: list[tuple[bytes, bytes]] = []
        offsets = [0]
        pos = 0
        loose: list[bytes] = []  # consecutive renumbered composites, written as one stored piece
        for padded, comps, piece in glyphs:
            if comps:  # renumber the component references for this subset
                b = bytearray(padded)
                at, flags = 10, _MORE
                while flags & _MORE:
                    flags, comp = struct.unpack_from(">HH", b, at)
                    struct.pack_into(">H", b, at + 2, glyph_set[comp])
                    at += 4 + (4 if flags & _WORDS else 2)
                    at += 2 if flags & _SCALE else 4 if flags & _XY_SCALE else 8 if flags & _TWO_BY_TWO else 0
                loose.append(bytes(b))
            else:
                if loose:
                    raw = b"".join(loose)
                    glyf_parts.append((raw, stored_piece(raw)))
                    loose = []
                glyf_parts.append((padded, piece))
            pos += len(padded)
            offsets.append(pos)
        if loose:
            raw = b"".join(loose)
            glyf_parts.append((raw, stored_piece(raw)))
        if (pos + 1) >> 1 > 0xFFFF:
            index_to_loc = 1
            loca = struct.pack(f">{len(offsets)}L", *offsets)
        else:
            index_to_loc = 0
            loca = struct.pack(f">{len(offsets)}H", *(o >> 1 for o in offsets))
        head = self._head[:8] + b"\0\0\0\0" + self._head[12:50] + struct.pack(">H", index_to_loc) + self._head[52:]

        built = {"hmtx": hmtx_b, "hhea": hhea, "maxp": maxp, "cmap": cmap, "loca": loca, "head": head}
        checks = dict(self._checksums)
        for tag, data in built.items():
            checks[tag] = calcChecksum(data)
        glyf_sum = 0
        for padded, _ in glyf_parts:
            glyf_sum += calcChecksum(padded)  # parts are 4-aligned: the table's sum is the sum of theirs
        checks["glyf"] = glyf_sum & 0xFFFFFFFF
        lengths = {tag: len(t) for tag, t in self._tables.items()}
        lengths.update({tag: len(d) for tag, d in built.items()})
        lengths["glyf"] = pos
        tags = sorted(lengths)

        # Offset table and directory (as ReportLab's TTFontMaker writes them).
        num_tables = len(tags)
        search_range, entry_selector = 1, 0
        while search_range * 2 <= num_tables:
            search_range *= 2
            entry_selector += 1
        search_range *= 16
        directory = [
            struct.pack(">lHHHH", 0x00010000, num_tables, search_range, entry_selector, num_tables * 16 - search_range)
        ]
        offset = 12 + num_tables * 16
        head_at = 0
        for tag in tags:
            if tag == "head":
                head_at = offset
            directory.append(tag.encode("latin-1") + struct.pack(">LLL", checks[tag], offset, lengths[tag]))
            offset += (lengths[tag] + 3) & ~3
        directory_b = b"".join(directory)
        # checkSumAdjustment: the file's checksum is the sum of its 4-byte-aligned parts' checksums.
        total = calcChecksum(directory_b) + sum(checks[t] for t in tags)
        adjustment = (0xB1B0AFBA - total) & 0xFFFFFFFF
        head = head[:8] + struct.pack(">L", adjustment) + head[12:]
        built["head"] = head
        assert head_at  # every subset has a head table

        pieces: list[tuple[bytes, bytes]] = []
        pending = [directory_b]  # per-document bytes, compressed together when a cached piece follows
        for tag in tags:
            if tag == "glyf":
                if pending:
                    raw = b"".join(pending)
                    pieces.append((raw, stored_piece(raw)))
                    pending = []
                pieces.extend(glyf_parts)
            elif tag in self._pieces:
                if pending:
                    raw = b"".join(pending)
                    pieces.append((raw, stored_piece(raw)))
                    pending = []
                pieces.append((_pad4(self._tables[tag]), self._pieces[tag]))
            else:
                pending.append(_pad4(built[tag]))
        if pending:
            raw = b"".join(pending)
            pieces.append((raw, stored_piece(raw)))
        return pieces
