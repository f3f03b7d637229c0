"""The roster report as a PDF table (issue 13 item 3), sealed afterwards like a certificate
(adapters/sealing.py ``PadesSealer``). ReportLab's canvas, one row a line, as many A4 landscape
pages as the rows need; every page says which report it belongs to and its page number, and the last
one the counts, so a page alone is never taken for the whole report.

Cells are drawn with the certificate fonts' fallback chain (adapters/documents/fonts.py), so a
rare character in a file name prints as itself; text wider than its column is cut with an ellipsis."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

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
    if stringWidth(text, font, SIZE) <= width:
        return text
    while text and stringWidth(text + "…", font, SIZE) > width:
        text = text[:-1]
    return text + "…"


def _draw(c: Canvas, fonts: FontSet, text: str, x: float, y: float, size: float, width: float | None = None) -> None:
    """``text`` at (x, y): one ``drawString`` when the main font has every character (nearly always),
    else a run per font of the fallback chain (a character no font has is shown as "?")."""
    main = fonts.main
    if all(fonts.covers(ch) for ch in text):
        runs = fonts.runs(text)
    else:
        runs = fonts.runs("".join(ch if fonts.covers(ch) else "?" for ch in text))
    if len(runs) == 1 and runs[0][0] == main:
        c.setFont(main, size)
        c.drawString(x, y, _fit(text, main, width) if width else text)
        return
    for font, part in runs:
        c.setFont(font, size)
        c.drawString(x, y, part)
        x += stringWidth(part, font, size)


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
    for p in range(pages):
        y = top - HEAD_SIZE
        _draw(c, fonts, table.title, MARGIN, y, HEAD_SIZE)
        y -= HEAD_SIZE * 0.6
        for line in table.header_lines:
            y -= ROW_H
            _draw(c, fonts, line, MARGIN, y, SIZE)
        y -= ROW_H * 1.5
        x = MARGIN
        for name, w in table.columns:
            _draw(c, fonts, name, x, y, SIZE, w - 3)
            x += w
        c.line(MARGIN, y - 3, PAGE_W - MARGIN, y - 3)
        for cells in table.rows[p * per_page : (p + 1) * per_page]:
            y -= ROW_H
            x = MARGIN
            for cell, (_, w) in zip(cells, table.columns, strict=False):
                if cell:
                    _draw(c, fonts, cell, x, y, SIZE, w - 3)
                x += w
        if p == pages - 1:
            y -= ROW_H * 1.5
            _draw(c, fonts, table.footer, MARGIN, y, SIZE)
        label = table.page_label.format(page=p + 1, pages=pages)
        _draw(c, fonts, label, MARGIN, MARGIN / 2, SIZE)
        c.showPage()
    c.save()
    return buf.getvalue()
