"""The lapse sweep ``ecert sweep --json`` (R-LAPSE-1, R-REN-3, R-DATE-2): what it lapses, when, what holds
it, that it is idempotent, and that it persists exactly what rules.lapse says."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, update

from ecert.adapters.db.tables import registrations, renewal_applications, renewal_items, specialty_registrations
from ecert.domain.ids import make_id_number, make_uscc
from ecert.domain.model import Gender, LapseReason, Registration, SpecialtyState
from ecert.domain.rules.lapse import lapse_due, specialty_state
from helpers_cli import add_pending_application, holder_no, import_rows

USCC = make_uscc("330100", "MA3CD4E5F")


def import_people(
    ecert: Any, tmp_path: Path, people: list[tuple[int, date, list[tuple[str, str]]]], today: str = "2021-01-01"
) -> None:
    """``people``: (serial, birth date, [(specialty, valid_until)])."""
    rows: list[list[str]] = []
    for serial, birth, specs in people:
        idn = make_id_number(f"3301{serial // 100 % 100:02d}", birth, serial % 100, Gender.MALE)
        rows += [[holder_no(serial), "张伟", "男", birth.isoformat(), idn, "某建设公司", USCC, *spec] for spec in specs]
    import_rows(ecert, tmp_path / "people.csv", rows, today=today)


def run_sweep(ecert: Any, today: str) -> dict[str, Any]:
    res = ecert("sweep", "--json", today=today)
    assert res.exit_code == 0, res.stdout + res.stderr
    out: dict[str, Any] = res.json()
    return out


def stored(engine: Engine) -> dict[tuple[str, str], tuple[str, str | None]]:
    """(registration_no, specialty) -> (stored state, lapse_reason)."""
    sr, r = specialty_registrations, registrations
    with engine.connect() as conn:
        rows = conn.execute(
            select(r.c.registration_no, sr.c.specialty, sr.c.state, sr.c.lapse_reason).join(
                r, r.c.id == sr.c.registration_id
            )
        )
        return {(row.registration_no, row.specialty): (row.state, row.lapse_reason) for row in rows}


def test_sweep_reports_lapsed_and_checked__contract_sweep(ecert: Any, engine: Engine, tmp_path: Path) -> None:
    import_people(
        ecert,
        tmp_path,
        [
            (1, date(1980, 1, 1), [("建筑工程", "2021-07-10"), ("公路工程", "2023-01-01")]),
            (2, date(1985, 3, 3), [("机电工程", "2021-05-05")]),
        ],
    )
    out = run_sweep(ecert, "2021-07-11")
    assert {"lapsed", "checked"} <= out.keys()
    assert (out["lapsed"], out["checked"]) == (2, 3)
    assert stored(engine) == {
        (holder_no(1), "建筑工程"): ("lapsed", "no_renewal"),
        (holder_no(1), "公路工程"): ("valid", None),
        (holder_no(2), "机电工程"): ("lapsed", "no_renewal"),
    }


def test_sweep_is_idempotent__R_LAPSE_1(ecert: Any, engine: Engine, tmp_path: Path) -> None:
    import_people(
        ecert,
        tmp_path,
        [(1, date(1980, 1, 1), [("建筑工程", "2021-07-10")]), (2, date(1956, 3, 1), [("公路工程", "2021-03-01")])],
    )
    first = run_sweep(ecert, "2021-08-01")
    after_first = stored(engine)
    second = run_sweep(ecert, "2021-08-01")
    assert first["lapsed"] == 2
    assert second["lapsed"] == 0
    assert stored(engine) == after_first
    assert run_sweep(ecert, "2021-09-01")["lapsed"] == 0


def test_nothing_ended_lapses_before_lapse_start_but_age_lapses_do__R_REN_3_R_LAPSE_1(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    # serial 1: ended 2021-03-31; serial 2: turns 65 on 2021-04-15 (validity capped at that day).
    import_people(
        ecert,
        tmp_path,
        [(1, date(1980, 1, 1), [("建筑工程", "2021-03-31")]), (2, date(1956, 4, 15), [("公路工程", "2021-04-15")])],
    )
    assert run_sweep(ecert, "2021-04-15")["lapsed"] == 0
    out = run_sweep(ecert, "2021-06-30")
    assert out["lapsed"] == 1
    assert stored(engine) == {
        (holder_no(1), "建筑工程"): ("valid", None),
        (holder_no(2), "公路工程"): ("lapsed", "age_limit"),
    }
    assert run_sweep(ecert, "2021-07-01")["lapsed"] == 1
    assert stored(engine)[(holder_no(1), "建筑工程")] == ("lapsed", "no_renewal")


def test_age_lapse_from_the_day_after_the_65th_birthday__R_LAPSE_1_R_DATE_2(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    # A specialty still valid for years: only the age limit can lapse it.
    import_people(
        ecert,
        tmp_path,
        [(1, date(1957, 9, 10), [("建筑工程", "2024-01-01")]), (2, date(1960, 2, 29), [("公路工程", "2026-01-01")])],
    )
    assert run_sweep(ecert, "2022-09-10")["lapsed"] == 0  # the 65th birthday itself
    assert run_sweep(ecert, "2022-09-11")["lapsed"] == 1
    assert stored(engine)[(holder_no(1), "建筑工程")] == ("lapsed", "age_limit")
    # Born 29 Feb 1960: 65 on 28 Feb 2025 (R-DATE-2), lapsed from 1 March.
    assert run_sweep(ecert, "2025-02-28")["lapsed"] == 0
    assert run_sweep(ecert, "2025-03-01")["lapsed"] == 1
    assert stored(engine)[(holder_no(2), "公路工程")] == ("lapsed", "age_limit")


def test_pending_renewal_application_holds_the_lapse__R_REN_3(ecert: Any, engine: Engine, tmp_path: Path) -> None:
    import_people(ecert, tmp_path, [(1, date(1980, 1, 1), [("建筑工程", "2021-07-10"), ("公路工程", "2021-07-10")])])
    app_id = add_pending_application(engine, holder_no(1), "建筑工程", date(2021, 7, 1))
    assert run_sweep(ecert, "2021-08-01")["lapsed"] == 1
    assert stored(engine) == {
        (holder_no(1), "建筑工程"): ("valid", None),
        (holder_no(1), "公路工程"): ("lapsed", "no_renewal"),
    }
    # Rejected: nothing holds it any more, the next sweep lapses it.
    with engine.begin() as conn:
        conn.execute(update(renewal_applications).where(renewal_applications.c.id == app_id).values(status="rejected"))
        conn.execute(update(renewal_items).where(renewal_items.c.application_id == app_id).values(status="rejected"))
    assert run_sweep(ecert, "2021-08-02")["lapsed"] == 1
    assert stored(engine)[(holder_no(1), "建筑工程")][0] == "lapsed"


def test_pending_application_does_not_hold_an_age_lapse__R_LAPSE_1(ecert: Any, engine: Engine, tmp_path: Path) -> None:
    import_people(ecert, tmp_path, [(1, date(1956, 7, 20), [("建筑工程", "2021-07-20")])])
    add_pending_application(engine, holder_no(1), "建筑工程", date(2021, 7, 1))
    assert run_sweep(ecert, "2021-07-21")["lapsed"] == 1
    assert stored(engine)[(holder_no(1), "建筑工程")] == ("lapsed", "age_limit")


# ---------------------------------------------------------------------------------------------- equivalence


def _all(app: Any) -> dict[str, Registration]:
    """Every registration, read through the repository."""
    regs: dict[str, Registration] = {}
    with app.uow() as uow:
        for n in uow.registry.sample_numbers(1_000_000):
            reg = uow.registry.get(n)
            assert reg is not None
            regs[n] = reg
    return regs


def _lapsed(regs: dict[str, Registration]) -> dict[tuple[str, str], LapseReason | None]:
    return {
        (n, s.specialty): s.lapse_reason
        for n, r in regs.items()
        for s in r.specialties
        if s.stored_state is SpecialtyState.LAPSED
    }


def test_sweep_persists_exactly_what_the_lapse_rule_says__R_LAPSE_1_R_REN_3(
    ecert: Any, make_app: Any, engine: Engine
) -> None:
    demo = ecert("demo", "--holders", "300", "--json", today="2021-03-01")
    assert demo.exit_code == 0, demo.stdout
    app = make_app(date(2021, 3, 1))
    regs = _all(app)
    assert len(regs) == 300
    # Hold a few ended specialties with pending applications.
    held = 0
    for n, r in regs.items():
        for s in r.specialties:
            if date(2021, 3, 1) <= s.valid_until < date(2021, 9, 1) and held < 8 and s.valid_until.day % 2:
                add_pending_application(engine, n, s.specialty, date(2021, 3, 1))
                held += 1
    assert held > 0
    seen_reasons: set[LapseReason] = set()
    after = _all(app)
    for day in (date(2021, 3, 1), date(2021, 6, 30), date(2021, 7, 1), date(2021, 11, 20), date(2022, 8, 8)):
        before = after
        due = {
            (n, s.specialty): reason
            for n, r in before.items()
            for s in r.specialties
            if (reason := lapse_due(s, r.person.birth_date, day, app.policy)) is not None
        }
        derived = {
            (n, s.specialty): specialty_state(s, r.person.birth_date, day, app.policy)
            for n, r in before.items()
            for s in r.specialties
        }
        out = run_sweep(ecert, day.isoformat())
        after = _all(app)
        assert out["lapsed"] == len(due), day
        assert out["checked"] == sum(
            1 for r in before.values() for s in r.specialties if s.stored_state is SpecialtyState.VALID
        )
        assert _lapsed(after) == {**_lapsed(before), **due}, day
        # The derived state a holder sees does not change because the sweep ran (R-LAPSE-1).
        assert {
            (n, s.specialty): specialty_state(s, r.person.birth_date, day, app.policy)
            for n, r in after.items()
            for s in r.specialties
        } == derived, day
        # And nothing more is due after it.
        assert not [
            1 for r in after.values() for s in r.specialties if lapse_due(s, r.person.birth_date, day, app.policy)
        ]
        seen_reasons |= set(due.values())
        if day < app.policy.lapse_start:
            assert LapseReason.NO_RENEWAL not in due.values()
    assert seen_reasons == {LapseReason.AGE_LIMIT, LapseReason.NO_RENEWAL}
    # The pending applications held their specialties through every sweep.
    final = after
    with engine.connect() as conn:
        pending = conn.execute(
            select(registrations.c.registration_no, renewal_items.c.specialty).join(
                registrations, registrations.c.id == renewal_items.c.registration_id
            )
        ).all()
    still_held = 0
    for n, specialty in pending:
        spec = final[n].specialty(specialty)
        assert spec is not None
        still_held += spec.stored_state is SpecialtyState.VALID
        # Only the age limit, which no application holds, can have lapsed them.
        assert spec.stored_state is SpecialtyState.VALID or spec.lapse_reason is LapseReason.AGE_LIMIT, (n, specialty)
    assert still_held > 0
