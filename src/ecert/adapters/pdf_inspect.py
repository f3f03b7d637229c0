"""Read what ecert embedded in a certificate PDF, from the revision the seal signed.

Never raises on a bad file: a verifier must answer with a verdict, not a crash.

When the seal's one ``/ByteRange`` covers the whole file (:func:`whole_file_layout`: no
revision after the signed one), the signed revision is the last one, and its document information dictionary is
read directly — classic cross-reference tables, one dictionary, its strings — in a few hundred microseconds
instead of pyHanko's 5 ms (which parses the signature's long ``/Contents`` to find the signed revision). Anything
else (cross-reference streams, object streams, indirect values, strings that are not UTF-16 or plain ASCII)
goes to pyHanko. Both readers give the same dictionary; ``tests/unit/adapters/test_pdf_inspect.py`` holds them
to it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from io import BytesIO

from pyhanko.pdf_utils.generic import DictionaryObject, IndirectObject
from pyhanko.pdf_utils.reader import PdfFileReader

KEYS = ("/EcertContent", "/EcertQR")

_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*0\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")


@dataclass(frozen=True)
class Layout:
    """Where the signature sits in a file whose one ``/ByteRange`` covers everything but ``/Contents``."""

    hole_start: int  # offset of '<'
    hole_end: int  # offset after '>'


def whole_file_layout(pdf: bytes) -> Layout | None:
    """The layout if ``pdf`` has exactly one ``/ByteRange``, ``[0 a b c]`` with ``b + c`` the file length and
    ``pdf[a:b]`` a hex string; else None. Pure byte checks: says nothing about the signature's validity."""
    at = pdf.find(b"/ByteRange")
    if at < 0 or pdf.find(b"/ByteRange", at + 10) >= 0:
        return None
    m = _BYTE_RANGE.match(pdf, at)
    if m is None:
        return None
    a, b, c = (int(g) for g in m.groups())
    if not (m.end() <= a < b) or b + c != len(pdf) or pdf[a : a + 1] != b"<" or pdf[b - 1 : b] != b">":
        return None
    return Layout(hole_start=a, hole_end=b)


def signed_metadata(pdf: bytes) -> dict[str, str] | None:
    """``{"EcertContent": …, "EcertQR": …}`` from the document info of the signed revision, or None."""
    try:
        fast = _fast_metadata(pdf)
    except _Unsupported:
        fast = None
    except Exception:  # never let the fast reader turn a hostile file into a crash: pyHanko decides
        fast = None
    if fast is not None:
        return fast
    return _pyhanko_metadata(pdf)


def _pyhanko_metadata(pdf: bytes) -> dict[str, str] | None:
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        sigs = reader.embedded_signatures
        if not sigs:
            return None
        hist = reader.get_historical_resolver(sigs[0].signed_revision)
        ref = hist.trailer_view.raw_get("/Info")
        if ref is None:
            return None
        # Resolved through the signed revision's own cross-reference table: .get_object() on the
        # reference would give the newest version, i.e. what an unsigned incremental update wrote.
        info = hist(ref.reference) if isinstance(ref, IndirectObject) else ref
        if not isinstance(info, DictionaryObject):
            return None
        out: dict[str, str] = {}
        for key in KEYS:
            if key in info:
                out[key[1:]] = str(info[key])
        return out
    except Exception:  # any parse failure of a hostile file is "no metadata", not a crash
        return None


# ------------------------------------------------------------------------------------- the direct reader


class _Unsupported(Exception):
    """Outside what the direct reader handles: ask pyHanko."""


class _Ref:
    __slots__ = ("gen", "num")

    def __init__(self, num: int, gen: int) -> None:
        self.num, self.gen = num, gen


class _Name(str):
    __slots__ = ()


