"""Bulk export of the registry or of the certificate list, as CSV or JSON Lines.

The registry export has the import columns (docs/cli.md "Import columns"), one row per specialty,
so ``ecert import`` takes it back as it is. In the CSV form every text cell that a spreadsheet would
run as a formula is neutralised with a leading apostrophe (domain/spreadsheet.py; the import refuses
such cells, so only rows stored before that rule can carry one); JSON Lines keep the stored text.
Rows stream from a server-side cursor (memory stays flat); the file is written beside its
destination and renamed into place at the end, so a rerun or a kill leaves the previous file or the
complete new one, never half of one.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Select, case, select

from ecert.adapters.db.tables import certificates, registrations, specialty_registrations
from ecert.adapters.db.unit_of_work import SqlUnitOfWork
from ecert.domain.errors import BadInput, problem
from ecert.domain.spreadsheet import neutralise

KINDS = ("registry", "certificates")
FORMATS = ("csv", "jsonl")
CHUNK = 5_000
r, sr, c = registrations, specialty_registrations, certificates

ExportProgress = Callable[[int], None]  # rows written so far


def _registry_query() -> Select[Any]:
    # The import's columns, in its order (REQUIRED_COLUMNS, then the optional ones kept in the registry).
    return (
        select(
            r.c.registration_no,
            r.c.name,
            r.c.gender,
            r.c.birth_date,
            r.c.id_number,
            r.c.employer_name,
            r.c.employer_uscc,
            sr.c.specialty,
            sr.c.valid_until,
            r.c.ce_hours,
            r.c.email,
        )
        .join(sr, sr.c.registration_id == r.c.id)
        .order_by(r.c.registration_no, sr.c.id)
    )


def _certificates_query() -> Select[Any]:
    current = case(
        (r.c.status != "active", "revoked"),
        (c.c.data_version < r.c.data_version, "superseded"),
        else_="current",
    ).label("registry_state")
    return (
        select(
            c.c.serial,
            c.c.registration_no,
            c.c.identifier,
            c.c.data_version,
            c.c.usage_from,
            c.c.usage_until,
            c.c.issue_date,
            c.c.seal_key_id,
            c.c.qr_kid,
            c.c.confirmed_by,
            c.c.issued_at,
            current,
        )
        .join(r, r.c.id == c.c.registration_id)
        .order_by(c.c.issued_at, c.c.serial)
    )


def _text(v: Any) -> Any:
    if isinstance(v, datetime) and v.tzinfo is None:  # SQLite keeps no offset; we store UTC
        v = v.replace(tzinfo=UTC)
    if isinstance(v, date | datetime):
        return v.isoformat()
    return v


@dataclass(frozen=True)
class ExportResult:
    kind: str
    format: str
    rows: int
    out: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "format": self.format, "rows": self.rows, "out": self.out}


def _write(
    f: IO[str], fmt: str, columns: list[str], rows: Iterable[Sequence[Any]], progress: ExportProgress | None
) -> int:
    writer = csv.writer(f, lineterminator="\n")
    if fmt == "csv":
        writer.writerow(columns)
    n = 0
    for row in rows:
        values = [_text(v) for v in row]
        if fmt == "csv":
            # Formula injection: a text cell starting like a formula gets an apostrophe (domain/spreadsheet.py).
            writer.writerow(["" if v is None else neutralise(v) if isinstance(v, str) else v for v in values])
        else:
            f.write(json.dumps(dict(zip(columns, values, strict=True)), ensure_ascii=False) + "\n")
        n += 1
        if progress is not None and n % CHUNK == 0:
            progress(n)
    return n


def export(
    uow: SqlUnitOfWork, *, kind: str, fmt: str, out: Path, progress: ExportProgress | None = None
) -> ExportResult:
    bad = [
        problem(f"{name} 应为 {'/'.join(allowed)} 之一", f"{name} must be one of {', '.join(allowed)}", column=name)
        for name, value, allowed in (("kind", kind, KINDS), ("format", fmt, FORMATS))
        if value not in allowed
    ]
    if bad:
        raise BadInput(bad)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        query = _registry_query() if kind == "registry" else _certificates_query()
        with uow, tmp.open("w", encoding="utf-8", newline="") as f:
            result = uow.connection.execution_options(stream_results=True, yield_per=CHUNK).execute(query)
            n = _write(f, fmt, list(result.keys()), result, progress)
        os.replace(tmp, out)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    if progress is not None:
        progress(n)
    return ExportResult(kind=kind, format=fmt, rows=n, out=str(out))
