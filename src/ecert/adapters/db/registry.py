"""SQL repository for the registry: reads into domain objects, set-based import merge and sweep.

Every statement here runs unchanged on SQLite (≥ 3.39) and PostgreSQL: ``ON CONFLICT … DO UPDATE``,
``IS DISTINCT FROM`` and ``excluded.`` are common to both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, exists, func, select, text, update

from ecert.adapters.db.tables import holder_images, registrations, renewal_items, specialty_registrations
from ecert.domain.model import (
    SPECIALTIES,
    Employer,
    Gender,
    LapseReason,
    Person,
    Registration,
    RegistrationStatus,
    SpecialtyRegistration,
    SpecialtyState,
)

SPECIALTY_ORDER = {name: i for i, name in enumerate(SPECIALTIES)}

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
# Printed on the certificate: a change bumps data_version and so supersedes certificates (R-CHG-1).
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


class SqlRegistry:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @property
    def dialect(self) -> str:
        return self.conn.dialect.name

    # ---------------------------------------------------------------- import staging
    def stage_open(self) -> None:
        """A temporary table private to this connection, gone with the transaction (PostgreSQL)
        or dropped by :meth:`stage_close` (SQLite keeps temp tables per connection)."""
        pg = self.dialect == "postgresql"
        date_t = "DATE" if pg else "TEXT"
        self.conn.execute(text(f"DROP TABLE IF EXISTS {STAGING}"))
        self.conn.execute(
            text(
                f"CREATE TEMPORARY TABLE {STAGING} ("
                "rownum INTEGER PRIMARY KEY, registration_no VARCHAR(20) NOT NULL, province_code VARCHAR(2) NOT NULL,"
                " name TEXT NOT NULL, name_rare_chars TEXT, gender VARCHAR(1) NOT NULL,"
                f" birth_date {date_t} NOT NULL, id_number VARCHAR(18) NOT NULL, employer_name TEXT NOT NULL,"
                f" employer_uscc VARCHAR(18) NOT NULL, specialty VARCHAR(16) NOT NULL, valid_until {date_t} NOT NULL,"
                " ce_hours INTEGER, email TEXT)" + (" ON COMMIT DROP" if pg else "")
            )
        )

    def stage_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Bulk-load validated rows: COPY on PostgreSQL, executemany on SQLite. Dates as ISO text."""
        if not rows:
            return
        raw = self.conn.connection.driver_connection
        if self.dialect == "postgresql":
            cols = ", ".join(STAGING_COLUMNS)
            with raw.cursor() as cur, cur.copy(f"COPY {STAGING} ({cols}) FROM STDIN") as copy:  # type: ignore[union-attr]
                for r in rows:
                    copy.write_row(r)
        else:
            marks = ", ".join("?" for _ in STAGING_COLUMNS)
            raw.executemany(f"INSERT INTO {STAGING} VALUES ({marks})", rows)  # type: ignore[union-attr]

    def stage_index(self) -> None:
        self.conn.execute(text(f"CREATE INDEX ix_{STAGING}_reg ON {STAGING} (registration_no, specialty)"))
        self.conn.execute(text(f"CREATE INDEX ix_{STAGING}_idn ON {STAGING} (id_number)"))
        if self.dialect == "postgresql":
            self.conn.execute(text(f"ANALYZE {STAGING}"))

    def stage_close(self) -> None:
        if self.dialect != "postgresql":
            self.conn.execute(text(f"DROP TABLE IF EXISTS {STAGING}"))

    def staged_conflicts(self, limit: int) -> list[Conflict]:
        """Cross-row problems the row-by-row check cannot see, found set-based in the staging table."""
        out: list[Conflict] = []
        firsts = f"(SELECT registration_no, MIN(rownum) AS first FROM {STAGING} GROUP BY registration_no)"
        diffs = ", ".join(f"CASE WHEN s.{c} IS DISTINCT FROM f.{c} THEN 1 ELSE 0 END AS d_{c}" for c in PERSON_COLUMNS)
        any_diff = " OR ".join(f"s.{c} IS DISTINCT FROM f.{c}" for c in PERSON_COLUMNS)
        q = text(
            f"SELECT s.rownum, f.rownum AS first, {diffs} FROM {STAGING} s "
            f"JOIN {firsts} m ON m.registration_no = s.registration_no "
            f"JOIN {STAGING} f ON f.rownum = m.first "
            f"WHERE s.rownum <> f.rownum AND ({any_diff}) ORDER BY s.rownum LIMIT :lim"
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
            f"FROM {STAGING} GROUP BY id_number HAVING COUNT(DISTINCT registration_no) > 1) d "
            "ON d.id_number = s.id_number WHERE s.registration_no <> d.reg ORDER BY s.rownum LIMIT :lim"
        )
        out += [
            Conflict(r.rownum, "id_number", "id_number_shared", r.reg) for r in self.conn.execute(q, {"lim": limit})
        ]
        # One person, one active registration: an ID number already active under another number.
        q = text(
            f"SELECT s.rownum, r.registration_no AS reg FROM {STAGING} s JOIN {firsts} m ON m.first = s.rownum "
            "JOIN registrations r ON r.id_number = s.id_number AND r.registration_no <> s.registration_no "
            "WHERE r.status = 'active' ORDER BY s.rownum LIMIT :lim"
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

    def merge_staged(self, now: datetime, watch: set[str] | None = None) -> MergeCounts:
        """Upsert staged rows into the registry, set-based. Registrations whose printed data or
        specialties change get ``data_version + 1`` (R-CHG-1); unchanged ones are not rewritten."""
        firsts = f"(SELECT MIN(rownum) FROM {STAGING} GROUP BY registration_no)"
        total = self.conn.execute(text(f"SELECT COUNT(DISTINCT registration_no) FROM {STAGING}")).scalar_one()
        existing = self.conn.execute(
            text(
                "SELECT COUNT(*) FROM registrations r "
                f"WHERE r.registration_no IN (SELECT registration_no FROM {STAGING})"
            )
        ).scalar_one()
        changed_person = " OR ".join(f"r.{c} IS DISTINCT FROM s.{c}" for c in PRINTED_COLUMNS)
        self.conn.execute(text("DROP TABLE IF EXISTS import_changed"))
        self.conn.execute(
            text(
                "CREATE TEMPORARY TABLE import_changed (id INTEGER PRIMARY KEY)"
                + (" ON COMMIT DROP" if self.dialect == "postgresql" else "")
            )
        )
        self.conn.execute(
            text(
                "INSERT INTO import_changed (id) "
                f"SELECT r.id FROM {STAGING} s JOIN registrations r ON r.registration_no = s.registration_no "
                f"WHERE s.rownum IN {firsts} AND ({changed_person}) "
                "UNION "
                f"SELECT r.id FROM {STAGING} s JOIN registrations r ON r.registration_no = s.registration_no "
                "LEFT JOIN specialty_registrations sp ON sp.registration_id = r.id AND sp.specialty = s.specialty "
                "WHERE sp.id IS NULL OR sp.valid_until <> s.valid_until"
            )
        )
        updated = self.conn.execute(text("SELECT COUNT(*) FROM import_changed")).scalar_one()
        # Also rewrites ce_hours etc. for changed ones; unchanged rows are left alone (no churn).
        set_cols = ", ".join(f"{c} = excluded.{c}" for c in (*PRINTED_COLUMNS, "name_rare_chars", "ce_hours", "email"))
        self.conn.execute(
            text(
                "INSERT INTO registrations (registration_no, province_code, name, name_rare_chars, gender,"
                " birth_date, id_number, employer_name, employer_uscc, ce_hours, email, status, data_version,"
                " created_at, updated_at) "
                "SELECT s.registration_no, s.province_code, s.name, s.name_rare_chars, s.gender, s.birth_date,"
                " s.id_number, s.employer_name, s.employer_uscc, s.ce_hours, s.email, 'active', 1, :now, :now "
                f"FROM {STAGING} s WHERE s.rownum IN {firsts} "
                f"ON CONFLICT (registration_no) DO UPDATE SET {set_cols}, "
                "data_version = registrations.data_version + "
                "CASE WHEN registrations.id IN (SELECT id FROM import_changed) THEN 1 ELSE 0 END, "
                "updated_at = excluded.updated_at "
                "WHERE registrations.id IN (SELECT id FROM import_changed) "
                "OR registrations.ce_hours IS DISTINCT FROM excluded.ce_hours "
                "OR registrations.email IS DISTINCT FROM excluded.email"
            ).bindparams(now=now),
        )
        self.conn.execute(
            text(
                "INSERT INTO specialty_registrations (registration_id, specialty, valid_until, state) "
                f"SELECT r.id, s.specialty, s.valid_until, 'valid' FROM {STAGING} s "
                "JOIN registrations r ON r.registration_no = s.registration_no WHERE true "
                "ON CONFLICT (registration_id, specialty) DO UPDATE SET valid_until = excluded.valid_until, "
                "state = 'valid', lapse_reason = NULL, lapse_recorded_on = NULL "
                "WHERE specialty_registrations.valid_until <> excluded.valid_until"
            )
        )
        changed_watched: set[str] = set()
        items = sorted(watch or ())
        for i in range(0, len(items), 5000):
            chunk = items[i : i + 5000]
            changed_watched.update(
                self.conn.execute(
                    select(registrations.c.registration_no).where(
                        registrations.c.registration_no.in_(chunk),
                        registrations.c.id.in_(text("SELECT id FROM import_changed")),
                    )
                ).scalars()
            )
        if self.dialect != "postgresql":
            self.conn.execute(text("DROP TABLE IF EXISTS import_changed"))
        return MergeCounts(
            imported=total - existing, updated=updated, unchanged=existing - updated, changed_watched=changed_watched
        )

    def put_image(
        self,
        registration_no: str,
        kind: str,
        content_type: str,
        data: bytes,
        sha256: str,
        now: datetime,
        *,
        bump_version: bool = True,
    ) -> bool:
        """Store a signature or photo; True if it changed (a new signature image is printed data)."""
        reg_id = self.conn.execute(
            select(registrations.c.id).where(registrations.c.registration_no == registration_no)
        ).scalar_one()
        current = self.conn.execute(
            select(holder_images.c.sha256).where(
                holder_images.c.registration_id == reg_id, holder_images.c.kind == kind
            )
        ).scalar_one_or_none()
        if current == sha256:
            return False
        values = {"content_type": content_type, "data": data, "sha256": sha256, "updated_at": now}
        if current is None:
            self.conn.execute(holder_images.insert().values(registration_id=reg_id, kind=kind, **values))
        else:
            self.conn.execute(
                holder_images.update()
                .where(holder_images.c.registration_id == reg_id, holder_images.c.kind == kind)
                .values(**values)
            )
        if bump_version:
            self.conn.execute(
                update(registrations)
                .where(registrations.c.id == reg_id)
                .values(data_version=registrations.c.data_version + 1, updated_at=now)
            )
        return True

    # ---------------------------------------------------------------- reads
    def get(self, registration_no: str) -> Registration | None:
        has_sig = (
            exists()
            .where(holder_images.c.registration_id == registrations.c.id, holder_images.c.kind == "signature")
            .label("has_sig")
        )
        row = self.conn.execute(
            select(registrations, has_sig).where(registrations.c.registration_no == registration_no)
        ).one_or_none()
        if row is None:
            return None
        pending = (
            exists()
            .where(
                renewal_items.c.registration_id == specialty_registrations.c.registration_id,
                renewal_items.c.specialty == specialty_registrations.c.specialty,
                renewal_items.c.status == "pending",
            )
            .label("pending")
        )
        specs = self.conn.execute(
            select(specialty_registrations, pending)
            .where(specialty_registrations.c.registration_id == row.id)
            .order_by(specialty_registrations.c.id)
        ).all()
        return Registration(
            registration_no=row.registration_no,
            province_code=row.province_code,
            person=Person(name=row.name, gender=Gender(row.gender), birth_date=row.birth_date, id_number=row.id_number),
            employer=Employer(name=row.employer_name, uscc=row.employer_uscc),
            status=RegistrationStatus(row.status),
            specialties=tuple(
                sorted(
                    (
                        SpecialtyRegistration(
                            specialty=s.specialty,
                            valid_until=s.valid_until,
                            stored_state=SpecialtyState(s.state),
                            lapse_reason=LapseReason(s.lapse_reason) if s.lapse_reason else None,
                            pending_application=bool(s.pending),
                        )
                        for s in specs
                    ),
                    # The ministry's order of the ten specialties, the same on every database.
                    key=lambda s: SPECIALTY_ORDER.get(s.specialty, len(SPECIALTY_ORDER)),
                )
            ),
            has_signature=bool(row.has_sig),
            data_version=row.data_version,
            ce_hours=row.ce_hours,
        )

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
    def sweep(self, *, today: date, age_birth_cutoff: date, lapse_start: date) -> tuple[int, int, int]:
        """Lapse, set-based, exactly what rules.lapse.lapse_due says. Returns (age, no_renewal, checked).

        ``age_birth_cutoff``: holders born on or before it are past their 65th birthday today.
        """
        sr = specialty_registrations
        checked = self.conn.execute(select(func.count()).select_from(sr).where(sr.c.state == "valid")).scalar_one()
        too_old = select(registrations.c.id).where(registrations.c.birth_date <= age_birth_cutoff)
        aged = self.conn.execute(
            update(sr)
            .where(sr.c.state == "valid", sr.c.registration_id.in_(too_old))
            .values(state="lapsed", lapse_reason=LapseReason.AGE_LIMIT.value, lapse_recorded_on=today)
        ).rowcount
        ended = 0
        if today >= lapse_start:
            ra = renewal_items
            held = exists().where(
                and_(ra.c.registration_id == sr.c.registration_id, ra.c.specialty == sr.c.specialty),
                ra.c.status == "pending",
            )
            ended = self.conn.execute(
                update(sr)
                .where(sr.c.state == "valid", sr.c.valid_until < today, ~held)
                .values(state="lapsed", lapse_reason=LapseReason.NO_RENEWAL.value, lapse_recorded_on=today)
            ).rowcount
        return int(aged), int(ended), int(checked)