_WS = b" \t\r\n\x0c\x00"
_DELIMITERS = b"()<>[]{}/%"
_STARTXREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*$")
_SUBSECTION = re.compile(rb"\s*(\d+)\s+(\d+)\s*(?:\r\n|\r|\n)")
_ENTRY = re.compile(rb"(\d{10}) (\d{5}) ([nf])")
_OBJ = re.compile(rb"(\d+)\s+(\d+)\s+obj")
_NUMBER = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)")
_REF_TAIL = re.compile(rb"\s+(\d+)\s+R(?![^\s()<>\[\]{}/%])")
# A literal string's body up to an unescaped parenthesis: plain bytes and the escapes the direct reader decodes.
_BODY = re.compile(rb"(?:[^\\()\r]+|\\(?:[0-7]{1,3}|[nrtbf()\\]))*")
_ESCAPE = re.compile(rb"(\\(?:[0-7]{1,3}|[nrtbf()\\]))")
_UNESCAPED = {
    **{b"\\" + c: v for c, v in ((b"n", b"\n"), (b"r", b"\r"), (b"t", b"\t"), (b"b", b"\b"), (b"f", b"\f"),
                                 (b"(", b"("), (b")", b")"), (b"\\", b"\\"))},
    **{b"\\" + format(i, f"0{w}o").encode(): bytes([i & 0xFF]) for w in (1, 2, 3) for i in range(8**w)},
}  # fmt: skip


def _fast_metadata(pdf: bytes) -> dict[str, str] | None:
    """The metadata, or None when there is no /Info (pyHanko then decides); raises _Unsupported."""
    if whole_file_layout(pdf) is None:
        raise _Unsupported("not a whole-file seal")
    m = _STARTXREF.search(pdf, max(0, len(pdf) - 64))
    if m is None:
        raise _Unsupported("no startxref")
    offset, seen = int(m.group(1)), set[int]()
    info_ref: _Ref | None = None
    while True:
        if offset in seen or len(seen) > 64:
            raise _Unsupported("xref loop")
        seen.add(offset)
        entries, trailer = _xref_section(pdf, offset)
        if info_ref is None:  # the newest trailer names the document information
            ref = trailer.get("Info")
            if not isinstance(ref, _Ref):
                raise _Unsupported("no /Info reference in the last trailer")
            info_ref = ref
        entry = entries.get(info_ref.num)
        if entry is not None:
            break
        prev = trailer.get("Prev")
        if not isinstance(prev, int):
            raise _Unsupported("/Info object not in the cross-reference tables")
        offset = prev
    at, gen, in_use = entry
    if not in_use or gen != info_ref.gen:
        raise _Unsupported("/Info entry free or of another generation")
    om = _OBJ.match(pdf, at)
    if om is None or (int(om.group(1)), int(om.group(2))) != (info_ref.num, info_ref.gen):
        raise _Unsupported("/Info object not where the table says")
    info, _ = _parse(pdf, om.end())
    if not isinstance(info, dict):
        raise _Unsupported("/Info is not a dictionary")
    out: dict[str, str] = {}
    for key in KEYS:
        value = info.get(key[1:])
        if value is None:
            continue
        if not isinstance(value, bytes):
            raise _Unsupported(f"{key} is not a direct string")
        out[key[1:]] = _text(value)
    return out


def _xref_section(pdf: bytes, offset: int) -> tuple[dict[int, tuple[int, int, bool]], dict[str, object]]:
    """One classic cross-reference section at ``offset``: its entries and its trailer dictionary."""
    if not pdf.startswith(b"xref", offset):
        raise _Unsupported("cross-reference stream")
    pos = offset + 4
    entries: dict[int, tuple[int, int, bool]] = {}
    while True:
        sub = _SUBSECTION.match(pdf, pos)
        if sub is None:
            break
        first, count = int(sub.group(1)), int(sub.group(2))
        pos = sub.end()
        for i in range(count):
            e = _ENTRY.match(pdf, pos)
            if e is None or pdf[pos + 18 : pos + 20] not in (b" \n", b" \r", b"\r\n"):
                raise _Unsupported("xref entry")
            entries.setdefault(first + i, (int(e.group(1)), int(e.group(2)), e.group(3) == b"n"))
            pos += 20
    pos = _skip(pdf, pos)
    if not pdf.startswith(b"trailer", pos):
        raise _Unsupported("no trailer")
    trailer, _ = _parse(pdf, pos + 7)
    if not isinstance(trailer, dict) or "XRefStm" in trailer or "Encrypt" in trailer:
        raise _Unsupported("trailer")
    return entries, trailer


def _skip(pdf: bytes, pos: int) -> int:
    n = len(pdf)
    while pos < n:
        c = pdf[pos]
        if c in _WS:
            pos += 1
        elif c == 0x25:  # % comment to the end of the line
            while pos < n and pdf[pos] not in b"\r\n":
                pos += 1
        else:
            break
    return pos


