"""Roster reports (issue 13 item 3): an employer's list of registration numbers (CSV or XLSX, with an
optional specialty column), or its zip of certificate files, answered for one date T in one signed
report — JSON signed as a compact JWS, a sealed PDF table and a CSV.

The registry's answer for each number on T comes from services/history.py (the one "valid on date T"
rule, domain/history.py), read for the whole roster at once; a certificate file of a zip is verified
exactly as a single upload is (services/verification.py ``verify_pdf``, the same verdicts). What a
row may say is domain/roster.py (R-ACC-1: a row of someone not employed by the asker says only that).

A roster is answered whole or refused whole: a file that cannot be read, a date it cannot be
answered for, more rows than the limit — each is a :class:`BadInput` before any report exists, never a
report that stops half way.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ecert.adapters.importing.readers import RowReadError, ZipMember, open_table, zip_kind, zip_members
from ecert.domain import messages
from ecert.domain.dates import cst_date
from ecert.domain.errors import BadInput, coded_problem
from ecert.domain.history import RegistrationOnDate
from ecert.domain.policy import Policy
from ecert.domain.roster import (
    SCHEMA,
    CertificateVerdict,
    RosterInput,
    RosterRow,
    check_date,
    counts,
    judge_row,
    lookup_numbers,
)
from ecert.domain.spreadsheet import neutralise
from ecert.domain.verification import VerificationResult
from ecert.services import history
from ecert.services.changes import parse_date
from ecert.services.unit_of_work import AbstractUnitOfWork

# Header names accepted for the two columns (the import's English names, and the Chinese ones people type).
REG_COLUMNS = ("registration_no", "注册编号")
SPECIALTY_COLUMNS = ("specialty", "注册专业", "专业")
MAX_CERTIFICATE = 5 * 1024 * 1024  # a certificate file in a zip: as a single upload (routes_verify.MAX_PDF)
PROGRESS_EVERY = 500

Progress = Callable[[int, int], None]  # (done, total)
VerifyFile = Callable[[bytes], VerificationResult]
Sign = Callable[[Mapping[str, Any]], str]  # the report → a compact JWS over its RFC 8785 form
Seal = Callable[[bytes, datetime], bytes]


@dataclass(frozen=True)
class RosterFile:
    """A roster as read: ``kind`` ``list`` (registration numbers) or ``certificates`` (a zip)."""

    name: str
    sha256: str
    kind: str
    items: list[RosterInput]
    members: list[bytes] | None = None  # certificates: each item's file, in the same order


def _too_large(rows: int, limit: int) -> BadInput:
    return BadInput([coded_problem("roster_too_large", rows=rows, limit=limit)])


def _list_items(path: Path, name: str, max_rows: int) -> list[RosterInput]:
    table = open_table(path, formulas=True)
    header = [h.strip().lower() for h in table.header]
    reg_col = next((header.index(c) for c in REG_COLUMNS if c in header), None)
    spec_col = next((header.index(c) for c in SPECIALTY_COLUMNS if c in header), None)
    items: list[RosterInput] = []
    rows: Iterator[tuple[int, list[str]]] = table.rows
    if reg_col is None:
        # No header: a first cell that is a registration number is the first row (one number a line).
        first = table.header[0].strip() if table.header else ""
        if not lookup_numbers([RosterInput(1, first)]):
            raise BadInput([coded_problem("roster_no_column", row=1, name=name)])
        reg_col, spec_col = 0, (1 if len(table.header) > 1 else None)
        items.append(RosterInput(1, first.strip(), table.header[1].strip() if spec_col else ""))
    seen = len(items)
    try:
        for n, values in rows:
            reg = values[reg_col].strip() if reg_col < len(values) else ""
            spec = values[spec_col].strip() if spec_col is not None and spec_col < len(values) else ""
            if not reg and not spec:
                continue  # a blank line is no row
            seen += 1
            if seen <= max_rows:
                items.append(RosterInput(n, reg, spec))
    except RowReadError as exc:
        raise BadInput([exc.problem]) from exc
    if seen > max_rows:
        raise _too_large(seen, max_rows)  # counted to the end: the refusal says how many
    return items


def _certificate_members(data: bytes, name: str, max_rows: int, max_bytes: int) -> list[ZipMember]:
    found = zip_members(data, max_entries=max_rows, max_member=MAX_CERTIFICATE, max_total=max_bytes)
    if found == "too_many":
        import zipfile

        raise _too_large(len(zipfile.ZipFile(io.BytesIO(data)).infolist()), max_rows)
    if isinstance(found, str):
        reason = {"not_zip": "damaged", "zip_bomb": "too large once unpacked"}.get(found, found)
        raise BadInput([coded_problem("roster_zip_unreadable", name=name, reason=reason)])
    return list(found)


def parse_on(value: str | None) -> date | None:
    """The roster's date T as typed (``--date``, the upload form's field): ``YYYY-MM-DD``, None when left
    empty (today), else ``roster_date_malformed``. Whether the registry can answer for it is
    :func:`~ecert.domain.roster.check_date`'s."""
    if value is None or not value.strip():
        return None
    day = parse_date(value, "date", [])  # the check every date the services read goes through
    if day is None:
        raise BadInput([coded_problem("roster_date_malformed", column="date", date=value)])
    return day


