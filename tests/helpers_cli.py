"""Helpers for the CLI tests of changes (tests/integration/services/test_changes.py and the CLI
vocabulary test): import one holder through ``ecert import``, issue, verify, read rows back."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from ecert.adapters.db.tables import audit_events, registrations
from ecert.adapters.synthetic_signature import signature_png
from ecert.domain.ids import make_id_number, make_registration_no, make_uscc
from ecert.domain.model import Gender
from ecert.domain.provinces import code_of_abbreviation

TODAY = "2021-03-01"
HEADER = [
    "registration_no", "name", "gender", "birth_date", "id_number", "employer_name", "employer_uscc",
    "specialty", "valid_until", "signature_image",
]  # fmt: skip
USCC_A = make_uscc("330100", "MA0BC1D2E")
USCC_B = make_uscc("330100", "123456789")
_ID = make_id_number("330102", date(1980, 5, 17), 1, Gender.MALE)  # import_holder's default holder
ID_BAD_CHECK = _ID[:-1] + ("0" if _ID[-1] != "0" else "1")
UNKNOWN_NO = make_registration_no("浙", "33", 2010, 2012, 99999)


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
    code = code_of_abbreviation(abbr)
    assert code is not None
    reg_no = make_registration_no(abbr, code, 2010, 2012, serial)
    idn = make_id_number(f"{code}0102", birth, serial % 100, gender)
    sig = tmp_path / f"sig-{serial}.png"
    sig.write_bytes(signature_png(name, serial))
    path = tmp_path / f"holder-{serial}.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for specialty, valid_until in specialties:
            w.writerow(
                [reg_no, name, gender.value, birth.isoformat(), idn, *employer, specialty, valid_until, sig.name]
            )
    res = ecert("import", str(path), "--json", today=today)
    assert res.exit_code == 0, res.stdout + res.stderr
    return reg_no


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


def verify(ecert: Any, pdf: Path, today: str = TODAY, lang: str | None = None) -> dict[str, Any]:
    res = ecert("verify", str(pdf), "--json", today=today, lang=lang)
    assert res.exit_code == 0, res.stdout + res.stderr
    return res.json()  # type: ignore[no-any-return]


def refused(res: Any, code: str, exit_code: int = 1) -> dict[str, Any]:
    assert res.exit_code == exit_code, res.stdout + res.stderr
    err: dict[str, Any] = res.json()["error"]
    assert err["code"] == code, err
    return err
