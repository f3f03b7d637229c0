"""SQL repository for the registry: reads into domain objects, set-based import merge and sweep.

Every statement here runs unchanged on SQLite (≥ 3.39) and PostgreSQL: ``ON CONFLICT … DO UPDATE``,
``IS DISTINCT FROM`` and ``excluded.`` are common to both. The import's staging differs only in
storage and plan (temporary-table DDL, how first rows are picked, settings), never in result.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Date,
    DateTime,
    String,
    Text,
    and_,
    bindparam,
    case,
    column,
    exists,
    func,
    insert,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
    update,
)
from sqlalchemy import table as light_table

from ecert.adapters.db.audit import log_registrations
from ecert.adapters.db.subscriptions import record_lapse, record_supersession
from ecert.adapters.db.tables import (
    holder_images,
    registration_versions,
    registrations,
    renewal_items,
    specialty_registrations,
    specialty_versions,
    supersessions,
)
from ecert.domain.model import (
    SPECIALTIES,
    ApplicationStatus,
    Employer,
    Gender,
    LapseReason,
    Person,
    Registration,
    RegistrationStatus,
    SpecialtyRegistration,
    SpecialtyState,
    StatusRecord,
    Supersession,
    SupersessionCause,
)
from ecert.domain.names import rare_characters

SPECIALTY_ORDER = {name: i for i, name in enumerate(SPECIALTIES)}


@dataclass(frozen=True)
class Change:
    """Why, when and by whom a registration's printed data change: what its supersession records (R-CHG-1)."""

    cause: SupersessionCause
    at: datetime
    actor: str


@dataclass(frozen=True)
class HolderImage:
    """A holder's signature or photo, as stored."""

    kind: str  # "signature" | "photo"
    content_type: str
    data: bytes
    sha256: str


STAGING = "import_rows"
STAGING_COLUMNS: tuple[str, ...] = (
    "rownum",
    "registration_no",
    "province_code",
    "name",
    "name_rare_chars",
    "gender",
    "birth_date",
    "id_number",
    "employer_name",
    "employer_uscc",
    "specialty",
    "valid_until",
    "ce_hours",
    "email",
)
# PostgreSQL types of STAGING_COLUMNS, for binary COPY.
STAGING_TYPES_PG: tuple[str, ...] = (
    "int4",
    "varchar",
    "varchar",
    "text",
    "text",
    "varchar",
    "date",
    "varchar",
    "text",
    "varchar",
    "varchar",
    "date",
    "int4",
    "text",
)
HOLDERS = "import_holders"  # one row per registration number of the file (stage_index)
HOLDER_COLUMNS: tuple[str, ...] = tuple(c for c in STAGING_COLUMNS if c not in ("specialty", "valid_until"))
CHANGED = "import_changed"  # ids of existing registrations whose data changes (merge_staged)
# PostgreSQL, for the import transaction only (SET LOCAL): sorts and hashes of a million rows in
# memory, no JIT compilation for statements that run once, and a commit that does not wait for the
# WAL flush (a crash right after it may lose the import, never part of it).
IMPORT_SETTINGS_PG: tuple[str, ...] = ("work_mem = '256MB'", "jit = off", "synchronous_commit = off")
ANALYZE_AFTER = 10_000  # new or changed registrations from which an import refreshes planner statistics
# SQLite page cache for the import, in KiB (main database, temp database): the default 2 MB makes
# every index insert of a large registry a read from the file. Given back after the import.
IMPORT_CACHE_KIB_SQLITE: tuple[int, int] = (32_768, 16_384)
# Columns that must agree across all rows of one registration (one row per specialty).
PERSON_COLUMNS: tuple[str, ...] = (
    "name",
    "gender",
    "birth_date",
    "id_number",
    "employer_name",
    "employer_uscc",
    "ce_hours",
    "email",
)
# Printed on the certificate: a change supersedes the registration's certificates (supersede()).
PRINTED_COLUMNS: tuple[str, ...] = ("name", "gender", "birth_date", "id_number", "employer_name", "employer_uscc")


@dataclass(frozen=True)
class Conflict:
    row: int
    column: str
    kind: str  # "differs" | "duplicate_specialty" | "id_number_shared" | "id_number_registered"
    other: str  # the first row number, or the other registration number


@dataclass
class MergeCounts:
    imported: int
    updated: int
    unchanged: int
    changed_watched: set[str] = field(default_factory=set)  # watched numbers whose data changed


