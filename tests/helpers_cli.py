"""Helpers for the CLI tests of changes (tests/integration/services/test_changes.py and the CLI
vocabulary test): import one holder through ``ecert import``, issue, verify, read rows back."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select

from ecert.adapters.db.tables import (
    audit_events,
    registrations,
    renewal_applications,
    renewal_items,
    specialty_registrations,
)
from ecert.adapters.synthetic_signature import signature_png
from ecert.domain.dates import CST
from ecert.domain.ids import make_id_number, make_registration_no, make_uscc
from ecert.domain.model import Gender
from ecert.domain.provinces import code_of_abbreviation

TODAY = "2021-03-01"
# The import's required columns in their order (docs/cli.md), and with a signature image.
COLUMNS = ["registration_no", "name", "gender", "birth_date", "id_number", "employer_name", "employer_uscc",
           "specialty", "valid_until"]  # fmt: skip
HEADER = [*COLUMNS, "signature_image"]
USCC_A = make_uscc("330100", "MA0BC1D2E")
USCC_B = make_uscc("330100", "123456789")
_ID = make_id_number("330102", date(1980, 5, 17), 1, Gender.MALE)  # import_holder's default holder
ID_BAD_CHECK = _ID[:-1] + ("0" if _ID[-1] != "0" else "1")
UNKNOWN_NO = make_registration_no("浙", "33", 2010, 2012, 99999)


def holder_no(serial: int, abbr: str = "浙") -> str:
    """The registration number of test holder ``serial`` of province ``abbr`` (qualified 2010, registered 2012)."""
    code = code_of_abbreviation(abbr)
    assert code is not None
    return make_registration_no(abbr, code, 2010, 2012, serial)


def write_csv(path: Path, rows: Iterable[Sequence[object]], header: Sequence[str] = COLUMNS) -> Path:
    """``rows`` under ``header`` in a UTF-8 CSV file at ``path``."""
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def import_rows(
    ecert: Any, path: Path, rows: Iterable[Sequence[object]], *, header: Sequence[str] = COLUMNS, today: str
) -> dict[str, Any]:
    """Imports ``rows`` through ``ecert import``, written to ``path`` under ``header``; returns its JSON."""
    res = ecert("import", str(write_csv(path, rows, header)), "--json", today=today)
    assert res.exit_code == 0, res.stdout + res.stderr
    return res.json()  # type: ignore[no-any-return]


def import_holder(
    ecert: Any,
    tmp_path: Path,
    *,
    abbr: str = "浙",
    serial: int = 1,
    name: str = "张伟",
    birth: date = date(1980, 5, 17),
    gender: Gender = Gender.MALE,
    employer: tuple[str, str] = ("某某建设集团有限公司", USCC_A),
    specialties: tuple[tuple[str, str], ...] = (("建筑工程", "2023-06-30"),),
    today: str = TODAY,
) -> str:
    """One holder with a signature image, imported through ``ecert import``; returns the number.
    ``ecert init`` first: it creates the demo seal keys that issuance needs."""
    assert ecert("init", "--json", today=today).exit_code == 0
    reg_no = holder_no(serial, abbr)
    idn = make_id_number(f"{reg_no[2:4]}0102", birth, serial % 100, gender)  # born where first employed
    sig = tmp_path / f"sig-{serial}.png"
    sig.write_bytes(signature_png(name, serial))
    rows = [
        [reg_no, name, gender.value, birth.isoformat(), idn, *employer, specialty, valid_until, sig.name]
        for specialty, valid_until in specialties
    ]
    import_rows(ecert, tmp_path / f"holder-{serial}.csv", rows, header=HEADER, today=today)
    return reg_no


def add_pending_application(engine: Engine, reg_no: str, specialty: str, applied_on: date) -> int:
    """A pending application written straight into the tables (the renewal service has its own tests)."""
    with engine.begin() as conn:
        reg_id = conn.execute(select(registrations.c.id).where(registrations.c.registration_no == reg_no)).scalar_one()
        until = conn.execute(
            select(specialty_registrations.c.valid_until).where(
                specialty_registrations.c.registration_id == reg_id, specialty_registrations.c.specialty == specialty
            )
        ).scalar_one()
        app_id: int = conn.execute(
            insert(renewal_applications)
            .values(
                registration_id=reg_id,
                applied_on=applied_on,
                status="pending",
                committed=True,
                ce_hours=120,
                created_at=datetime(applied_on.year, applied_on.month, applied_on.day, 10, 0, tzinfo=CST),
            )
            .returning(renewal_applications.c.id)
        ).scalar_one()
        conn.execute(
            insert(renewal_items).values(
                application_id=app_id,
                registration_id=reg_id,
                specialty=specialty,
                status="pending",
                previous_valid_until=until,
            )
        )
    return app_id


def row(engine: Engine, reg_no: str) -> dict[str, Any]:
    with engine.connect() as conn:
        r = conn.execute(select(registrations).where(registrations.c.registration_no == reg_no)).one()
    return dict(r._mapping)


def audit_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_events)).scalar_one())


def audit_events_of(engine: Engine, action: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(audit_events).where(audit_events.c.action == action).order_by(audit_events.c.id))
        return [{"subject": r.subject, "actor": r.actor, "payload": json.loads(r.payload)} for r in rows]


def snapshot(engine: Engine, *reg_nos: str) -> tuple[list[dict[str, Any]], int]:
    return [row(engine, n) for n in reg_nos], audit_count(engine)


def issue(ecert: Any, reg_no: str, out: Path, today: str = TODAY) -> dict[str, Any]:
    res = ecert("cert", "issue", reg_no, "--confirm", "--out", str(out), "--json", today=today)
    assert res.exit_code == 0, res.stdout + res.stderr
    return res.json()  # type: ignore[no-any-return]


def issued_holder(ecert: Any, tmp_path: Path) -> tuple[str, Path]:
    """:func:`import_holder`'s default holder with a certificate issued to ``c.pdf``: (number, file)."""
    no = import_holder(ecert, tmp_path)
    out = tmp_path / "c.pdf"
    issue(ecert, no, out)
    return no, out


def verify(ecert: Any, pdf: Path, today: str = TODAY, lang: str | None = None) -> dict[str, Any]:
    res = ecert("verify", str(pdf), "--json", today=today, lang=lang)
    assert res.exit_code == 0, res.stdout + res.stderr
    return res.json()  # type: ignore[no-any-return]


def refused(res: Any, code: str, exit_code: int = 1) -> dict[str, Any]:
    assert res.exit_code == exit_code, res.stdout + res.stderr
    err: dict[str, Any] = res.json()["error"]
    assert err["code"] == code, err
    return err
