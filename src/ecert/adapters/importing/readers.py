"""Streaming readers for registry files. Each yields ``(row_number, values)`` where ``row_number`` is
the row as a spreadsheet shows it (header = 1) and ``values`` are strings by header position.

Memory does not grow with the file: CSV is read record by record, XLSX through openpyxl's
read-only mode. Encoding detection scans the bytes once, incrementally.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

from ecert.adapters.files import first_undecodable_row, input_problem, open_input
from ecert.domain.errors import BadInput, Problem, coded_problem, problem
from ecert.domain.images import image_type
from ecert.domain.messages import FILE_KINDS

CHUNK = 1 << 20
XLSX_MAGIC = b"PK\x03\x04"


@dataclass
class Table:
    header: list[str]
    rows: Iterator[tuple[int, list[str]]]
    encoding: str
    total_bytes: int = 0
    bytes_read: Callable[[], int] = lambda: 0  # for a progress bar


def detect_csv_encoding(path: Path) -> str:
    """``utf-8-sig`` if the whole file is valid UTF-8 (BOM or not), else ``gb18030`` (Chinese Excel)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                return "gb18030"
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf-8-sig"


# The longest line a registry file may have, in characters. A row is under 1 KB; a file that is one
# 200 MB line (no newline) was read whole, decoded and copied before the CSV parser refused it
# (717 MB to say no). Lines are now read at most this long, so memory stays flat whatever the file.
MAX_LINE = 1 << 20


def _lines(f: io.TextIOWrapper) -> Iterator[str]:
    while line := f.readline(MAX_LINE + 1):
        if len(line) > MAX_LINE:
            raise csv.Error(f"line longer than {MAX_LINE // (1 << 20)} MB")
        yield line


def _csv_rows(raw: BinaryIO, encoding: str) -> Iterator[tuple[int, list[str]]]:
    with raw, io.TextIOWrapper(raw, encoding=encoding, newline="") as f:
        reader = csv.reader(_lines(f))
        yield from enumerate(reader, start=1)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    return str(value)


def _xlsx_rows(path: Path, formulas: bool = False) -> Iterator[tuple[int, list[str]]]:
    """``formulas``: a formula cell reads as its formula (``=HYPERLINK(…)``), not as its cached value."""
    import openpyxl  # imported here: only XLSX imports pay for it

    wb = openpyxl.load_workbook(path, read_only=True, data_only=not formulas)
    try:
        ws = wb.worksheets[0]
        for i, rec in enumerate(ws.iter_rows(values_only=True), start=1):
            yield i, [_cell(v) for v in rec]
    finally:
        wb.close()


SNIFF_BYTES = 8192
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and Excel's encrypted .xlsx


def _zip_kind(path: Path) -> str | None:
    """``None`` for an XLSX workbook, else what the ZIP file is. For a broken one: BadZipFile, ValueError (a file
    name flagged UTF-8 that does not decode), NotImplementedError (an unknown ZIP version): the last two found by
    fuzz/fuzz_import.py."""
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
    if "xl/workbook.xml" in names:
        return None
    if "xl/workbook.bin" in names:
        return "xlsb"
    if "OFD.xml" in names:
        return "ofd"
    if "[Content_Types].xml" in names:
        return "office"
    return "zip"


