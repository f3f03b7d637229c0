"""Certificate fonts: a per-character fallback chain of embedded TrueType fonts (R-DOC-1).

Names may contain rare CJK characters (Extension A, B and beyond). The main font, WenQuanYi Micro
Hei, covers the common characters; Hanazono Mincho A and B cover most of Extensions A and B. Every
character is drawn with the first font of the chain whose cmap maps it to a real glyph; a character
no font covers is refused (``unsupported_character``) — it is never printed as an empty box.

Measured on the Debian fonts (``FontSet().font_for``): 䶮 U+4DAE is only in HanaMinA; 𠮷 U+20BB7 and
𪚥 U+2A6A5 are in HanaMinA (and HanaMinB); WenQuanYi Micro Hei covers none of the three.

ReportLab is used for embedding, with three fixes made in :class:`_EcertTTFont`:

* **ToUnicode for non-BMP characters.** ReportLab writes each ToUnicode entry as ``<%04X>``, which
  for U+20BB7 gives the five-digit ``<20BB7>``; poppler then extracts U+20BB (₻) instead of 𠮷. The
  PDF spec wants the destination in UTF-16BE, i.e. the surrogate pair ``<D842DFB7>``; we write that.
* **Subsetting speed.** ReportLab's ``makeSubset`` copies the whole ``glyf`` table (20–30 MB for
  Hanazono) every time it embeds a subset: 1.5–2 ms per document even for one glyph. We hand it a
  zero-copy view instead.
* **Subset cache.** The compressed subset font program is cached by its exact character list, so
  text that is the same on every certificate (title, labels) is subset and compressed only once.
  Subsets are tagged by a hash of their contents (ReportLab numbers them AAAAAA, AAAAAB, … per
  font, which would give the main font and its fixed instance clashing BaseFont names).
"""

from __future__ import annotations

import hashlib
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reportlab.pdfbase import pdfdoc, pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.ttfonts import (  # type: ignore[import-untyped]
    FF_NONSYMBOLIC,
    FF_SYMBOLIC,
    TTFont,
    TTFontFace,
)

from ecert.domain.errors import RuleRefusal

FONT_DIR = Path("/usr/share/fonts/truetype")
DEFAULT_MAIN = FONT_DIR / "wqy" / "wqy-microhei.ttc"
DEFAULT_FALLBACKS: tuple[Path, ...] = (
    FONT_DIR / "hanazono" / "HanaMinA.ttf",
    FONT_DIR / "hanazono" / "HanaMinB.ttf",
)

_SUBSET_CACHE_SIZE = 64


class FontFilesMissing(FileNotFoundError):
    """A configured certificate font file does not exist (an installation problem, not a user error)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = list(paths)
        listed = ", ".join(str(p) for p in paths)
        super().__init__(
            f"certificate font file(s) missing: {listed} — run scripts/setup "
            "(it installs the Debian packages fonts-wqy-microhei and fonts-hanazono)"
        )


def code_point(ch: str) -> str:
    """``"U+20BB7"`` for 𠮷, ``"U+4E00"`` for 一."""
    return f"U+{ord(ch):04X}"


# ---------------------------------------------------------------------------------------------
# ReportLab TrueType font with the three fixes described in the module docstring.


def _to_unicode_hex(cp: int) -> str:
    """UTF-16BE hex of one code point, as a ToUnicode CMap destination wants it."""
    return cp.to_bytes(2, "big").hex().upper() if cp <= 0xFFFF else chr(cp).encode("utf-16-be").hex().upper()


def to_unicode_cmap(fontname: str, subset: Sequence[int]) -> str:
    """ReportLab's ``makeToUnicodeCMap`` with UTF-16 surrogate pairs for characters beyond the BMP."""
    lines = [
        "/CIDInit /ProcSet findresource begin",
        "12 dict begin",
        "begincmap",
        "/CIDSystemInfo",
        f"<< /Registry ({fontname})",
        f"/Ordering ({fontname})",
        "/Supplement 0",
        ">> def",
        f"/CMapName /{fontname} def",
        "/CMapType 2 def",
        "1 begincodespacerange",
        f"<00> <{len(subset) - 1:02X}>",
        "endcodespacerange",
    ]
    # bfchar blocks may hold at most 100 entries each (PDF 32000-1, 9.10.3 / Adobe TN 5014).
    entries = [f"<{i:02X}> <{_to_unicode_hex(cp)}>" for i, cp in enumerate(subset)]
    for start in range(0, len(entries), 100):
        block = entries[start : start + 100]
        lines.append(f"{len(block)} beginbfchar")
        lines.extend(block)
        lines.append("endbfchar")
    lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return "\n".join(lines)


