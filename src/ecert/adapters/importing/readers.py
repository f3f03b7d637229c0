"""Streaming readers for registry files. Each yields ``(row_number, values)`` where ``row_number`` is
the row as a spreadsheet shows it (header = 1) and ``values`` are strings by header position.

Memory does not grow with the file: CSV is read record by record, XLSX through openpyxl's
read-only mode. Encoding detection scans the bytes once, incrementally.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ecert.domain.errors import BadInput, problem

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


def _csv_rows(raw: io.BufferedReader, encoding: str) -> Iterator[tuple[int, list[str]]]:
    with raw, io.TextIOWrapper(raw, encoding=encoding, newline="") as f:
        reader = csv.reader(f)
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


def _xlsx_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    import openpyxl  # imported here: only XLSX imports pay for it

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        ws = wb.worksheets[0]
        for i, rec in enumerate(ws.iter_rows(values_only=True), start=1):
            yield i, [_cell(v) for v in rec]
    finally:
        wb.close()


def open_table(path: Path) -> Table:
    """Open a CSV or XLSX registry file. Raises BadInput when it cannot be read at all."""
    try:
        with path.open("rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise BadInput([problem(f"无法读取文件:{exc}", f"Cannot read the file: {exc}")]) from exc
    if head == XLSX_MAGIC:
        try:
            rows = _xlsx_rows(path)
            first = next(rows, None)
        except Exception as exc:  # openpyxl raises many types on a broken workbook
            raise BadInput([problem(f"无法读取 XLSX 文件:{exc}", f"Cannot read the XLSX file: {exc}")]) from exc
        encoding = "xlsx"
    else:
        encoding = detect_csv_encoding(path)
        raw = path.open("rb")
        rows = _csv_rows(raw, encoding)
        try:
            first = next(rows, None)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise BadInput([problem(f"无法解析 CSV 表头:{exc}", f"Cannot parse the CSV header: {exc}", row=1)]) from exc
    if first is None:
        raise BadInput([problem("文件为空", "The file is empty", row=1)])
    header = [h.strip().lstrip("\ufeff") for h in first[1]]
    while header and header[-1] == "":
        header.pop()
    table = Table(header=header, rows=_guard(rows), encoding=encoding, total_bytes=path.stat().st_size)
    if encoding != "xlsx":
        table.bytes_read = lambda: 0 if raw.closed else raw.tell()
    return table


class RowReadError(Exception):
    def __init__(self, row: int, message_zh: str, message_en: str) -> None:
        super().__init__(message_en)
        self.row = row
        self.message_zh = message_zh
        self.message_en = message_en


def _guard(rows: Iterator[tuple[int, list[str]]]) -> Iterator[tuple[int, list[str]]]:
    """Turn a decoding or CSV syntax error mid-file into a RowReadError naming the row."""
    last = 1
    try:
        for item in rows:
            last = item[0]
            yield item
    except (csv.Error, UnicodeDecodeError) as exc:  # raised by the reader, never at the yield
        raise RowReadError(last + 1, f"无法解析此行:{exc}", f"Cannot parse this row: {exc}") from exc
