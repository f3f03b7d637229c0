"""The roster report as a PDF table (issue 13 item 3), sealed afterwards like a certificate
(adapters/sealing.py ``PadesSealer``). ReportLab's canvas, one row a line, as many A4 landscape
pages as the rows need; every page says which report it belongs to and its page number, and the last
one the counts, so a page alone is never taken for the whole report.

Cells are drawn with the certificate fonts' fallback chain (adapters/documents/fonts.py), so a
rare character in a file name prints as itself; text wider than its column is cut with an ellipsis."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from reportlab.lib.pagesizes import A4, landscape  # type: ignore[import-untyped]
from reportlab.pdfbase.pdfmetrics import stringWidth  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]

from ecert.adapters.documents.fonts import FontSet, default_fonts

PAGE_W, PAGE_H = landscape(A4)
MARGIN = 28.0
ROW_H = 13.0
SIZE = 7.5
HEAD_SIZE = 10.0


@dataclass(frozen=True)
class RosterTable:
    """What the PDF shows: a title, the lines under it (question, date, key id …), the column
    headings with their widths (points), the rows' cells (already neutralised, domain/roster.py)
    and a closing line (the counts)."""

    title: str
    header_lines: Sequence[str]
    columns: Sequence[tuple[str, float]]
    rows: Sequence[Sequence[str]]
    footer: str
    page_label: str  # "第 {page}/{pages} 页" with the placeholders filled per page


def _fit(text: str, font: str, width: float) -> str:
    if len(text) * SIZE <= width or stringWidth(text, font, SIZE) <= width:  # no glyph is wider than 1 em
        return text
    while text and stringWidth(text + "…", font, SIZE) > width:
        text = text[:-1]
    return text + "…"


@dataclass
class _Memo:
    """What one document's drawing keeps per text: its PDF operators (by font, subset in use, text) and
    its main-font form (by text and column width; None when it needs the fallback fonts)."""

    ops: dict[tuple[Any, int, str], tuple[str, int]] = field(default_factory=dict)
    fitted: dict[tuple[str, float | None], str | None] = field(default_factory=dict)


class _Cells:
    """One text object a page: each cell placed by ``setTextOrigin`` (a ``drawString`` a cell costs a
    text object each). Text the main font covers — nearly all — is one run; any other goes run by run
    through the fallback chain (a character no font has is shown as "?")."""

    def __init__(self, c: Canvas, fonts: FontSet, memo: _Memo) -> None:
        self.c, self.fonts, self.memo, self.fitted = c, fonts, memo.ops, memo.fitted
        self.main = fonts.main
        self.cmap = fonts.fonts[0].cmap
        self.t = c.beginText()
        self.font: tuple[str, float] | None = None

    def _set(self, font: str, size: float) -> None:
        if self.font != (font, size):
            self.t.setFont(font, size)
            self.font = (font, size)

    def _out(self, text: str) -> None:
        """``textOut`` without moving the cursor (every cell is placed by ``setTextOrigin``), its PDF
        operators kept per text: a roster repeats most cells (yes/no, statuses, reasons), and encoding a
        string for a TrueType subset is most of the drawing. The operators depend on the subset in use
        before (ReportLab switches subsets only when they differ), so that is part of the key, and the
        subset after is restored on a hit. Per document: the subsets are the document's."""
        t = self.t
        key = (self.font, t._curSubset, text)
        hit = self.memo.get(key)
        if hit is None:
            hit = self.memo[key] = (t._formatText(text), t._curSubset)
        else:
            t._curSubset = hit[1]
        t._code.append(hit[0])

    def _main_font_text(self, text: str, width: float | None) -> str | None:
        """``text`` as drawn in the main font (cut to ``width``), or None when the main font lacks one
        of its characters; kept per text and width (most cells repeat)."""
        key = (text, width)
        try:
            return self.fitted[key]
        except KeyError:
            pass
        cmap = self.cmap
        fitted = None
        if text.isascii() or all(ord(ch) in cmap for ch in text):
            fitted = _fit(text, self.main, width) if width else text
        self.fitted[key] = fitted
        return fitted

    def draw(self, text: str, x: float, y: float, size: float = SIZE, width: float | None = None) -> None:
        fitted = self._main_font_text(text, width)
        if fitted is not None:
            self._set(self.main, size)
            self.t.setTextOrigin(x, y)
            self._out(fitted)
            return
        fonts = self.fonts
        safe = "".join(ch if fonts.covers(ch) else "?" for ch in text)
        for font, part in fonts.runs(safe):
            self._set(font, size)
            self.t.setTextOrigin(x, y)
            self.t.textOut(part)
            x += stringWidth(part, font, size)

    def close(self) -> None:
        self.c.drawText(self.t)


def render_roster_pdf(table: RosterTable, *, fonts: FontSet | None = None) -> bytes:
    fonts = fonts or default_fonts()
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(PAGE_W, PAGE_H), invariant=1)
    c.setTitle(table.title)
    c.setCreator("ecert")
    top = PAGE_H - MARGIN
    head_h = HEAD_SIZE * 1.6 + len(table.header_lines) * ROW_H + ROW_H * 1.5
    per_page = max(1, int((top - head_h - MARGIN - ROW_H * 2) // ROW_H))
    pages = max(1, -(-len(table.rows) // per_page))
    memo = _Memo()
    for p in range(pages):
        cells = _Cells(c, fonts, memo)
        y = top - HEAD_SIZE
        cells.draw(table.title, MARGIN, y, HEAD_SIZE)
        y -= HEAD_SIZE * 0.6
        for line in table.header_lines:
            y -= ROW_H
            cells.draw(line, MARGIN, y)
        y -= ROW_H * 1.5
        x = MARGIN
        for name, w in table.columns:
            cells.draw(name, x, y, SIZE, w - 3)
            x += w
        c.line(MARGIN, y - 3, PAGE_W - MARGIN, y - 3)
        for row in table.rows[p * per_page : (p + 1) * per_page]:
            y -= ROW_H
            x = MARGIN
            for cell, (_, w) in zip(row, table.columns, strict=False):
                if cell:
                    cells.draw(cell, x, y, SIZE, w - 3)
                x += w
        if p == pages - 1:
            y -= ROW_H * 1.5
            cells.draw(table.footer, MARGIN, y)
        cells.draw(table.page_label.format(page=p + 1, pages=pages), MARGIN, MARGIN / 2)
        cells.close()
        c.showPage()
    c.save()
    return buf.getvalue()