class _GlyfView:
    """Zero-copy stand-in for the ``glyf`` table bytes: slicing returns only the slice, as bytes."""

    __slots__ = ("_mv",)

    def __init__(self, mv: memoryview) -> None:
        self._mv = mv

    def __getitem__(self, key: slice) -> bytes:
        return bytes(self._mv[key])

    def __len__(self) -> int:
        return len(self._mv)


class PreEncoded:
    """A ReportLab stream 'filter' for data already encoded (e.g. compressed once and cached): it
    names the PDF filter and passes the data through unchanged."""

    def __init__(self, pdfname: str) -> None:
        self.pdfname = pdfname

    def encode(self, data: bytes) -> bytes:
        return data


FLATE_DONE = PreEncoded("FlateDecode")
DCT_DONE = PreEncoded("DCTDecode")


class _FastFace(TTFontFace):  # type: ignore[misc]
    """TTFontFace whose subsets are made without copying ``glyf`` and cached once compressed."""

    _subset_cache: OrderedDict[tuple[int, ...], tuple[bytes, int]]
    _subset_lock: threading.Lock

    def get_table(self, tag: str) -> Any:
        if tag == "glyf":
            pos, length = self.get_table_pos(tag)
            return _GlyfView(memoryview(self._ttf_data)[pos : pos + length])
        return super().get_table(tag)

    def compressed_subset(self, subset: Sequence[int]) -> tuple[bytes, int]:
        """(Flate-compressed subset font program, uncompressed length), cached by the character list."""
        key = tuple(subset)
        with self._subset_lock:
            hit = self._subset_cache.get(key)
            if hit is not None:
                self._subset_cache.move_to_end(key)
                return hit
        raw = self.makeSubset(list(subset))
        made = (zlib.compress(raw, 6), len(raw))
        with self._subset_lock:
            self._subset_cache[key] = made
            while len(self._subset_cache) > _SUBSET_CACHE_SIZE:
                self._subset_cache.popitem(last=False)
        return made

    def addSubsetObjects(self, doc: Any, fontname: str, subset: Sequence[int]) -> Any:
        compressed, raw_length = self.compressed_subset(subset)
        font_file = pdfdoc.PDFStream()
        font_file.content = compressed
        font_file.dictionary["Length1"] = raw_length
        font_file.filters = [FLATE_DONE]
        font_file_ref = doc.Reference(font_file, f"fontFile:{self.filename}({fontname})")
        flags = (self.flags & ~FF_NONSYMBOLIC) | FF_SYMBOLIC
        descriptor = pdfdoc.PDFDictionary(
            {
                "Type": "/FontDescriptor",
                "Ascent": self.ascent,
                "CapHeight": self.capHeight,
                "Descent": self.descent,
                "Flags": flags,
                "FontBBox": pdfdoc.PDFArray(self.bbox),
                "FontName": pdfdoc.PDFName(fontname),
                "ItalicAngle": self.italicAngle,
                "StemV": self.stemV,
                "FontFile2": font_file_ref,
                "MissingWidth": self.defaultWidth,
            }
        )
        return doc.Reference(descriptor, "fontDescriptor:" + fontname)