def _parse_until(pdf: bytes, pos: int, end: bytes, depth: int) -> tuple[list[object], int]:
    """The objects from ``pos`` up to the ``end`` token (``]`` of an array, ``>>`` of a dictionary), and the
    position after it."""
    items: list[object] = []
    while True:
        pos = _skip(pdf, pos)
        if pdf.startswith(end, pos):
            return items, pos + len(end)
        item, pos = _parse(pdf, pos, depth + 1)
        items.append(item)


def _parse(pdf: bytes, pos: int, depth: int = 0) -> tuple[object, int]:
    """One PDF object at ``pos`` (after whitespace): dict (str keys), list, bytes (a string), _Name, int, float,
    bool, None, _Ref. Streams are not read."""
    if depth > 32:
        raise _Unsupported("nesting")
    pos = _skip(pdf, pos)
    c = pdf[pos : pos + 1]
    if c == b"<" and pdf[pos + 1 : pos + 2] == b"<":
        items, pos = _parse_until(pdf, pos + 2, b">>", depth)
        keys = items[::2]
        if len(items) % 2 or not all(isinstance(key, _Name) for key in keys):
            raise _Unsupported("dictionary key")
        return {str(key): value for key, value in zip(keys, items[1::2], strict=True)}, pos
    if c == b"[":
        return _parse_until(pdf, pos + 1, b"]", depth)
    if c == b"(":
        return _literal(pdf, pos + 1)
    if c == b"<":
        end = pdf.find(b">", pos)
        if end < 0:
            raise _Unsupported("hex string")
        digits = bytes(b for b in pdf[pos + 1 : end] if b not in _WS)
        if len(digits) % 2:
            digits += b"0"
        return bytes.fromhex(digits.decode("ascii")), end + 1
    if c == b"/":
        end = pos + 1
        while end < len(pdf) and pdf[end] not in _WS and pdf[end] not in _DELIMITERS:
            end += 1
        raw = pdf[pos + 1 : end]
        if b"#" in raw:
            raise _Unsupported("escaped name")
        return _Name(raw.decode("latin-1")), end
    for word, value in ((b"true", True), (b"false", False), (b"null", None)):
        if pdf.startswith(word, pos):
            return value, pos + len(word)
    m = _NUMBER.match(pdf, pos)
    if m is None:
        raise _Unsupported("token")
    text = m.group()
    if b"." in text:
        return float(text), m.end()
    ref = _REF_TAIL.match(pdf, m.end())
    if ref is not None and text.isdigit():
        return _Ref(int(text), int(ref.group(1))), ref.end()
    return int(text), m.end()


def _literal(pdf: bytes, pos: int) -> tuple[bytes, int]:
    """A literal string from just after its ``(``: escapes, balanced parentheses. Matched and decoded by regular
    expressions (a certificate's UTF-16 strings are mostly octal escapes: a byte loop costs a millisecond)."""
    raw = bytearray()
    depth = 1
    while True:
        m = _BODY.match(pdf, pos)
        assert m is not None  # the pattern matches the empty string
        raw += m.group()
        pos = m.end()
        c = pdf[pos : pos + 1]
        if c == b"(":
            depth += 1
        elif c == b")":
            depth -= 1
            if depth == 0:
                parts = _ESCAPE.split(bytes(raw))
                return b"".join(p if i % 2 == 0 else _UNESCAPED[p] for i, p in enumerate(parts)), pos + 1
        else:  # end of file, an unescaped CR (read as LF), a line continuation or an unknown escape: pyHanko's
            raise _Unsupported("string")
        raw += c
        pos += 1


def _text(raw: bytes) -> str:
    """A PDF text string: UTF-16BE with its byte-order mark, or printable ASCII (where PDFDocEncoding agrees)."""
    if raw.startswith(b"\xfe\xff"):
        if len(raw) % 2:
            raise _Unsupported("odd UTF-16")
        return raw[2:].decode("utf-16-be")
    if all(0x20 <= b < 0x7F or b in (0x09, 0x0A, 0x0D) for b in raw):
        return raw.decode("ascii")
    raise _Unsupported("PDFDocEncoding")