def build_registration(
    *,
    registration_no: str,
    province_code: str,
    name: str,
    gender: str,
    birth_date: date,
    id_number: str,
    employer_name: str,
    employer_uscc: str,
    status: str,
    has_signature: Any,
    data_version: int,
    ce_hours: int | None,
    specialties: Iterable[tuple[str, date, str, str | None, Any]],
) -> Registration:
    """A registration from its row and its specialty rows ``(specialty, valid_until, state,
    lapse_reason, pending)``, in storage order; one mapping for every read path."""
    return Registration(
        registration_no=registration_no,
        province_code=province_code,
        person=Person(name=name, gender=Gender(gender), birth_date=birth_date, id_number=id_number),
        employer=Employer(name=employer_name, uscc=employer_uscc),
        status=RegistrationStatus(status),
        specialties=tuple(
            sorted(
                (
                    SpecialtyRegistration(
                        specialty=specialty,
                        valid_until=valid_until,
                        stored_state=SpecialtyState(state),
                        lapse_reason=LapseReason(lapse_reason) if lapse_reason else None,
                        pending_application=bool(pending),
                    )
                    for specialty, valid_until, state, lapse_reason, pending in specialties
                ),
                # The ministry's order of the ten specialties, the same on every database.
                key=lambda s: SPECIALTY_ORDER.get(s.specialty, len(SPECIALTY_ORDER)),
            )
        ),
        has_signature=bool(has_signature),
        data_version=data_version,
        ce_hours=ce_hours,
    )


def _get_statement() -> Any:
    r, s, h, ri = registrations, specialty_registrations, holder_images, renewal_items
    has_sig = exists().where(h.c.registration_id == r.c.id, h.c.kind == "signature").label("has_sig")
    pending = (
        exists()
        .where(
            ri.c.registration_id == s.c.registration_id,
            ri.c.specialty == s.c.specialty,
            ri.c.status == ApplicationStatus.PENDING.value,
        )
        .label("pending")
    )
    return (
        select(
            r,
            has_sig,
            s.c.specialty,
            s.c.valid_until,
            s.c.state,
            s.c.lapse_reason,
            pending,
        )
        .select_from(r.outerjoin(s, s.c.registration_id == r.c.id))
        .where(r.c.registration_no == bindparam("no"))
        .order_by(s.c.id)
    )


_GET_STATEMENT = _get_statement()  # built once: SQLAlchemy then reuses its compiled form


def _registration_of(rows: Sequence[Any]) -> Registration | None:
    """The registration of :data:`_GET_STATEMENT`'s rows (one per specialty), None for no rows."""
    if not rows:
        return None
    row = rows[0]
    specs = [s for s in rows if s.specialty is not None]
    return build_registration(
        registration_no=row.registration_no,
        province_code=row.province_code,
        name=row.name,
        gender=row.gender,
        birth_date=row.birth_date,
        id_number=row.id_number,
        employer_name=row.employer_name,
        employer_uscc=row.employer_uscc,
        status=row.status,
        has_signature=row.has_sig,
        data_version=row.data_version,
        ce_hours=row.ce_hours,
        specialties=[(s.specialty, s.valid_until, s.state, s.lapse_reason, s.pending) for s in specs],
    )


def _get_with_images_statement() -> Any:
    """:func:`_get_statement` plus the signature and photo bytes, on the first row only (the one with the
    lowest specialty id, or the single row of a registration without specialties): one round trip."""
    r, s, h = registrations, specialty_registrations, holder_images
    s2 = specialty_registrations.alias("s2")
    first = or_(
        s.c.id.is_(None),
        s.c.id == select(func.min(s2.c.id)).where(s2.c.registration_id == r.c.id).scalar_subquery(),
    )

    def image(kind: str) -> Any:
        data = select(h.c.data).where(h.c.registration_id == r.c.id, h.c.kind == kind).scalar_subquery()
        return case((first, data), else_=null()).label(f"{kind}_data")

    return _get_statement().add_columns(image("signature"), image("photo"))


_GET_WITH_IMAGES_STATEMENT = _get_with_images_statement()


# ---------------------------------------------------------------- supersession (R-CHG-1)
@dataclass(frozen=True)
class Superseded:
    count: int  # registrations superseded
    versions: dict[str, int]  # registration number -> its new data version (empty for an id set)