class _RawPDF(pdfdoc.PDFObject):  # type: ignore[misc]
    """A PDF object already formatted."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def format(self, document: Any) -> bytes:
        return self.data


def subset_tag(font_name: str, subset: Sequence[int]) -> str:
    """Six capital letters naming a subset (PDF 32000-1, 9.6.4), derived from its font and contents.

    ReportLab tags subsets by number (AAAAAA, AAAAAB, …), so two fonts with the same face name — here
    the main font and its fixed instance — would embed different programs under the same BaseFont.
    """
    digest = hashlib.sha256(font_name.encode("utf-8") + b"\0" + ",".join(map(str, subset)).encode("ascii")).digest()
    return "".join(chr(ord("A") + b % 26) for b in digest[:6])


class _EcertTTFont(TTFont):  # type: ignore[misc]
    """ReportLab TTFont with a fast, cached subsetter and a ToUnicode map that is right beyond the BMP."""

    def __init__(self, name: str, filename: str, subfont_index: int, *, ascii_readable: bool) -> None:
        super().__init__(name, filename, subfontIndex=subfont_index, asciiReadable=ascii_readable, shapable=False)
        self.face.__class__ = _FastFace
        self.face._subset_cache = OrderedDict()
        self.face._subset_lock = threading.Lock()
        self._cmap_cache: OrderedDict[tuple[str, tuple[int, ...]], bytes] = OrderedDict()

    def _widths(self, subset: Sequence[int]) -> _RawPDF:
        """The subset's /Widths array, formatted once per distinct subset (ReportLab formats each
        number as an object: a few hundred calls per document)."""
        key = ("", tuple(subset))
        with self.face._subset_lock:
            hit = self._cmap_cache.get(key)
        if hit is None:
            hit = ("[" + " ".join(str(round(self.face.getCharWidth(cp), 3)) for cp in subset) + "]").encode("ascii")
            with self.face._subset_lock:
                self._cmap_cache[key] = hit
        return _RawPDF(hit)

    def _compressed_cmap(self, base_font_name: str, subset: Sequence[int]) -> bytes:
        key = (base_font_name, tuple(subset))
        with self.face._subset_lock:
            hit = self._cmap_cache.get(key)
            if hit is not None:
                return hit
        made = zlib.compress(to_unicode_cmap(base_font_name, subset).encode("ascii"), 6)
        with self.face._subset_lock:
            self._cmap_cache[key] = made
            while len(self._cmap_cache) > _SUBSET_CACHE_SIZE:
                self._cmap_cache.popitem(last=False)
        return made

    def addObjects(self, doc: Any) -> None:
        """ReportLab's ``TTFont.addObjects``, with :func:`to_unicode_cmap`, compressed once per subset."""
        try:
            state = self.state[doc]
        except KeyError:
            state = self.state[doc] = TTFont.State(self._asciiReadable)
        state.frozen = 1
        for n, subset in enumerate(state.subsets):
            internal_name = self.getSubsetInternalName(n, doc)[1:]
            base_font_name = (
                subset_tag(self.fontName, subset) + "+" + (self.face.name + self.face.subfontNameX).decode("pdfdoc")
            )
            pdf_font = pdfdoc.PDFTrueTypeFont()
            pdf_font.__Comment__ = f"Font {self.fontName} subset {n}"
            pdf_font.Name = internal_name
            pdf_font.BaseFont = base_font_name
            pdf_font.FirstChar = 0
            pdf_font.LastChar = len(subset) - 1
            pdf_font.Widths = self._widths(subset)
            cmap_stream = pdfdoc.PDFStream()
            cmap_stream.content = self._compressed_cmap(base_font_name, subset)
            cmap_stream.filters = [FLATE_DONE]
            pdf_font.ToUnicode = doc.Reference(cmap_stream, "toUnicodeCMap:" + base_font_name)
            pdf_font.FontDescriptor = self.face.addSubsetObjects(doc, base_font_name, subset)
            doc.Reference(pdf_font, internal_name)
            doc.idToObject["BasicFonts"].dict[internal_name] = pdf_font
        del self.state[doc]


# ---------------------------------------------------------------------------------------------
# Process-wide registration: each font file is parsed and registered with ReportLab once.


@dataclass(frozen=True, slots=True)
class LoadedFont:
    """One registered font: its ReportLab name, the file it came from, and the code points it draws."""

    name: str
    path: Path
    subfont_index: int
    cmap: frozenset[int]
    ttfont: Any  # the ReportLab TTFont (untyped library)


_LOADED: dict[tuple[str, int, bool], LoadedFont] = {}
_LOAD_LOCK = threading.Lock()


def _font_name(path: Path, subfont_index: int, fixed: bool) -> str:
    return f"Ecert-{path.stem}-{subfont_index}" + ("-fixed" if fixed else "")


def load_font(path: Path | str, subfont_index: int = 0, *, fixed: bool = False) -> LoadedFont:
    """Parse ``path`` and register it with ReportLab, once per process (idempotent, thread-safe).

    ``fixed=True`` registers a second instance meant for text that is the same on every document
    (labels, the title, dates' 年月日): ASCII keeps codes 32–126 and the rest is assigned in drawing
    order, so its subsets — and their cached compressed font programs — repeat from one document to
    the next. The ordinary instance assigns codes from 1 up, so a subset holds only the glyphs used.
    """
    p = Path(path).resolve()
    key = (str(p), subfont_index, fixed)
    with _LOAD_LOCK:
        hit = _LOADED.get(key)
        if hit is not None:
            return hit
        if not p.is_file():
            raise FontFilesMissing([p])
        name = _font_name(p, subfont_index, fixed)
        if any(f.name == name for f in _LOADED.values()):  # same file name in another directory
            name = f"{name}-{len(_LOADED)}"
        ttf = _EcertTTFont(name, str(p), subfont_index, ascii_readable=fixed)
        # Glyph 0 is .notdef: a cmap entry pointing at it is no coverage.
        cmap = frozenset(cp for cp, gid in ttf.face.charToGlyph.items() if gid)
        # ReportLab makes a second font with an already registered face name an alias of the first;
        # the main font's fixed instance must stay a font of its own, so register under a unique face name.
        real_face_name = ttf.face.name
        ttf.face.name = real_face_name + b"~" + name.encode("ascii")
        try:
            pdfmetrics.registerFont(ttf)
        finally:
            ttf.face.name = real_face_name
        loaded = LoadedFont(name=name, path=p, subfont_index=subfont_index, cmap=cmap, ttfont=ttf)
        _LOADED[key] = loaded
        return loaded


