"""Instants are stored in UTC and read back aware (R-DATE-1): ``adapters.db.tables.UtcDateTime``.

Before it, SQLite stored an aware value's own wall time without its offset, so an instant written in
CST (the import) and one written in UTC (everything else) read back 8 hours apart."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select
from sqlalchemy.exc import StatementError

from ecert.adapters.db.tables import UtcDateTime
from ecert.domain.dates import CST, cst_date, in_cst


@pytest.fixture
def table() -> tuple[object, Table]:
    md = MetaData()
    t = Table("t", md, Column("id", Integer, primary_key=True), Column("at", UtcDateTime()))
    eng = create_engine("sqlite://")
    md.create_all(eng)
    return eng, t


def test_a_cst_instant_reads_back_as_the_same_instant_in_utc__R_DATE_1(table: tuple[object, Table]) -> None:
    eng, t = table
    early = datetime(2021, 9, 1, 0, 30, tzinfo=CST)  # 2021-08-31 16:30 UTC
    with eng.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(insert(t).values(id=1, at=early))
        conn.execute(insert(t).values(id=2, at=early.astimezone(UTC)))
        got = [r.at for r in conn.execute(select(t.c.at).order_by(t.c.id))]
    assert got == [early, early]
    assert all(g.tzinfo is UTC for g in got)
    assert got[0].date().isoformat() == "2021-08-31"  # its UTC form is the day before …
    assert cst_date(got[0]).isoformat() == "2021-09-01"  # … its date is the CST one
    assert in_cst(got[0]).isoformat() == "2021-09-01T00:30:00+08:00"


def test_a_naive_datetime_is_refused(table: tuple[object, Table]) -> None:
    eng, t = table
    with pytest.raises(StatementError, match="naive datetime"), eng.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(insert(t).values(id=1, at=datetime(2021, 9, 1, 0, 30)))


def test_in_cst_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="naive"):
        in_cst(datetime(2021, 9, 1))
