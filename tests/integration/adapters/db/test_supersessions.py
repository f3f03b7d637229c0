"""Supersession is recorded (R-CHG-1): every change of printed data leaves one ``supersessions`` row —
from which version to which, when, why (a stable cause code) and by whom — written with the change,
on SQLite and PostgreSQL. And migration 0009, which adds the table, goes up and down on a registry
that has data, and ``ecert init`` applies it to an existing database."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, func, insert, inspect, select

from ecert.adapters.db.engine import alembic_config, make_engine, upgrade
from ecert.adapters.db.registry import SqlRegistry
from ecert.adapters.db.tables import registrations, supersessions
from ecert.adapters.synthetic_signature import signature_png
from ecert.domain.ids import make_id_number, make_registration_no, make_uscc
from ecert.domain.model import Gender, Supersession, SupersessionCause
from helpers_cli import COLUMNS as HEADER

TODAY = "2021-03-01"
USCC = make_uscc("330100", "MA0BC1D2E")


def holder_rows(serial: int, employer: str = "某某建设集团有限公司", valid_until: str = "2023-06-30") -> list[str]:
    birth = date(1980, 5, serial)
    reg_no = make_registration_no("浙", "33", 2010, 2012, serial)
    idn = make_id_number("330102", birth, serial, Gender.MALE)
    return [reg_no, "张伟", "男", birth.isoformat(), idn, employer, USCC, "建筑工程", valid_until]


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        w.writerows(rows)
    return path


def history(engine: Engine, reg_no: str) -> list[Supersession]:
    with engine.connect() as conn:
        return SqlRegistry(conn).supersessions(reg_no)


def version(engine: Engine, reg_no: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(registrations.c.data_version).where(registrations.c.registration_no == reg_no)
            ).scalar_one()
        )


def ok(res: Any) -> dict[str, Any]:
    assert res.exit_code == 0, res.stdout + res.stderr
    return res.json()  # type: ignore[no-any-return]


def test_every_change_of_printed_data_records_when_why_and_by_whom__R_CHG_1(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    a, b = holder_rows(1), holder_rows(2)
    ok(ecert("import", str(write(tmp_path / "one.csv", [a, b])), "--json", today=TODAY))
    no_a, no_b = a[0], b[0]
    assert history(engine, no_a) == []  # a new registration starts at version 1: nothing superseded

    # An import that changes a's printed data (not b's): one row, cause import, set-based.
    changed = [*a[:5], "另一建设有限公司", *a[6:]]
    ok(ecert("import", str(write(tmp_path / "two.csv", [changed, b])), "--json", today=TODAY))
    ok(ecert("change", "employer", no_a, "--name", "新公司", "--uscc", USCC, "--json", today=TODAY))
    ok(ecert("change", "personal", no_a, "--name", "张维", "--json", today=TODAY))
    ok(ecert("change", "employer-name", "--uscc", USCC, "--name", "更名后的公司", "--json", today=TODAY))
    sig = tmp_path / "sig.png"
    sig.write_bytes(signature_png("张维", 1))
    ok(ecert("holder", "set-signature", no_a, str(sig), "--json", today=TODAY))
    ok(
        ecert(
            "revoke",
            no_a,
            "--reason",
            "以欺骗手段取得",
            "--basis",
            "行政许可法第六十九条",
            "--effective",
            TODAY,
            "--json",
            today=TODAY,
        )
    )
    ok(ecert("cancel", no_b, "--reason", "本人申请", "--effective", TODAY, "--json", today=TODAY))

    rows = history(engine, no_a)
    assert [r.cause for r in rows] == [
        SupersessionCause.IMPORT,
        SupersessionCause.EMPLOYER_CHANGE,
        SupersessionCause.PERSONAL_CHANGE,
        SupersessionCause.EMPLOYER_RENAME,
        SupersessionCause.SIGNATURE,
        SupersessionCause.REVOCATION,
    ]
    # Consecutive versions, ending at the registration's current one: nothing bumped unrecorded.
    assert [(r.from_version, r.to_version) for r in rows] == [(v, v + 1) for v in range(1, 7)]
    assert version(engine, no_a) == 7
    assert {r.actor for r in rows} and all(r.actor for r in rows)
    # ECERT_TODAY pins the date (CST); the instant is stored in UTC.
    assert all(
        r.at.tzinfo is not None and r.at.astimezone(UTC).date() in (date(2021, 2, 28), date(2021, 3, 1)) for r in rows
    )
    rows_b = history(engine, no_b)
    assert [(r.cause, r.from_version, r.to_version) for r in rows_b] == [
        (SupersessionCause.EMPLOYER_RENAME, 1, 2),
        (SupersessionCause.CANCELLATION, 2, 3),
    ]
    assert version(engine, no_b) == 3


def test_a_change_that_changes_nothing_records_nothing__R_CHG_1(ecert: Any, engine: Engine, tmp_path: Path) -> None:
    a = holder_rows(1)
    path = write(tmp_path / "one.csv", [a])
    ok(ecert("import", str(path), "--json", today=TODAY))
    ok(ecert("import", str(path), "--json", today=TODAY))  # the same file again
    ok(ecert("change", "employer", a[0], "--name", a[5], "--uscc", USCC, "--json", today=TODAY))
    assert history(engine, a[0]) == []
    assert version(engine, a[0]) == 1


def test_a_refused_change_records_nothing__R_CHG_1(ecert: Any, engine: Engine, tmp_path: Path) -> None:
    a = holder_rows(1)
    ok(ecert("import", str(write(tmp_path / "one.csv", [a])), "--json", today=TODAY))
    ok(ecert("cancel", a[0], "--reason", "本人申请", "--effective", TODAY, "--json", today=TODAY))
    res = ecert("revoke", a[0], "--reason", "x", "--basis", "y", "--effective", TODAY, "--json", today=TODAY)
    assert res.exit_code == 1 and res.json()["error"]["code"] == "registration_inactive"
    assert [r.cause for r in history(engine, a[0])] == [SupersessionCause.CANCELLATION]


def _migrate(engine: Engine, target: str, *, down: bool = False) -> None:
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, target)


def test_migration_0009_goes_up_and_down_and_init_upgrades_an_existing_registry(ecert: Any, db_url: str) -> None:
    eng = make_engine(db_url)
    try:
        _migrate(eng, "0008")
        assert "supersessions" not in inspect(eng).get_table_names()
        now = datetime(2021, 3, 1, tzinfo=UTC)
        reg = dict(zip(HEADER[:7], holder_rows(1)[:7], strict=True))
        reg.update(province_code="33", birth_date=date(1980, 5, 1), data_version=4, created_at=now, updated_at=now)
        with eng.begin() as conn:
            conn.execute(insert(registrations).values(**reg))

        head = ScriptDirectory.from_config(alembic_config(eng)).get_current_head()  # 0009 or a later revision
        res = ok(ecert("init", "--json", today=TODAY))
        head = res["schema"]  # 0009, or a later revision on top of it (0012: the history by date)
        assert res["previous"] == "0008" and head >= "0009"
        assert upgrade(eng) == (head, head)  # init left the database at the newest revision
        assert version(eng, reg["registration_no"]) == 4  # data kept
        assert history(eng, reg["registration_no"]) == []  # versions before 0009 were not recorded

        # The first supersession after the upgrade starts from the version the registry had.
        res_change = ecert(
            "change", "employer", reg["registration_no"], "--name", "新公司", "--uscc", USCC, "--json", today=TODAY
        )
        ok(res_change)
        assert [(r.from_version, r.to_version) for r in history(eng, reg["registration_no"])] == [(4, 5)]

        _migrate(eng, "0008", down=True)
        assert "supersessions" not in inspect(eng).get_table_names()
        assert version(eng, reg["registration_no"]) == 5
        _migrate(eng, "head")
        with eng.connect() as conn:
            assert conn.execute(select(func.count()).select_from(supersessions)).scalar_one() == 0
    finally:
        eng.dispose()