class FontSet:
    """An ordered fallback chain of fonts; each character is drawn with the first font that has it.

    ``main`` is a TrueType font or collection (``main_subfont_index`` picks the face of a TTC);
    ``fallbacks`` are tried in order. Defaults are the Debian packages fonts-wqy-microhei and
    fonts-hanazono. Files are parsed and registered with ReportLab on first use, once per process:
    constructing a second FontSet with the same files is cheap.
    """

    def __init__(
        self,
        main: Path | str = DEFAULT_MAIN,
        fallbacks: Iterable[Path | str] = DEFAULT_FALLBACKS,
        *,
        main_subfont_index: int = 0,
    ) -> None:
        specs = [(Path(main), main_subfont_index)] + [(Path(f), 0) for f in fallbacks]
        absent = [p for p, _ in specs if not p.is_file()]
        if absent:
            raise FontFilesMissing(absent)
        self.fonts: tuple[LoadedFont, ...] = tuple(load_font(p, i) for p, i in specs)
        self._fixed = load_font(specs[0][0], specs[0][1], fixed=True)
        self._by_char: dict[str, str | None] = {}
        self._lock = threading.Lock()

    @property
    def main(self) -> str:
        """Registered name of the main font."""
        return self.fonts[0].name

    @property
    def fixed(self) -> str:
        """Registered name of the main font's second instance, for text that is the same on every
        document (see :func:`load_font`). Only for text the main font covers (:meth:`fixed_covers`)."""
        return self._fixed.name

    def fixed_covers(self, text: str) -> bool:
        cmap = self._fixed.cmap
        return all(ord(ch) in cmap for ch in text)

    def _lookup(self, ch: str) -> str | None:
        hit = self._by_char.get(ch, "")
        if hit != "":
            return hit
        cp = ord(ch)
        found = next((f.name for f in self.fonts if cp in f.cmap), None)
        with self._lock:
            self._by_char[ch] = found
        return found

    def covers(self, ch: str) -> bool:
        return self._lookup(ch) is not None

    def font_for(self, ch: str) -> str:
        """Registered name of the first font in the chain that has a glyph for ``ch``.

        Raises ``RuleRefusal("unsupported_character")`` when no font has one.
        """
        found = self._lookup(ch)
        if found is None:
            raise _refusal([code_point(ch)])
        return found

    def missing(self, text: str) -> list[str]:
        """Code points (``"U+2A6A5"``) of the characters of ``text`` that no font covers, each once, in order."""
        out: list[str] = []
        for ch in text:
            if self._lookup(ch) is None:
                cp = code_point(ch)
                if cp not in out:
                    out.append(cp)
        return out

    def ensure_covered(self, text: str) -> None:
        """Raise ``RuleRefusal("unsupported_character", rule="R-DOC-1")`` naming every uncovered character."""
        missing = self.missing(text)
        if missing:
            raise _refusal(missing)

    def runs(self, text: str) -> list[tuple[str, str]]:
        """Split ``text`` into ``(font name, substring)`` runs, one font per run (refuses uncovered text)."""
        by_char = self._by_char
        fonts = [by_char.get(ch) or self._lookup(ch) for ch in text]  # one pass; _lookup fills the cache
        if None in fonts:
            self.ensure_covered(text)  # raises, naming every uncovered character
        out: list[tuple[str, str]] = []
        cur_font = ""
        start = 0
        for i, font in enumerate(fonts):
            assert font is not None
            if font != cur_font:
                if i > start:
                    out.append((cur_font, text[start:i]))
                cur_font, start = font, i
        if len(text) > start:
            out.append((cur_font, text[start:]))
        return out

    def face(self, name: str) -> Any:
        """The ReportLab TTFontFace of a registered font of this set (for glyph outlines)."""
        for f in self.fonts:
            if f.name == name:
                return f.ttfont.face
        raise KeyError(name)


def _refusal(code_points: list[str]) -> RuleRefusal:
    return RuleRefusal("unsupported_character", rule="R-DOC-1", params={"chars": " ".join(code_points)})


_DEFAULT: FontSet | None = None
_DEFAULT_LOCK = threading.Lock()


def default_fonts() -> FontSet:
    """The process-wide FontSet on the Debian default paths (built on first use)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = FontSet()
        return _DEFAULT
