"""Registry import (docs/cli.md "Import columns"): validate every row, report every bad one, all or nothing.

Streaming: rows are validated one by one and bulk-loaded in batches into a temporary staging table
inside the import's transaction; cross-row checks and the merge are set-based SQL. A bad file
rolls the transaction back, so nothing changes. Memory stays flat whatever the file size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

from ecert.adapters.db.registry import Change, Conflict, HolderImage, SqlRegistry
from ecert.adapters.db.unit_of_work import SqlUnitOfWork
from ecert.adapters.importing.readers import RowReadError, Table, open_table
from ecert.domain import ids
from ecert.domain.errors import BadInput, Problem, problem
from ecert.domain.images import HEAD_BYTES, MAX_IMAGE_BYTES, image_type
from ecert.domain.model import SPECIALTIES, Gender, SupersessionCause
from ecert.domain.names import rare_characters, validate_name
from ecert.domain.spreadsheet import formula_message, is_formula

REQUIRED_COLUMNS: tuple[str, ...] = (
    "registration_no",
    "name",
    "gender",
    "birth_date",
    "id_number",
    "employer_name",
    "employer_uscc",
    "specialty",
    "valid_until",
)
OPTIONAL_COLUMNS: tuple[str, ...] = ("signature_image", "photo", "ce_hours", "email")
IMAGE_COLUMNS: tuple[str, ...] = ("signature_image", "photo")  # paths of image files, relative to the file
BATCH = 20_000
MAX_DETAILS = 10_000  # problems listed; the total is always counted
SPECIALTY_SET = frozenset(SPECIALTIES)
GENDERS = {g.value: g for g in Gender}


@dataclass
class ImportResult:
    """What an import did; its fields in the order the CLI and the API print them."""

    imported: int
    updated: int
    unchanged: int
    rows: int
    encoding: str
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Image:
    row: int
    registration_no: str
    kind: str
    path: Path
    content_type: str


@dataclass
class _Problems:
    items: list[Problem] = field(default_factory=list)
    total: int = 0

    def add(self, p: Problem) -> None:
        self.total += 1
        if len(self.items) < MAX_DETAILS:
            self.items.append(p)


INVALID: Any = object()  # what a rule's parse gives for a cell it refuses


@dataclass(frozen=True, slots=True)
class CellRule:
    """The rule of one column, the only one both validators use (:func:`validate_row` names the
    problem, the fast path of :func:`fast_validator` only refuses the row): ``parse`` turns the raw
    cell into the value to stage, or :data:`INVALID`; ``message`` gives (zh, en) for a refused cell."""

    column: str
    parse: Callable[[str], Any]
    message: Callable[[str], tuple[str, str]]

    def problem(self, raw: str, row: int) -> Problem:
        zh, en = self.message(raw)
        return problem(zh, en, row=row, column=self.column)


def _parse_gender(raw: str) -> Any:
    return GENDERS.get(raw.strip(), INVALID)


def _parse_date(raw: str) -> Any:
    value = raw.strip()
    if len(value) != 10:
        return INVALID
    try:
        return date.fromisoformat(value)
    except ValueError:
        return INVALID


def _date_message(raw: str) -> tuple[str, str]:
    value = raw.strip()
    return f"日期格式应为 YYYY-MM-DD,实际为“{value}”", f"Date must be YYYY-MM-DD, got {value!r}"


def _parse_employer(raw: str) -> Any:
    employer = raw.strip()
    return employer if employer and len(employer) <= 200 and not is_formula(employer) else INVALID


def _employer_message(raw: str) -> tuple[str, str]:
    if is_formula(raw.strip()):
        return formula_message("聘用企业名称", "Employer name")
    return "聘用企业名称为空或过长", "Employer name is empty or too long"


def _parse_specialty(raw: str) -> Any:
    specialty = raw.strip()
    return specialty if specialty in SPECIALTY_SET else INVALID


def _parse_ce_hours(raw: str) -> Any:
    ce_raw = raw.strip()
    if not ce_raw:
        return None
    # isdecimal, not isdigit: "¹" is a digit that int() refuses (it crashed the import).
    return int(ce_raw) if ce_raw.isdecimal() and int(ce_raw) <= 10_000 else INVALID


def _parse_email(raw: str) -> Any:
    email = raw.strip() or None
    if email is not None and (
        len(email) > 254 or email.count("@") != 1 or "." not in email.split("@")[1] or is_formula(email)
    ):
        return INVALID
    return email


def _email_message(raw: str) -> tuple[str, str]:
    if is_formula(raw.strip()):
        return formula_message("电子邮箱", "E-mail address")
    return f"电子邮箱格式不正确:“{raw.strip()}”", f"Not an e-mail address: {raw.strip()!r}"


GENDER = CellRule(
    "gender",
    _parse_gender,
    lambda raw: (f"性别应为“男”或“女”,实际为“{raw}”", f"Gender must be 男 (Male) or 女 (Female), got {raw!r}"),
)
BIRTH_DATE = CellRule("birth_date", _parse_date, _date_message)
BIRTH_NOT_PAST = ("出生日期不能晚于今天", "Birth date is not in the past")  # birth_date < the import's today
EMPLOYER = CellRule("employer_name", _parse_employer, _employer_message)
SPECIALTY = CellRule(
    "specialty",
    _parse_specialty,
    lambda raw: (
        f"未知的注册专业“{raw.strip()}”,应为:{'、'.join(SPECIALTIES)}",
        f"Unknown specialty {raw.strip()!r}; expected one of: {', '.join(SPECIALTIES)}",
    ),
)
VALID_UNTIL = CellRule("valid_until", _parse_date, _date_message)
CE_HOURS = CellRule(
    "ce_hours",
    _parse_ce_hours,
    lambda raw: (
        f"继续教育学时应为非负整数,实际为“{raw.strip()}”",
        f"ce_hours must be a whole number ≥ 0, got {raw.strip()!r}",
    ),
)
EMAIL = CellRule("email", _parse_email, _email_message)


def _check(fn: Callable[[], Any], row: int, probs: list[Problem]) -> Any:
    """Run a validator that raises BadInput; record its problems with the row number."""
    try:
        return fn()
    except BadInput as exc:
        for p in exc.problems:
            probs.append(Problem(p.message_zh, p.message_en, row=row, column=p.column))
        return None


def _image(value: str, kind: str, base: Path, row: int, reg_no: str, probs: list[Problem]) -> _Image | None:
    path = (base / value).resolve()
    # Image paths are relative to the import file and stay inside its folder: an import must not
    # read other files of the server (nor tell whether they exist).
    if not path.is_relative_to(base.resolve()):
        probs.append(
            problem(
                f"图像路径须位于导入文件所在目录内:{value}",
                f"Image paths must stay inside the import file's folder: {value}",
                row=row,
                column=kind,
            )
        )
        return None
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(HEAD_BYTES)
    except OSError:
        probs.append(problem(f"找不到图像文件 {value}", f"Image file not found: {value}", row=row, column=kind))
        return None
    ctype = image_type(head)
    if ctype is None:
        probs.append(
            problem(f"{value} 不是 PNG 或 JPEG 图像", f"{value} is not a PNG or JPEG image", row=row, column=kind)
        )
        return None
    if size > MAX_IMAGE_BYTES:
        probs.append(problem(f"{value} 超过 2 MB", f"{value} is larger than 2 MB", row=row, column=kind))
        return None
    return _Image(row, reg_no, kind, path, ctype)


def validate_row(
    row: int, v: dict[str, str], today: date, base: Path
) -> tuple[tuple[Any, ...] | None, list[Problem], list[_Image]]:
    """One row -> (staging tuple, problems, images). Every field is checked, so a row with three
    mistakes reports three problems."""
    probs: list[Problem] = []
    images: list[_Image] = []

    def cell(rule: CellRule) -> Any:
        raw = v.get(rule.column, "")
        value = rule.parse(raw)
        if value is INVALID:
            probs.append(rule.problem(raw, row))
            return None
        return value

    reg = _check(lambda: ids.parse_registration_no(v["registration_no"]), row, probs)
    name = _check(lambda: validate_name(v["name"]), row, probs)
    gender = cell(GENDER)
    birth = cell(BIRTH_DATE)
    if birth is not None and birth >= today:
        probs.append(problem(*BIRTH_NOT_PAST, row=row, column=BIRTH_DATE.column))
        birth = None
    idn = _check(lambda: ids.parse_id_number(v["id_number"]), row, probs)
    if idn is not None and birth is not None and gender is not None:
        _check(lambda: ids.check_id_matches(idn, birth, gender), row, probs)
    employer = cell(EMPLOYER)
    uscc = _check(lambda: ids.parse_uscc(v["employer_uscc"]), row, probs)
    specialty = cell(SPECIALTY)
    valid_until = cell(VALID_UNTIL)
    ce_hours = cell(CE_HOURS)
    email = cell(EMAIL)
    if reg is not None:
        for kind, col in (("signature", "signature_image"), ("photo", "photo")):
            value = v.get(col, "").strip()
            if value:
                img = _image(value, col, base, row, reg.value, probs)
                if img is not None:
                    images.append(_Image(img.row, img.registration_no, kind, img.path, img.content_type))
    if probs:
        return None, probs, []
    assert reg is not None and name is not None and gender is not None and birth is not None
    assert idn is not None and employer is not None and uscc is not None and specialty is not None
    assert valid_until is not None
    rare = rare_characters(name)
    return (
        (
            row,
            reg.value,
            reg.province_code,
            name,
            " ".join(rare) or None,
            gender.value,
            birth.isoformat(),
            idn.value,
            employer,
            uscc,
            specialty,
            valid_until.isoformat(),
            ce_hours,
            email,
        ),
        [],
        images,
    )


FastRow = Callable[[int, list[str]], "tuple[Any, ...] | None"]
CACHE_LIMIT = 100_000  # entries per memo below; cleared when full, so memory stays flat
_MISS: Any = object()


def _remember(cache: dict[str, Any], parse: Callable[[str], Any], raw: str) -> Any:
    """``parse(raw)`` (a value or :data:`INVALID`), kept in ``cache`` for the next row with the same cell."""
    if len(cache) >= CACHE_LIMIT:
        cache.clear()
    value = cache[raw] = parse(raw)
    return value


def fast_validator(index: dict[str, int], width: int, today: date, *, iso_dates: bool = True) -> FastRow:
    """The happy path of :func:`validate_row` for one raw record: the same staging tuple for a row
    it accepts, ``None`` for anything else (then :func:`validate_row` runs and names the problems).

    The same rules (the :class:`CellRule` table and the same ``ids``/``names`` checks), fewer steps:
    no dict per row, values that repeat across rows (dates, specialties, employer credit codes, the
    person columns of a holder's next specialty row) are checked once, and the ID number is checked
    against the record in one pass. It accepts exactly what validate_row accepts, with the same
    values (tests/unit/services/test_registry_import_fast.py compares the two); with
    ``iso_dates=False`` the two dates are ``date`` objects instead of their ISO text."""
    out = 1 if iso_dates else 0  # which of (date, ISO text) goes into the staging tuple
    i_reg, i_name, i_gender, i_birth, i_idn = (index[c] for c in REQUIRED_COLUMNS[:5])
    i_emp, i_uscc, i_spec, i_until = (index[c] for c in REQUIRED_COLUMNS[5:])
    i_ce, i_email = index.get(CE_HOURS.column), index.get(EMAIL.column)
    i_images = [index[c] for c in IMAGE_COLUMNS if c in index]
    # The person columns: a holder's rows (one per specialty) usually follow each other.
    i_person = [i_reg, i_name, i_gender, i_birth, i_idn, i_emp, i_uscc]
    i_person += [i for i in (i_ce, i_email) if i is not None]
    person_key = itemgetter(*i_person)
    parse_gender, parse_date, parse_employer = GENDER.parse, BIRTH_DATE.parse, EMPLOYER.parse
    parse_specialty, parse_ce_hours, parse_email = SPECIALTY.parse, CE_HOURS.parse, EMAIL.parse
    reg_province, id_matches, parse_uscc = ids.registration_no_province, ids.id_number_if_matches, ids.parse_uscc
    miss, invalid, remember = _MISS, INVALID, _remember  # locals: read on every row
    dates: dict[str, tuple[date, str]] = {}
    usccs: dict[str, str] = {}
    # raw cell -> parsed value or INVALID, per column whose values repeat across rows
    genders: dict[str, Any] = {}
    employers: dict[str, Any] = {}
    ce_hours_seen: dict[str, Any] = {}
    specialties: dict[str, Any] = {}
    last_key: tuple[str, ...] = ()
    last_person: tuple[Any, ...] = ()
    last_tail: tuple[Any, ...] = ()

    def day(raw: str) -> tuple[date, str] | None:
        hit = dates.get(raw)
        if hit is not None:
            return hit
        d = parse_date(raw)
        if d is invalid:
            return None
        if len(dates) >= CACHE_LIMIT:
            dates.clear()
        dates[raw] = hit = (d, d.isoformat())
        return hit

    def person(rec: list[str]) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
        """(registration_no, province, name, rare, gender, birth ISO, ID number, employer, USCC),
        (ce_hours, email)."""
        reg_no = rec[i_reg].strip()
        province = reg_province(reg_no)
        if province is None:
            return None
        try:
            name = validate_name(rec[i_name])
        except BadInput:
            return None
        raw = rec[i_gender]
        gender = genders.get(raw, miss)
        if gender is miss:
            gender = remember(genders, parse_gender, raw)
        birth = day(rec[i_birth])
        if gender is invalid or birth is None or birth[0] >= today:
            return None
        idn = id_matches(rec[i_idn], birth[0], birth[1], gender)
        raw = rec[i_emp]
        employer = employers.get(raw, miss)
        if employer is miss:
            employer = remember(employers, parse_employer, raw)
        if idn is None or employer is invalid:
            return None
        raw_uscc = rec[i_uscc]
        uscc = usccs.get(raw_uscc)
        if uscc is None:
            try:
                uscc = parse_uscc(raw_uscc)
            except BadInput:
                return None
            if len(usccs) >= CACHE_LIMIT:
                usccs.clear()
            usccs[raw_uscc] = uscc
        ce_hours = None
        if i_ce is not None:
            raw = rec[i_ce]
            ce_hours = ce_hours_seen.get(raw, miss)
            if ce_hours is miss:
                ce_hours = remember(ce_hours_seen, parse_ce_hours, raw)
        email = parse_email(rec[i_email]) if i_email is not None else None
        if ce_hours is invalid or email is invalid:
            return None
        rare = " ".join(rare_characters(name)) or None
        return (reg_no, province, name, rare, gender.value, birth[out], idn, employer, uscc), (ce_hours, email)

    def fast(rownum: int, rec: list[str]) -> tuple[Any, ...] | None:
        nonlocal last_key, last_person, last_tail
        if len(rec) < width:
            return None  # short rows: validate_row fills in the missing cells
        for i in i_images:
            if rec[i].strip():
                return None  # images are checked on disk by validate_row
        key = person_key(rec)
        if key == last_key:
            p, tail = last_person, last_tail
        else:
            got = person(rec)
            if got is None:
                return None
            p, tail = got
            last_key, last_person, last_tail = key, p, tail
        raw_spec = rec[i_spec]
        specialty = specialties.get(raw_spec, miss)
        if specialty is miss:
            specialty = remember(specialties, parse_specialty, raw_spec)
        until = day(rec[i_until])
        if specialty is invalid or until is None:
            return None
        return (rownum, *p, specialty, until[out], *tail)

    return fast


# Conflict.kind -> (zh, en) message, ``{other}`` the other row or registration.
CONFLICT_MESSAGES: dict[str, tuple[str, str]] = {
    "differs": (
        "同一注册编号的各行应一致,此列与第 {other} 行不同",
        "Rows of one registration must agree; this column differs from row {other}",
    ),
    "duplicate_specialty": (
        "注册专业重复,已在第 {other} 行出现",
        "Duplicate specialty for this registration, already in row {other}",
    ),
    "id_number_shared": (
        "身份证号已用于另一注册编号 {other}",
        "The ID number is also used by registration {other} in this file",
    ),
    "id_number_registered": (
        "该身份证号已有有效注册 {other}",
        "The ID number already has an active registration {other}",
    ),
}


def _conflict_problem(c: Conflict) -> Problem:
    zh, en = CONFLICT_MESSAGES.get(c.kind, CONFLICT_MESSAGES["id_number_registered"])
    return problem(zh.format(other=c.other), en.format(other=c.other), row=c.row, column=c.column)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


ProgressFn = Callable[[int, int, int], None]  # (rows, bytes_read, total_bytes)


def import_registry(
    uow: SqlUnitOfWork,
    path: Path,
    *,
    today: date,
    now: datetime,
    actor: str,
    progress: ProgressFn | None = None,
) -> ImportResult:
    """Import a CSV/XLSX file in one transaction. Raises BadInput naming every bad row; nothing is kept then."""
    table = open_table(path)
    return import_table(
        uow,
        table,
        base=path.parent,
        source=path.name,
        digest=file_sha256(path),
        today=today,
        now=now,
        actor=actor,
        progress=progress,
    )


def _header_problems(header: list[str]) -> list[Problem]:
    out = [
        problem(f"缺少必需的列“{c}”", f"Missing required column {c!r}", row=1, column=c)
        for c in REQUIRED_COLUMNS
        if c not in header
    ]
    known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
    out += [problem(f"未知的列“{c}”", f"Unknown column {c!r}", row=1, column=c) for c in header if c and c not in known]
    dupes = sorted({c for c in header if c and header.count(c) > 1})
    out += [problem(f"列“{c}”重复", f"Column {c!r} appears twice", row=1, column=c) for c in dupes]
    return out


def _with_dates(staged: tuple[Any, ...]) -> tuple[Any, ...]:
    """validate_row's staging tuple with ``date`` objects for its two ISO dates."""
    out = list(staged)
    out[6], out[11] = date.fromisoformat(out[6]), date.fromisoformat(out[11])
    return tuple(out)


@contextmanager
def _staging(reg: SqlRegistry) -> Iterator[None]:
    """The staging tables for the block; on failure they go too (and SQLite gets its usual page
    cache back: the connection returns to the pool), before the unit of work rolls back."""
    reg.stage_open()
    try:
        yield
    except BaseException:
        with suppress(Exception):  # the original error matters, not a failed cleanup after it
            reg.stage_close()
        raise


def import_table(
    uow: SqlUnitOfWork,
    table: Table,
    *,
    base: Path,
    source: str,
    digest: str,
    today: date,
    now: datetime,
    actor: str,
    progress: ProgressFn | None = None,
) -> ImportResult:
    """Validate and merge ``table`` (a file's rows, or synthetic ones) in one transaction."""
    header_problems = _header_problems(table.header)
    if header_problems:
        raise BadInput(header_problems)
    index = {c: table.header.index(c) for c in table.header if c}
    width = len(table.header)
    probs = _Problems()
    images: list[_Image] = []
    n_rows = 0

    with uow:
        reg = uow.registry
        iso_dates = reg.stage_dates_as_text
        fast = fast_validator(index, width, today, iso_dates=iso_dates)
        with _staging(reg):
            batch: list[tuple[Any, ...]] = []
            try:
                for rownum, rec in table.rows:
                    if not any(map(str.strip, rec)):
                        continue  # blank lines (Excel leaves them at the end)
                    n_rows += 1
                    if len(rec) > width and any(cell.strip() for cell in rec[width:]):
                        probs.add(
                            problem(
                                f"此行有 {len(rec)} 列,表头只有 {width} 列",
                                f"Row has {len(rec)} cells, the header has {width}",
                                row=rownum,
                            )
                        )
                        continue
                    staged = fast(rownum, rec)
                    if staged is None:
                        values = {c: (rec[i] if i < len(rec) else "") for c, i in index.items()}
                        staged, row_probs, row_images = validate_row(rownum, values, today, base)
                        for p in row_probs:
                            probs.add(p)
                        if staged is not None:
                            images += row_images
                            if not iso_dates:
                                staged = _with_dates(staged)
                    # Rows that pass their own checks are staged even after a bad row, so that the
                    # cross-row checks still run and the report names every bad row; a bad file is
                    # rolled back whole anyway.
                    if staged is not None:
                        batch.append(staged)
                        if len(batch) >= BATCH:
                            reg.stage_rows(batch)
                            batch.clear()
                    if progress is not None and n_rows % 10_000 == 0:
                        progress(n_rows, table.bytes_read(), table.total_bytes)
            except RowReadError as exc:
                probs.add(exc.problem)
            if not probs.total and n_rows == 0:
                probs.add(problem("文件中没有数据行", "The file has no data rows", row=2))
            reg.stage_rows(batch)
            reg.stage_index()
            for c in reg.staged_conflicts(MAX_DETAILS):
                probs.add(_conflict_problem(c))
            if probs.total:
                probs.items.sort(key=lambda p: (p.row or 0, p.column or ""))
                raise BadInput(probs.items, total=probs.total)
            image_regs = {img.registration_no for img in images}
            existed = reg.existing_numbers(image_regs)
            counts = reg.merge_staged(now, watch=image_regs, actor=actor)
            updated, unchanged = counts.updated, counts.unchanged
            for img in images:
                data = img.path.read_bytes()
                # A new signature or photo is printed data (R-CHG-1) for a registration that existed
                # before; one created by this import starts at version 1 with its images.
                is_old = img.registration_no in existed
                already = img.registration_no in counts.changed_watched
                image = HolderImage(img.kind, img.content_type, data, hashlib.sha256(data).hexdigest())
                change = Change(SupersessionCause.IMPORT, now, actor)
                changed = reg.put_image(img.registration_no, image, change, bump_version=is_old and not already)
                if changed and is_old and not already:
                    counts.changed_watched.add(img.registration_no)
                    updated, unchanged = updated + 1, unchanged - 1
            reg.stage_close()
            result = ImportResult(
                rows=n_rows,
                imported=counts.imported,
                updated=updated,
                unchanged=unchanged,
                sha256=digest,
                encoding=table.encoding,
            )
            uow.audit.append(at=now, actor=actor, action="registry.import", subject=source, payload=result.as_dict())
            uow.commit()
    if progress is not None:
        progress(n_rows, table.total_bytes, table.total_bytes)
    return result


def image_reference_problems(path: Path) -> list[Problem]:
    """An uploaded file travels alone: image paths in it would point at the server's own files.
    Every non-empty ``signature_image`` / ``photo`` cell is a problem (row, column); the file is
    scanned only when its header has such a column. Unreadable files are left to the import."""
    try:
        table = open_table(path)
    except Exception:  # the import itself reports an unreadable file, with its own message
        return []
    cols = [(c, table.header.index(c)) for c in IMAGE_COLUMNS if c in table.header]
    if not cols:
        return []
    out: list[Problem] = []
    try:
        for rownum, rec in table.rows:
            for col, i in cols:
                if i < len(rec) and rec[i].strip():
                    out.append(
                        problem(
                            "网页上传不能引用图像文件,请删除此列的内容或通过命令行导入",
                            "An uploaded file cannot reference image files: empty this cell or import with the CLI",
                            row=rownum,
                            column=col,
                        )
                    )
    except Exception:  # a broken row: the import names it
        return out
    return out


__all__ = [
    "REQUIRED_COLUMNS",
    "ImportResult",
    "image_reference_problems",
    "import_registry",
    "import_table",
    "validate_row",
]