SHOWN_ROWS = 1000  # rows the report page lists; the files have them all


def shown_rows(report_json: bytes, limit: int = SHOWN_ROWS) -> list[dict[str, Any]]:
    """The first ``limit`` rows of a stored report (its signed JSON file), as the page lists them."""
    rows: list[dict[str, Any]] = json.loads(report_json)["report"]["rows"]
    return rows[:limit]


def read_roster(path: Path, *, name: str | None = None, max_rows: int, max_bytes: int) -> RosterFile:
    """Read a roster file: CSV (UTF-8 or GB18030) or XLSX through the import's readers, or a zip of
    certificate files. BadInput when it cannot be read, is empty, or has more than ``max_rows`` rows."""
    name = name or path.name
    from ecert.adapters.files import read_input

    data = read_input(path, max_bytes=max_bytes + 1)  # one byte more than allowed: refused just below
    if len(data) > max_bytes:
        raise BadInput([coded_problem("roster_file_too_large", name=name, limit=max_bytes // (1024 * 1024))])
    digest = hashlib.sha256(data).hexdigest()
    if data[:4] == b"PK\x03\x04" and _is_plain_zip(path):
        members = _certificate_members(data, name, max_rows, max_bytes)
        if not members:
            raise BadInput([coded_problem("roster_empty", name=name)])
        items = [RosterInput(i, "", "", file=m.name) for i, m in enumerate(members, start=1)]
        return RosterFile(name, digest, "certificates", items, [m.data for m in members])
    items = _list_items(path, name, max_rows)
    if not items:
        raise BadInput([coded_problem("roster_empty", name=name)])
    return RosterFile(name, digest, "list", items)


def _is_plain_zip(path: Path) -> bool:
    """A zip that is not an XLSX workbook (a broken one is left to the table reader to name)."""
    import zipfile

    try:
        return zip_kind(path) in ("zip", "ofd")
    except (zipfile.BadZipFile, OSError):
        return False


@dataclass(frozen=True)
class RosterAnswer:
    uscc: str
    on: date
    asked_at: datetime
    file: RosterFile
    rows: list[RosterRow]

    @property
    def counts(self) -> dict[str, Any]:
        return counts(self.rows)


def _verdict(result: VerificationResult) -> CertificateVerdict:
    return CertificateVerdict(
        status=result.status.value,
        reason_codes=tuple(result.reason_codes),
        reasons={lang: tuple(r.text(lang) for r in result.reasons) for lang in ("zh", "en")},
        serial=result.serial,
        registration_no=result.registration_no if result.checks.get("bound") else None,
    )


def answer_roster(
    uow: AbstractUnitOfWork,
    roster: RosterFile,
    *,
    uscc: str,
    on: date | None,
    now: datetime,
    policy: Policy,
    verify_file: VerifyFile | None = None,
    progress: Progress | None = None,
) -> RosterAnswer:
    """Every row of ``roster`` as employer ``uscc`` may see it on date ``on`` (default: today)."""
    today = cst_date(now)
    on = on or today
    check_date(on, today=today, policy=policy)
    items = roster.items
    total = len(items)
    verdicts: list[CertificateVerdict | None] = [None] * total
    if roster.members is not None:
        if verify_file is None:
            raise ValueError("a zip of certificates needs verify_file")
        for i, data in enumerate(roster.members):
            verdicts[i] = v = _verdict(verify_file(data))
            items[i] = RosterInput(items[i].row, v.registration_no or "", "", file=items[i].file)
            if progress is not None and (i + 1) % 50 == 0:
                progress(i + 1, total)
        numbers = [i.registration_no for i, v in zip(items, verdicts, strict=True) if v is not None and v.genuine]
    else:
        numbers = lookup_numbers(items)
    facts: dict[str, RegistrationOnDate] = {}
    unique = list(dict.fromkeys(numbers))
    for start in range(0, len(unique), 5000):
        facts.update(history.registrations_on(uow, unique[start : start + 5000], on, now=now, policy=policy))
        if progress is not None and roster.members is None:
            progress(min(start + 5000, len(unique)), total)
    rows = [judge_row(item, facts.get(item.registration_no), uscc, v) for item, v in zip(items, verdicts, strict=True)]
    if progress is not None:
        progress(total, total)
    return RosterAnswer(uscc, on, now, roster, rows)


# ------------------------------------------------------------------------------------------ the report


def report_body(answer: RosterAnswer, *, kid: str, audit_head: str | None, lang: str) -> dict[str, Any]:
    """The report as JSON (schema ``ecert.roster/1``): the question, every row, the counts, the key id."""
    f = answer.file
    return {
        "schema": SCHEMA,
        "question": {
            "what": "roster",
            "as": answer.uscc,
            "date": answer.on.isoformat(),
            "asked_at": answer.asked_at.isoformat(),
            "input": {"name": neutralise(f.name), "sha256": f.sha256, "kind": f.kind, "rows": len(f.items)},
        },
        "complete": True,
        "counts": answer.counts,
        "rows": [r.as_dict(lang) for r in answer.rows],
        "kid": kid,
        "audit_head": audit_head,
        "lang": lang,
    }


CSV_COLUMNS = (
    "row", "file", "registration_no", "specialty", "found", "employed", "name", "registration_status",
    "specialty_valid", "valid_specialties", "certificate_status", "serials", "ok", "reason_codes", "reasons",
)  # fmt: skip


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return neutralise(";".join(str(v) for v in value))
    return neutralise(str(value))


def report_csv(body: Mapping[str, Any]) -> bytes:
    """The rows as CSV (UTF-8 with a BOM, so Excel reads the Chinese); every cell neutralised."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for r in body["rows"]:
        w.writerow([_cell(r.get(c)) for c in CSV_COLUMNS])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _yes_no(value: bool | None, lang: str) -> str:
    return "" if value is None else messages.term("answer", "yes" if value else "no", lang)


def _certificate_word(status: str | None, lang: str) -> str:
    if not status:
        return ""
    return messages.term("status.certificate", status, lang) if status != "none" else ("none" if lang == "en" else "无")


def report_pdf_table(body: Mapping[str, Any], lang: str) -> Any:
    from ecert.adapters.documents.roster_pdf import RosterTable

    def say(zh: str, en: str) -> str:
        return en if lang == "en" else zh

    q = body["question"]
    c = body["counts"]
    certificates = q["input"]["kind"] == "certificates"
    columns = [
        (say("行", "Row"), 30.0),
        (say("文件", "File") if certificates else say("注册编号", "Registration no."), 120.0),
        (
            say("注册编号", "Registration no.") if certificates else say("专业", "Specialty"),
            100.0 if certificates else 70.0,
        ),
        (say("找到", "Found"), 32.0),
        (say("本单位", "Yours"), 36.0),
        (say("姓名", "Name"), 50.0),
        (say("专业有效", "Specialty"), 42.0),
        (say("证书", "Certificate"), 60.0),
        (say("原因", "Reasons"), 300.0),
    ]
    rows = []
    for r in body["rows"]:
        first = r.get("file") or r["registration_no"] if certificates else r["registration_no"]
        second = r["registration_no"] if certificates else (r["specialty"] or "")
        cert = r["certificate_status"]
        rows.append(
            [
                str(r["row"]), first or "", second or "", _yes_no(r["found"], lang), _yes_no(r["employed"], lang),
                r["name"] or "", _yes_no(r["specialty_valid"], lang),
                _certificate_word(cert, lang),
                "; ".join(r["reasons"]),
            ]
        )  # fmt: skip
    title = say("一级建造师名册核查报告", "Roster report: first-class constructors")
    header = [
        say(f"用人单位(统一社会信用代码):{q['as']}    核查日期:{q['date']}    查询时间:{q['asked_at']}",
            f"Employer (credit code): {q['as']}    Date checked: {q['date']}    Asked at: {q['asked_at']}"),
        say(f"名册文件:{q['input']['name']}  SHA-256 {q['input']['sha256']}",
            f"Roster file: {q['input']['name']}  SHA-256 {q['input']['sha256']}"),
        say(f"签名密钥:{body['kid']}    审计链:{body['audit_head'] or '-'}    "
            "JSON 报告以 JWS 签名,可用 /.well-known/jwks.json 核验",
            f"Signing key: {body['kid']}    Audit chain: {body['audit_head'] or '-'}    The JSON report is signed "
            "(JWS), verifiable with /.well-known/jwks.json"),
    ]  # fmt: skip
    footer = say(
        f"共 {c['rows']} 行:无问题 {c['ok']} 行,未找到 {c['not_found']} 行,"
        f"非本单位人员 {c['not_employed_by_you']} 行。报告完。",
        f"{c['rows']} rows: {c['ok']} with no problem, {c['not_found']} not found, "
        f"{c['not_employed_by_you']} not employed by you. End of report.",
    )
    page = say("第 {page}/{pages} 页", "Page {page} of {pages}")
    return RosterTable(title, header, columns, rows, footer, page)


@dataclass(frozen=True)
class RosterReport:
    answer: RosterAnswer
    body: dict[str, Any]
    files: dict[str, bytes]  # json, pdf, csv

    def summary(self, paths: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The contract's ``roster verify`` answer: ``{"rows", "counts", "report"}``."""
        return {"rows": self.body["rows"], "counts": self.body["counts"], "report": dict(paths or {})}


def make_report(
    uow: AbstractUnitOfWork,
    answer: RosterAnswer,
    *,
    kid: str,
    sign: Sign,
    seal: Seal,
    actor: str,
    lang: str,
) -> RosterReport:
    """Record the report in the audit log (R-ACC-1), then write it: the JSON signed (JWS), the PDF
    table sealed, the CSV. The audit event's chain hash is in the report (``audit_head``)."""
    from ecert.adapters.documents.roster_pdf import render_roster_pdf

    with uow:
        head = uow.audit.append(
            at=answer.asked_at,
            actor=actor,
            action="roster.report",
            subject=answer.uscc,
            payload={"date": answer.on.isoformat(), "input_sha256": answer.file.sha256, "counts": answer.counts},
        )
        uow.commit()
    body = report_body(answer, kid=kid, audit_head=head, lang=lang)
    # One line, no indent: json.dumps with an indent runs its pure-Python encoder (0.5 s on 10,000 rows).
    signed = json.dumps({"report": body, "jws": sign(body)}, ensure_ascii=False).encode("utf-8")
    pdf = seal(render_roster_pdf(report_pdf_table(body, lang)), answer.asked_at)
    return RosterReport(answer, body, {"json": signed, "pdf": pdf, "csv": report_csv(body)})


def verdict_log_rows(answer: RosterAnswer) -> list[tuple[str | None, str | None, str]]:
    """The zip's verifications for the verification log (R-ACC-1): (serial, registration_no, status)."""
    return [(r.verdict.serial, r.verdict.registration_no, r.verdict.status) for r in answer.rows if r.verdict]


@contextmanager
def spooled(data: bytes, name: str) -> Iterator[Path]:
    """``data`` as a file named like ``name`` in a private temporary directory (the readers read
    paths), removed when the block ends."""
    with tempfile.TemporaryDirectory(prefix="ecert-roster-") as tmp:
        path = Path(tmp) / (Path(name).name or "roster")
        path.write_bytes(data)
        yield path


__all__: Sequence[str] = ("RosterAnswer", "RosterFile", "RosterReport", "answer_roster", "make_report", "read_roster")


# ------------------------------------------------------------------------------------------ runs (web)


def submit(
    uow: AbstractUnitOfWork,
    *,
    username: str,
    uscc: str,
    on: date | None,
    name: str,
    data: bytes,
    now: datetime,
    policy: Policy,
    max_rows: int,
    max_bytes: int,
    before_commit: Callable[[AbstractUnitOfWork, str, int], None] | None = None,
) -> tuple[str, int]:
    """An employer's upload, checked before anything is stored (a file that cannot be read, a date
    that cannot be answered for, too many rows: BadInput, nothing kept), then recorded as a run to
    answer. ``before_commit(uow, run_id, rows)`` may queue its job in the same transaction.
    Returns the run's id and its number of rows."""
    import secrets

    today = cst_date(now)
    check_date(on or today, today=today, policy=policy)
    with spooled(data, name) as path:
        roster = read_roster(path, name=name, max_rows=max_rows, max_bytes=max_bytes)
    run_id = secrets.token_hex(16)
    with uow:
        uow.rosters.add(run_id, username=username, uscc=uscc, on=on, name=name, data=data, total=len(roster.items),
                        now=now)  # fmt: skip
        if before_commit is not None:
            before_commit(uow, run_id, len(roster.items))
        uow.commit()
    return run_id, len(roster.items)