def supersede(
    conn: Connection,
    which: ColumnElement[bool],
    *,
    cause: SupersessionCause,
    at: datetime,
    actor: str,
    values: Mapping[str, Any] | None = None,
    id_set: bool = False,
) -> Superseded:
    """R-CHG-1: a change of the data printed on a certificate supersedes every earlier certificate.

    The one code that changes ``registrations.data_version``. Every registration matching ``which``
    gets ``values`` (the new printed data, if any) and its next version in ONE ``UPDATE`` — incremented
    in SQL, so a concurrent supersession (a renewal approved while the employer changes) is never
    lost — and a ``supersessions`` row saying when, why and by whom, in the caller's transaction.

    ``id_set``: ``which`` picks registrations by ids listed in work tables (the import's changed
    holders, the re-sealing worklist), so it is still true after the update, and it may pick a
    million rows; the record is then written by one ``INSERT … SELECT`` and nothing comes back to
    Python. Otherwise the ``UPDATE`` returns each
    registration's number and new version, so ``which`` may test what the update changes (a status).
    """
    r, s = registrations, supersessions
    if not id_set and conn.dialect.name == "postgresql":
        # The version ending is read below before it is raised: lock its rows first, so that a concurrent
        # change waits for this one instead of raising the version in between (SQLite has one writer).
        conn.execute(select(r.c.id).where(which).with_for_update())
    # Issue 14: the subscribers' events, in this transaction, while ``which`` still picks the rows.
    record_supersession(
        conn,
        which,
        cause=cause,
        at=at,
        effective=(values or {}).get("status_effective"),
        basis=(values or {}).get("status_basis"),
    )
    if cause is not SupersessionCause.RESEAL:  # a re-sealing changes no data: nothing to record
        _record_versions(conn, which)
    stmt = update(r).where(which).values(**(values or {}), data_version=r.c.data_version + 1, updated_at=at)
    when = at.astimezone(UTC)
    if id_set:
        count = int(conn.execute(stmt).rowcount)
        if count:
            log_registrations(conn, which, at=at, actor=actor)  # R-ACC-1: the rows as written, digested
            record = select(
                r.c.id,
                r.c.data_version - 1,
                r.c.data_version,
                literal(when, DateTime(timezone=True)),
                literal(cause.value, String(24)),
                literal(actor, Text),
            ).where(which)
            cols = ["registration_id", "from_version", "to_version", "at", "cause", "actor"]
            conn.execute(insert(s).from_select(cols, record))
        return Superseded(count, {})
    rows = conn.execute(stmt.returning(r.c.id, r.c.registration_no, r.c.data_version)).all()
    if rows:
        log_registrations(conn, r.c.id.in_([row.id for row in rows]), at=at, actor=actor)  # R-ACC-1
        conn.execute(
            insert(s),
            [
                {
                    "registration_id": row.id,
                    "from_version": row.data_version - 1,
                    "to_version": row.data_version,
                    "at": when,
                    "cause": cause.value,
                    "actor": actor,
                }
                for row in rows
            ],
        )
    return Superseded(len(rows), {row.registration_no: int(row.data_version) for row in rows})


def _record_versions(conn: Connection, which: ColumnElement[bool]) -> None:
    """The employer and specialties of the versions about to end, as they stand (the history that
    answers for a date, domain/history.py): two ``INSERT … SELECT``, nothing comes back to Python."""
    r, sr = registrations, specialty_registrations
    conn.execute(
        insert(registration_versions).from_select(
            ["registration_id", "version", "employer_name", "employer_uscc"],
            select(r.c.id, r.c.data_version, r.c.employer_name, r.c.employer_uscc).where(which),
        )
    )
    columns = (sr.c.registration_id, r.c.data_version, sr.c.specialty, sr.c.valid_until, sr.c.state)
    current = select(*columns, sr.c.lapse_recorded_on).select_from(sr.join(r, r.c.id == sr.c.registration_id))
    conn.execute(
        insert(specialty_versions).from_select(
            ["registration_id", "version", "specialty", "valid_until", "state", "lapse_recorded_on"],
            current.where(which),
        )
    )


def _by_number(registration_no: str) -> ColumnElement[bool]:
    return registrations.c.registration_no == registration_no