def sniff(path: Path, head: bytes) -> str | None:
    """What the file is when it is not a CSV or XLSX file (a key of messages.FILE_KINDS), or ``None``.
    Raises BadInput ``import_xlsx_damaged`` for a ZIP that cannot be opened."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(OLE2_MAGIC):
        return "xls"
    if image_type(head) is not None or head.startswith((b"GIF8", b"BM")):
        return "image"
    if head.startswith(XLSX_MAGIC):
        try:
            return _zip_kind(path)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:  # see _zip_kind
            raise BadInput([coded_problem("import_xlsx_damaged", name=path.name)]) from exc
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf16"
    if b"\x00" in head:  # no CSV in UTF-8 or GB18030 holds a NUL byte
        return "binary"
    return None


def _encoding_problem(path: Path, encoding: str) -> Problem:
    """The row of the first byte that does not decode: found again by a scan of its own, as the
    reader decodes in blocks and fails at a block, not at the row."""
    row = first_undecodable_row(path, encoding.removesuffix("-sig"))
    return coded_problem("text_encoding_unsupported", row=row, name=path.name)


def open_table(path: Path, *, formulas: bool = False) -> Table:
    """Open a CSV or XLSX registry file. Raises BadInput when it cannot be read at all, with a
    sentence that says what to do (not a CSV or XLSX file, not UTF-8 or GB18030, missing …).
    ``formulas``: an XLSX formula cell reads as its formula (a roster flags them, domain/roster.py)."""
    with open_input(path) as f:
        try:
            head = f.read(SNIFF_BYTES)
        except OSError as exc:
            raise BadInput([input_problem(path, exc)]) from exc
    kind = sniff(path, head)
    if kind is not None:
        raise BadInput([coded_problem("import_format_unsupported", name=path.name, kind=FILE_KINDS[kind])])
    if head.startswith(XLSX_MAGIC):
        try:
            rows = _xlsx_rows(path, formulas)
            first = next(rows, None)
        except Exception as exc:  # openpyxl raises many types on a broken workbook
            raise BadInput([coded_problem("import_xlsx_damaged", name=path.name)]) from exc
        encoding = "xlsx"
    else:
        encoding = detect_csv_encoding(path)
        raw = open_input(path)
        rows = _csv_rows(raw, encoding)
        try:
            first = next(rows, None)
        except UnicodeDecodeError as exc:
            raise BadInput([_encoding_problem(path, encoding)]) from exc
        except csv.Error as exc:
            raise BadInput([problem(f"无法解析 CSV 表头:{exc}", f"Cannot parse the CSV header: {exc}", row=1)]) from exc
    if first is None:
        raise BadInput([problem("文件为空", "The file is empty", row=1)])
    header = [h.strip().lstrip("\ufeff") for h in first[1]]
    while header and header[-1] == "":
        header.pop()
    table = Table(header=header, rows=_guard(rows, path, encoding), encoding=encoding, total_bytes=path.stat().st_size)
    if encoding != "xlsx":
        table.bytes_read = lambda: 0 if raw.closed else raw.tell()
    return table


class RowReadError(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message_en)
        self.problem = problem


def _guard(rows: Iterator[tuple[int, list[str]]], path: Path, encoding: str) -> Iterator[tuple[int, list[str]]]:
    """Turn a decoding or CSV syntax error mid-file into a RowReadError naming the row."""
    last = 1
    try:
        for item in rows:
            last = item[0]
            yield item
    except UnicodeDecodeError as exc:  # raised by the reader, never at the yield
        raise RowReadError(_encoding_problem(path, encoding)) from exc
    except csv.Error as exc:
        row = last + 1
        raise RowReadError(problem(f"无法解析此行:{exc}", f"Cannot parse this row: {exc}", row=row)) from exc


@dataclass(frozen=True)
class ZipMember:
    name: str
    data: bytes


def zip_kind(path: Path) -> str | None:
    """What a ZIP file holds (see :func:`sniff`): ``None`` for an XLSX workbook, else ``zip``, ``ofd`` …"""
    return _zip_kind(path)


def zip_members(data: bytes, *, max_entries: int, max_member: int, max_total: int) -> Iterator[ZipMember] | str:
    """The files of a ZIP archive, read lazily and never written anywhere (so a path in it means
    nothing), or the problem that stops it: ``not_zip``, ``too_many`` (more than ``max_entries``
    files), ``zip_bomb`` (a file over ``max_member``, or over ``max_total`` in all, once inflated —
    the sizes in the headers are not trusted). Directories and macOS resource forks are skipped."""
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        infos = [
            i for i in z.infolist()
            if not i.is_dir() and not i.filename.startswith("__MACOSX/") and not Path(i.filename).name.startswith(".")
        ]  # fmt: skip
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):  # as _zip_kind
        return "not_zip"
    if len(infos) > max_entries:
        return "too_many"
    if any(i.file_size > max_member for i in infos) or sum(i.file_size for i in infos) > max_total:
        return "zip_bomb"

    def read() -> Iterator[ZipMember]:
        budget = max_total
        for info in infos:
            try:
                with z.open(info) as f:
                    member = f.read(min(info.file_size, budget) + 1)
            except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError, RuntimeError):
                member = b""  # unreadable: verified as what it is (not a certificate file)
            if len(member) > info.file_size or len(member) > budget:
                member = b""  # the header lied about its size: not read further
            budget -= len(member)
            yield ZipMember(info.filename, member)

    return read()
