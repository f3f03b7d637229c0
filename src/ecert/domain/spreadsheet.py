"""Formula injection (OWASP "CSV injection"): the one rule for text that a spreadsheet may open.

A cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a
formula by Excel, LibreOffice and Google Sheets when a CSV file is opened (``=HYPERLINK(…)``,
``=cmd|' /C calc'!A0``). The full-width forms ``＝ ＋ － ＠`` are in the rule too: a Chinese or
Japanese input method types them, some spreadsheet versions fold them to their ASCII forms on
entry, and no certificate field legitimately starts with one (a defensive choice, README
"Security").

Two uses, one rule:

- **Out** — :func:`neutralise`: every text cell of every CSV file ecert writes (the registry and
  certificate exports, services/views/export.py; the roster report, services/roster.py) gets a
  leading apostrophe when it starts like a formula, so the spreadsheet shows it as text.
- **In** — :func:`is_formula` and :func:`formula_message`: every free-text import field
  (``employer_name``, ``email``; a name is refused by its own character rule, domain/names.py) is
  refused when it starts like a formula, with a row-level error; a roster cell that does is not
  looked up (``formula_cell``, domain/roster.py).
"""

from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")  # ＝＋－＠


def is_formula(cell: str) -> bool:
    """Whether a spreadsheet opening ``cell`` as text might run it as a formula."""
    return cell.startswith(FORMULA_START)


def neutralise(cell: str) -> str:
    """``cell`` as every CSV file shows it: a formula gets a leading apostrophe, so no spreadsheet runs it."""
    return "'" + cell if cell.startswith(FORMULA_START) else cell


def formula_message(label_zh: str, label_en: str) -> tuple[str, str]:
    """(zh, en): the sentence for a free-text field refused because it starts like a formula."""
    return (
        f"{label_zh}不能以 = + - @(含全角)或制表符开头(电子表格会把它当作公式执行)",
        f"{label_en} must not start with = + - @ (or their full-width forms) or a tab"
        " (a spreadsheet would run it as a formula)",
    )