class SqlRegistry:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @property
    def dialect(self) -> str:
        return self.conn.dialect.name

    # ---------------------------------------------------------------- import staging
    _sqlite_cache: tuple[int, ...] | None = None  # page cache sizes before stage_open (SQLite)

    def stage_open(self) -> None:
        """Temporary tables private to this connection, gone with the transaction (PostgreSQL) or
        dropped by :meth:`stage_close` (SQLite keeps temp tables per connection).

        The import is one large transaction, so it gets the memory it needs for that transaction
        only: on PostgreSQL ``SET LOCAL`` sort/hash memory (and a commit that does not wait for the
        WAL flush: a crash can lose the import, never half of it); on SQLite a larger page cache,
        given back in :meth:`stage_close`."""
        pg = self.dialect == "postgresql"
        if pg:
            for setting in IMPORT_SETTINGS_PG:
                self.conn.execute(text(f"SET LOCAL {setting}"))
        else:
            raw = self.conn.connection.driver_connection
            self._sqlite_cache = tuple(
                raw.execute(f"PRAGMA {db}.cache_size").fetchone()[0]  # type: ignore[union-attr]
                for db in ("main", "temp")
            )
            for db, kib in zip(("main", "temp"), IMPORT_CACHE_KIB_SQLITE, strict=True):
                raw.execute(f"PRAGMA {db}.cache_size = -{kib}")  # type: ignore[union-attr]
        date_t = "DATE" if pg else "TEXT"
        temp = " ON COMMIT DROP" if pg else ""
        for table in (STAGING, HOLDERS, CHANGED):
            self.conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        person = (
            "registration_no VARCHAR(20) NOT NULL, province_code VARCHAR(2) NOT NULL, name TEXT NOT NULL,"
            f" name_rare_chars TEXT, gender VARCHAR(1) NOT NULL, birth_date {date_t} NOT NULL,"
            " id_number VARCHAR(18) NOT NULL, employer_name TEXT NOT NULL, employer_uscc VARCHAR(18) NOT NULL"
        )
        self.conn.execute(
            text(
                f"CREATE TEMPORARY TABLE {STAGING} (rownum INTEGER NOT NULL, {person},"
                f" specialty VARCHAR(16) NOT NULL, valid_until {date_t} NOT NULL, ce_hours INTEGER, email TEXT"
                # PostgreSQL hashes every join: no index. SQLite joins by index: the rows are kept in
                # number order, so a registration's rows sit together and every pass below is sequential.
                + (f"){temp}" if pg else ", PRIMARY KEY (registration_no, rownum)) WITHOUT ROWID")
            )
        )
        # One row per registration: its first row in the file, and what it finds in the registry.
        # SQLite looks holders up by number, so they are stored by it; PostgreSQL hashes.
        key = "" if pg else ", PRIMARY KEY (registration_no)"
        self.conn.execute(
            text(
                f"CREATE TEMPORARY TABLE {HOLDERS} (rownum INTEGER NOT NULL, {person}, ce_hours INTEGER, email TEXT,"
                f" reg_id INTEGER, person_changed INTEGER NOT NULL, other_changed INTEGER NOT NULL{key})"
                + (temp if pg else " WITHOUT ROWID")
            )
        )

    @property
    def stage_dates_as_text(self) -> bool:
        """How :meth:`stage_rows` wants birth_date and valid_until: ISO text (SQLite stores dates
        so) or ``date`` objects (PostgreSQL: binary COPY)."""
        return self.dialect != "postgresql"

    def stage_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Bulk-load validated rows (``STAGING_COLUMNS``; dates per :attr:`stage_dates_as_text`):
        binary COPY on PostgreSQL, executemany on SQLite."""
        if not rows:
            return
        raw = self.conn.connection.driver_connection
        if self.dialect == "postgresql":
            cols = ", ".join(STAGING_COLUMNS)
            with raw.cursor() as cur, cur.copy(f"COPY {STAGING} ({cols}) FROM STDIN (FORMAT BINARY)") as copy:  # type: ignore[union-attr]
                copy.set_types(STAGING_TYPES_PG)
                for r in rows:
                    copy.write_row(r)
        else:
            cols = ", ".join(STAGING_COLUMNS)
            marks = ", ".join("?" for _ in STAGING_COLUMNS)
            raw.executemany(f"INSERT INTO {STAGING} ({cols}) VALUES ({marks})", rows)  # type: ignore[union-attr]

    def stage_index(self) -> None:
        """After the load: index the staged rows (SQLite; PostgreSQL hashes instead) and derive
        :data:`HOLDERS`, one row per registration number with its registry id and whether its data
        changed, which the cross-row checks and the merge then use instead of regrouping the rows."""
        pg = self.dialect == "postgresql"
        if pg:
            self.conn.execute(text(f"ANALYZE {STAGING}"))
        else:
            self.conn.execute(text(f"CREATE INDEX ix_{STAGING}_reg ON {STAGING} (registration_no, specialty)"))
            self.conn.execute(text(f"CREATE INDEX ix_{STAGING}_idn ON {STAGING} (id_number)"))
        cols = ", ".join(HOLDER_COLUMNS)
        person_changed = " OR ".join(f"r.{c} IS DISTINCT FROM h.{c}" for c in PRINTED_COLUMNS)
        other_changed = " OR ".join(f"r.{c} IS DISTINCT FROM h.{c}" for c in ("ce_hours", "email"))
        if pg:
            firsts = (
                f"(SELECT {', '.join(f's.{c}' for c in HOLDER_COLUMNS)} FROM {STAGING} s "
                f"JOIN (SELECT MIN(rownum) AS first FROM {STAGING} GROUP BY registration_no) m ON m.first = s.rownum)"
            )
        else:
            # SQLite: with a single min(), the other columns come from the row that has it.
            rest = ", ".join(c for c in HOLDER_COLUMNS if c != "rownum")
            firsts = f"(SELECT MIN(rownum) AS rownum, {rest} FROM {STAGING} GROUP BY registration_no)"
        self.conn.execute(
            text(
                f"INSERT INTO {HOLDERS} ({cols}, reg_id, person_changed, other_changed) "
                f"SELECT {', '.join(f'h.{c}' for c in HOLDER_COLUMNS)}, r.id, "
                f"CASE WHEN r.id IS NOT NULL AND ({person_changed}) THEN 1 ELSE 0 END, "
                f"CASE WHEN r.id IS NOT NULL AND ({other_changed}) THEN 1 ELSE 0 END "
                f"FROM {firsts} h LEFT JOIN registrations r ON r.registration_no = h.registration_no"
                # SQLite stores holders by number: in that order they are appended.
                + ("" if pg else " ORDER BY h.registration_no")
            )
        )
        if pg:
            self.conn.execute(text(f"ANALYZE {HOLDERS}"))

    def stage_close(self) -> None:
        """Drop the staging tables (SQLite; PostgreSQL drops them at commit) and give back the page
        cache. Safe to call more than once, and after a failed import."""
        if self.dialect == "postgresql":
            return
        for table in (STAGING, HOLDERS, CHANGED):
            self.conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        cache = self._sqlite_cache
        if cache is not None:
            raw = self.conn.connection.driver_connection
            for db, size in zip(("main", "temp"), cache, strict=True):
                raw.execute(f"PRAGMA {db}.cache_size = {int(size)}")  # type: ignore[union-attr]
            self._sqlite_cache = None

    def staged_conflicts(self, limit: int) -> list[Conflict]:
        """Cross-row problems the row-by-row check cannot see, found set-based in the staging table."""
        out: list[Conflict] = []
        diffs = ", ".join(f"CASE WHEN s.{c} IS DISTINCT FROM h.{c} THEN 1 ELSE 0 END AS d_{c}" for c in PERSON_COLUMNS)
        any_diff = " OR ".join(f"s.{c} IS DISTINCT FROM h.{c}" for c in PERSON_COLUMNS)
        q = text(
            f"SELECT s.rownum, h.rownum AS first, {diffs} FROM {STAGING} s "
            f"JOIN {HOLDERS} h ON h.registration_no = s.registration_no "
            f"WHERE s.rownum <> h.rownum AND ({any_diff}) ORDER BY s.rownum LIMIT :lim"
        )
        for row in self.conn.execute(q, {"lim": limit}):
            for i, col in enumerate(PERSON_COLUMNS):
                if row[2 + i]:
                    out.append(Conflict(row.rownum, col, "differs", str(row.first)))
        q = text(
            f"SELECT s.rownum, d.first FROM {STAGING} s JOIN (SELECT registration_no, specialty, MIN(rownum) AS first "
            f"FROM {STAGING} GROUP BY registration_no, specialty HAVING COUNT(*) > 1) d "
            "ON d.registration_no = s.registration_no AND d.specialty = s.specialty "
            "WHERE s.rownum <> d.first ORDER BY s.rownum LIMIT :lim"
        )
        out += [
            Conflict(r.rownum, "specialty", "duplicate_specialty", str(r.first))
            for r in self.conn.execute(q, {"lim": limit})
        ]
        q = text(
            f"SELECT s.rownum, d.reg FROM {STAGING} s JOIN (SELECT id_number, MIN(registration_no) AS reg "
            # MIN <> MAX: more than one number (never NULL), and a hash aggregate rather than a sort.
            f"FROM {STAGING} GROUP BY id_number HAVING MIN(registration_no) <> MAX(registration_no)) d "
            "ON d.id_number = s.id_number WHERE s.registration_no <> d.reg ORDER BY s.rownum LIMIT :lim"
        )
        out += [
            Conflict(r.rownum, "id_number", "id_number_shared", r.reg) for r in self.conn.execute(q, {"lim": limit})
        ]
        # One person, one active registration: an ID number already active under another number.
        q = text(
            f"SELECT h.rownum, r.registration_no AS reg FROM {HOLDERS} h "
            "JOIN registrations r ON r.id_number = h.id_number AND r.registration_no <> h.registration_no "
            "WHERE r.status = 'active' ORDER BY h.rownum LIMIT :lim"
        )
        out += [
            Conflict(r.rownum, "id_number", "id_number_registered", r.reg) for r in self.conn.execute(q, {"lim": limit})
        ]
        out.sort(key=lambda c: (c.row, c.column))
        return out[:limit]

    def existing_numbers(self, numbers: set[str]) -> set[str]:
        out: set[str] = set()
        items = sorted(numbers)
        for i in range(0, len(items), 5000):
            chunk = items[i : i + 5000]
            out.update(
                self.conn.execute(
                    select(registrations.c.registration_no).where(registrations.c.registration_no.in_(chunk))
                ).scalars()
            )
        return out

    def merge_staged(self, now: datetime, watch: set[str] | None = None, *, actor: str) -> MergeCounts:
        """Upsert staged rows into the registry, set-based. Registrations whose printed data or
        specialties change are superseded (:func:`supersede`, cause ``import``); unchanged ones are not
        rewritten, not even locked: only new and changed rows reach the upserts."""
        pg = self.dialect == "postgresql"
        total, existing = self.conn.execute(text(f"SELECT COUNT(*), COUNT(reg_id) FROM {HOLDERS}")).one()
        self.conn.execute(
            text(f"CREATE TEMPORARY TABLE {CHANGED} (id INTEGER PRIMARY KEY)" + (" ON COMMIT DROP" if pg else ""))
        )
        if existing:
            self.conn.execute(
                text(
                    f"INSERT INTO {CHANGED} (id) "
                    f"SELECT reg_id FROM {HOLDERS} WHERE person_changed = 1 "
                    "UNION "
                    f"SELECT h.reg_id FROM {HOLDERS} h JOIN {STAGING} s ON s.registration_no = h.registration_no "
                    "LEFT JOIN specialty_registrations sp"
                    " ON sp.registration_id = h.reg_id AND sp.specialty = s.specialty "
                    "WHERE h.reg_id IS NOT NULL AND (sp.id IS NULL OR sp.valid_until <> s.valid_until)"
                )
            )
        updated = self.conn.execute(text(f"SELECT COUNT(*) FROM {CHANGED}")).scalar_one()
        if updated:
            # Changed registrations get their new data and are superseded in one statement, written
            # once; the upsert below then only adds new ones and new contact details.
            written = (*PRINTED_COLUMNS, "name_rare_chars", "ce_hours", "email")
            h = light_table(HOLDERS, column("reg_id"), *(column(c) for c in written))
            changed = and_(registrations.c.id == h.c.reg_id, h.c.reg_id.in_(text(f"SELECT id FROM {CHANGED}")))
            values = {c: h.c[c] for c in written}
            supersede(
                self.conn, changed, cause=SupersessionCause.IMPORT, at=now, actor=actor, values=values, id_set=True
            )
        # Unchanged rows are left alone (no churn).
        set_cols = ", ".join(f"{c} = excluded.{c}" for c in (*PRINTED_COLUMNS, "name_rare_chars", "ce_hours", "email"))
        self.conn.execute(
            text(
                "INSERT INTO registrations (registration_no, province_code, name, name_rare_chars, gender,"
                " birth_date, id_number, employer_name, employer_uscc, ce_hours, email, status, data_version,"
                " created_at, updated_at) "
                "SELECT h.registration_no, h.province_code, h.name, h.name_rare_chars, h.gender, h.birth_date,"
                " h.id_number, h.employer_name, h.employer_uscc, h.ce_hours, h.email, 'active', 1, :now, :now "
                f"FROM {HOLDERS} h "
                f"WHERE h.reg_id IS NULL OR (h.other_changed = 1 AND h.reg_id NOT IN (SELECT id FROM {CHANGED})) "
                # In number order: the unique index grows at its end, new ids follow the numbers.
                "ORDER BY h.registration_no "
                f"ON CONFLICT (registration_no) DO UPDATE SET {set_cols}, updated_at = excluded.updated_at "
                "WHERE registrations.ce_hours IS DISTINCT FROM excluded.ce_hours "
                "OR registrations.email IS DISTINCT FROM excluded.email"
            ).bindparams(now=now.astimezone(UTC)),  # UTC, as UtcDateTime stores every instant
        )
        self.conn.execute(
            text(
                "INSERT INTO specialty_registrations (registration_id, specialty, valid_until, state) "
                f"SELECT r.id, s.specialty, s.valid_until, 'valid' FROM {STAGING} s "
                "JOIN registrations r ON r.registration_no = s.registration_no "
                "LEFT JOIN specialty_registrations sp ON sp.registration_id = r.id AND sp.specialty = s.specialty "
                "WHERE sp.id IS NULL OR sp.valid_until <> s.valid_until "
                # In id order: the foreign-key checks and the unique index walk the registry once.
                "ORDER BY r.id, s.specialty "
                "ON CONFLICT (registration_id, specialty) DO UPDATE SET valid_until = excluded.valid_until, "
                "state = 'valid', lapse_reason = NULL, lapse_recorded_on = NULL "
                "WHERE specialty_registrations.valid_until <> excluded.valid_until"
            )
        )
        # R-ACC-1: the digests of the rows the upsert added or updated (the superseded ones are logged
        # by supersede); rows the file did not change are not rewritten, nor logged again.
        held = light_table(HOLDERS, column("registration_no"), column("reg_id"), column("other_changed"))
        upserted = select(held.c.registration_no).where(or_(held.c.reg_id.is_(None), held.c.other_changed == 1))
        superseded = select(light_table(CHANGED, column("id")).c.id)
        log_registrations(
            self.conn,
            and_(registrations.c.registration_no.in_(upserted), registrations.c.id.not_in(superseded)),
            at=now,
            actor=actor,
        )
        changed_watched: set[str] = set()
        items = sorted(watch or ())
        for i in range(0, len(items), 5000):
            chunk = items[i : i + 5000]
            changed_watched.update(
                self.conn.execute(
                    select(registrations.c.registration_no).where(
                        registrations.c.registration_no.in_(chunk),
                        registrations.c.id.in_(text(f"SELECT id FROM {CHANGED}")),
                    )
                ).scalars()
            )
        if pg and total - existing + updated >= ANALYZE_AFTER:
            # Fresh statistics for the tables just filled: without them the planner takes a table of
            # a million rows for an empty one (the sweep's age lapse then probes every specialty).
            self.conn.execute(text("ANALYZE registrations, specialty_registrations"))
        return MergeCounts(
            imported=total - existing, updated=updated, unchanged=existing - updated, changed_watched=changed_watched
        )

    def put_image(self, registration_no: str, image: HolderImage, change: Change, *, bump_version: bool = True) -> bool:
        """Store a signature or photo; True if it changed. A new image is printed data: with
        ``bump_version`` the registration is superseded (``change``)."""
        reg_id = self.conn.execute(
            select(registrations.c.id).where(registrations.c.registration_no == registration_no)
        ).scalar_one()
        kind = image.kind
        current = self.conn.execute(
            select(holder_images.c.sha256).where(
                holder_images.c.registration_id == reg_id, holder_images.c.kind == kind
            )
        ).scalar_one_or_none()
        if current == image.sha256:
            return False
        values = {
            "content_type": image.content_type,
            "data": image.data,
            "sha256": image.sha256,
            "updated_at": change.at,
        }
        if current is None:
            self.conn.execute(holder_images.insert().values(registration_id=reg_id, kind=kind, **values))
        else:
            self.conn.execute(
                holder_images.update()
                .where(holder_images.c.registration_id == reg_id, holder_images.c.kind == kind)
                .values(**values)
            )
        if bump_version:
            supersede(self.conn, registrations.c.id == reg_id, cause=change.cause, at=change.at, actor=change.actor)
        return True

    # ---------------------------------------------------------------- changes of printed data: supersede()
    def supersede(
        self, registration_no: str, change: Change, *, person: Person | None = None, employer: Employer | None = None
    ) -> int:
        """Supersede the registration's certificates, storing the new ``person`` or
        ``employer`` data with it in the same statement; returns the new data version."""
        values: dict[str, Any] = {}
        if person is not None:
            values.update(
                name=person.name,
                name_rare_chars=" ".join(rare_characters(person.name)) or None,
                gender=person.gender.value,
                birth_date=person.birth_date,
                id_number=person.id_number,
            )
        if employer is not None:
            values.update(employer_name=employer.name, employer_uscc=employer.uscc)
        by_number, c = _by_number(registration_no), change
        done = supersede(self.conn, by_number, cause=c.cause, at=c.at, actor=c.actor, values=values)
        if not done.count:
            raise LookupError(f"no registration {registration_no}")
        return done.versions[registration_no]

    def end(self, registration_no: str, record: StatusRecord, *, at: datetime, actor: str) -> int | None:
        """Revoke or cancel an active registration (R-LAPSE-1), superseding its certificates (cause
        ``revocation`` / ``cancellation``). Conditional on the status being active in the same
        statement: of two concurrent requests only one changes the row. Returns the new data
        version, or None when the registration was no longer active."""
        status = record.status
        cause = SupersessionCause.REVOCATION if status is RegistrationStatus.REVOKED else SupersessionCause.CANCELLATION
        r = registrations
        done = supersede(
            self.conn,
            and_(_by_number(registration_no), r.c.status == RegistrationStatus.ACTIVE.value),
            cause=cause,
            at=at,
            actor=actor,
            values={
                "status": status.value,
                "status_reason": record.reason,
                "status_basis": record.basis,
                "status_effective": record.effective,
            },
        )
        return done.versions.get(registration_no)

    def rename_employer(self, uscc: str, name: str, *, at: datetime, actor: str) -> list[str]:
        """Every registration with the credit code whose employer name is not ``name`` yet gets it, in
        one set-based statement, and is superseded (cause ``employer_rename``). Returns their numbers."""
        r = registrations
        done = supersede(
            self.conn,
            and_(r.c.employer_uscc == uscc, r.c.employer_name != name),
            cause=SupersessionCause.EMPLOYER_RENAME,
            at=at,
            actor=actor,
            values={"employer_name": name},
        )
        return sorted(done.versions)

    def supersessions(self, registration_no: str) -> list[Supersession]:
        """When, why and by whom the registration's printed data changed, oldest first."""
        r, s = registrations, supersessions
        rows = self.conn.execute(
            select(s.c.from_version, s.c.to_version, s.c.at, s.c.cause, s.c.actor)
            .join(r, r.c.id == s.c.registration_id)
            .where(_by_number(registration_no))
            .order_by(s.c.to_version)
        ).all()
        return [
            Supersession(
                registration_no=registration_no,
                from_version=int(row.from_version),
                to_version=int(row.to_version),
                at=row.at if row.at.tzinfo is not None else row.at.replace(tzinfo=UTC),
                cause=SupersessionCause(row.cause),
                actor=row.actor,
            )
            for row in rows
        ]

    def renew_specialties(self, registration_no: str, specialties: Sequence[str], valid_until: date) -> None:
        """R-REN-5: the specialties are valid until ``valid_until``; a lapse recorded on them is cleared."""
        sr = specialty_registrations
        self.conn.execute(
            update(sr)
            .where(sr.c.registration_id == self._id_of(registration_no), sr.c.specialty.in_(list(specialties)))
            .values(valid_until=valid_until, state="valid", lapse_reason=None, lapse_recorded_on=None)
        )

    def lapse_specialties(
        self,
        registration_no: str,
        specialties: Sequence[str],
        reason: LapseReason,
        today: date,
        *,
        at: datetime | None = None,
    ) -> None:
        """Record the lapse of those of the specialties still stored valid (R-REN-3), and tell the
        registration's subscribers (issue 14) in the same transaction."""
        sr = specialty_registrations
        lapsing = and_(
            sr.c.registration_id == self._id_of(registration_no),
            sr.c.specialty.in_(list(specialties)),
            sr.c.state == "valid",
        )
        record_lapse(self.conn, lapsing, reason=reason.value, today=today, at=at)
        self.conn.execute(
            update(sr).where(lapsing).values(state="lapsed", lapse_reason=reason.value, lapse_recorded_on=today)
        )

    def _id_of(self, registration_no: str) -> Any:
        return select(registrations.c.id).where(_by_number(registration_no)).scalar_subquery()

    # ---------------------------------------------------------------- reads
    def get(self, registration_no: str) -> Registration | None:
        # One statement (a row per specialty): every download and decision starts here, and a second
        # round trip for the specialties showed in the download profile (issue "national scale").
        return _registration_of(self.conn.execute(_GET_STATEMENT, {"no": registration_no}).all())

    def get_with_images(self, registration_no: str) -> tuple[Registration, dict[str, bytes]] | None:
        """The registration and its images (kind -> bytes) in one statement: what an issuance reads
        (issue 15, "one read per download": the images were a second round trip)."""
        rows = self.conn.execute(_GET_WITH_IMAGES_STATEMENT, {"no": registration_no}).all()
        reg = _registration_of(rows)
        if reg is None:
            return None
        images = {k: bytes(v) for k, v in (("signature", rows[0].signature_data), ("photo", rows[0].photo_data)) if v}
        return reg, images

    def status_record(self, registration_no: str) -> StatusRecord | None:
        r = registrations
        row = self.conn.execute(
            select(r.c.status, r.c.status_reason, r.c.status_basis, r.c.status_effective).where(
                _by_number(registration_no)
            )
        ).one_or_none()
        if row is None:
            return None
        return StatusRecord(RegistrationStatus(row.status), row.status_reason, row.status_basis, row.status_effective)

    def employer_names(self, uscc: str) -> set[str]:
        """The names registrations with this credit code carry (none: no such employer in the registry)."""
        r = registrations
        return set(self.conn.execute(select(r.c.employer_name).where(r.c.employer_uscc == uscc).distinct()).scalars())

    def active_registration_of(self, id_number: str, *, besides: str) -> str | None:
        """The number of an active registration other than ``besides`` held under ``id_number``, if any."""
        r = registrations
        return self.conn.execute(
            select(r.c.registration_no)
            .where(r.c.id_number == id_number, r.c.status == "active", r.c.registration_no != besides)
            .limit(1)
        ).scalar_one_or_none()

    def without_signature(self, limit: int) -> list[tuple[str, str]]:
        """(registration number, name) of registrations with no signature image, in id order."""
        r, h = registrations, holder_images
        have = select(h.c.registration_id).where(h.c.kind == "signature")
        rows = self.conn.execute(
            select(r.c.registration_no, r.c.name).where(r.c.id.not_in(have)).order_by(r.c.id).limit(limit)
        ).all()
        return [(row.registration_no, row.name) for row in rows]

    def count(self) -> tuple[int, int]:
        regs = self.conn.execute(select(func.count()).select_from(registrations)).scalar_one()
        specs = self.conn.execute(select(func.count()).select_from(specialty_registrations)).scalar_one()
        return int(regs), int(specs)

    def sample_numbers(self, limit: int) -> list[str]:
        return list(
            self.conn.execute(
                select(registrations.c.registration_no).order_by(registrations.c.id).limit(limit)
            ).scalars()
        )

    # ---------------------------------------------------------------- sweep (R-LAPSE-1)
    def sweep(
        self, *, today: date, age_birth_cutoff: date, lapse_start: date, now: datetime | None = None
    ) -> tuple[int, int, int]:
        """Lapse, set-based, exactly what rules.lapse.lapse_due says. Returns (age, no_renewal, checked).
        Subscribers of a registration with a specialty lapsing are told in the same transaction (issue 14).

        ``age_birth_cutoff``: holders born on or before it are past their 65th birthday today.
        """
        sr = specialty_registrations
        checked = self.conn.execute(select(func.count()).select_from(sr).where(sr.c.state == "valid")).scalar_one()
        too_old = select(registrations.c.id).where(registrations.c.birth_date <= age_birth_cutoff)
        aging = and_(sr.c.state == "valid", sr.c.registration_id.in_(too_old))
        record_lapse(self.conn, aging, reason=LapseReason.AGE_LIMIT.value, today=today, at=now)
        aged = self.conn.execute(
            update(sr)
            .where(aging)
            .values(state="lapsed", lapse_reason=LapseReason.AGE_LIMIT.value, lapse_recorded_on=today)
        ).rowcount
        ended = 0
        if today >= lapse_start:
            ra = renewal_items
            held = exists().where(
                and_(ra.c.registration_id == sr.c.registration_id, ra.c.specialty == sr.c.specialty),
                ra.c.status == ApplicationStatus.PENDING.value,
            )
            # SQLite walks the valid_until index if it can, a random read per row: ended rows (and
            # the lapsed ones, whose dates stay in that range) are soon a large part of the table,
            # and reading it in order is several times faster (1,450,228 specialties, 845,266 of them
            # lapsing: 0.9 s against 6.4 s). Unary plus: the same comparison, no index. PostgreSQL
            # chooses by its statistics (a bitmap scan reads in table order).
            until = literal_column("+valid_until", Date) if self.dialect == "sqlite" else sr.c.valid_until
            ending = and_(sr.c.state == "valid", sr.c.valid_until < today, ~held)
            record_lapse(self.conn, ending, reason=LapseReason.NO_RENEWAL.value, today=today, at=now)
            ended = self.conn.execute(
                update(sr)
                .where(sr.c.state == "valid", until < today, ~held)
                .values(state="lapsed", lapse_reason=LapseReason.NO_RENEWAL.value, lapse_recorded_on=today)
            ).rowcount
        return int(aged), int(ended), int(checked)
