"""The verification log's digest, batch claims and buffer (R-ACC-1), without a server."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from ecert.adapters.db.audit import BatchClaim, VerificationRow, batch_digest, verification_line
from ecert.adapters.db.verification_log import VerificationLog

AT = datetime(2021, 3, 1, 2, 3, 4, 567890, tzinfo=UTC)
ROWS: list[VerificationRow] = [
    (1, AT, "qr", "ABCDEFGHJKMNPQRS", "浙1332010201200001", "valid", "b" * 32),
    (2, AT + timedelta(seconds=1), "pdf", None, None, "indeterminate", "b" * 32),
]


def test_the_digest_is_sha256_over_one_json_array_a_row__R_ACC_1() -> None:
    expected = hashlib.sha256(
        '[1,"2021-03-01T02:03:04.567890+00:00","qr","ABCDEFGHJKMNPQRS","浙1332010201200001","valid","bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"]\n'
        '[2,"2021-03-01T02:03:05.567890+00:00","pdf",null,null,"indeterminate","bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"]\n'.encode()
    ).hexdigest()
    assert batch_digest(ROWS) == expected
    assert batch_digest([]) == hashlib.sha256(b"").hexdigest()


def test_the_digest_is_the_same_instant_whatever_the_database_returns__R_ACC_1() -> None:
    naive = [(i, at.replace(tzinfo=None), *rest) for i, at, *rest in ROWS]  # SQLite: UTC without offset
    cst = [(i, at.astimezone(timezone(timedelta(hours=8))), *rest) for i, at, *rest in ROWS]  # PostgreSQL
    assert batch_digest(naive) == batch_digest(cst) == batch_digest(ROWS)  # type: ignore[arg-type]


@pytest.mark.parametrize("column", range(7))
def test_any_changed_column_changes_the_digest__R_ACC_1(column: int) -> None:
    row = list(ROWS[0])
    row[column] = AT + timedelta(microseconds=1) if column == 1 else (2 if column == 0 else "x")
    assert verification_line(tuple(row)) != verification_line(ROWS[0])  # type: ignore[arg-type]
    assert batch_digest([tuple(row), ROWS[1]]) != batch_digest(ROWS)  # type: ignore[list-item]


def test_a_removed_or_reordered_row_changes_the_digest__R_ACC_1() -> None:
    assert batch_digest(ROWS[:1]) != batch_digest(ROWS)
    assert batch_digest(ROWS[::-1]) != batch_digest(ROWS)


def test_a_claim_is_parsed_only_when_well_formed__R_ACC_1() -> None:
    good = {"count": 2, "first_id": 1, "last_id": 2, "sha256": "d"}
    assert BatchClaim.parse(9, good) == BatchClaim(9, 2, 1, 2, "d")
    assert BatchClaim.parse(9, {"count": 0, "first_id": None, "last_id": None, "sha256": "d"}) is not None
    for bad in (
        {**good, "count": 3},  # more rows than ids in the range
        {**good, "first_id": 3},  # first after last
        {**good, "count": -1},
        {**good, "first_id": "1"},
        {"count": 0, "first_id": 1, "last_id": None, "sha256": "d"},
        {"count": 2, "first_id": 1, "last_id": 2},
        [],
    ):
        assert BatchClaim.parse(9, bad) is None, bad


def _unreachable(tmp_path: Path) -> VerificationLog:
    engine = create_engine(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'x.db'}")  # cannot be opened
    drops: list[int] = []
    vlog = VerificationLog(engine, lambda: AT, capacity=3, on_drop=drops.append)
    vlog.drops = drops  # type: ignore[attr-defined]
    return vlog


def test_a_full_buffer_drops_and_counts_instead_of_blocking__log_buffer_relaxation(tmp_path: Path) -> None:
    vlog = _unreachable(tmp_path)
    for _ in range(5):
        vlog.record("qr", "S", "R", "valid")  # never raises, never touches the database
    assert vlog.pending == 3
    assert vlog.dropped_total == 2 and vlog.drops == [1, 1]  # type: ignore[attr-defined]


def test_a_database_that_cannot_be_reached_keeps_the_batch_for_the_next_try__R_ACC_1(tmp_path: Path) -> None:
    vlog = _unreachable(tmp_path)
    vlog.record("qr", "S", "R", "valid")
    vlog.record("api", "S", "R", "valid")
    with pytest.raises(OperationalError):
        vlog.flush()
    assert vlog.pending == 2 and vlog.dropped_total == 0
    for _ in range(3):
        vlog.record("qr", "S", "R", "valid")
    assert vlog.pending == 3 and vlog.dropped_total == 2  # the capacity still holds


def test_values_that_would_not_fit_their_columns_are_cut__R_ACC_1(tmp_path: Path) -> None:
    vlog = _unreachable(tmp_path)
    vlog.record("qr", "S\x00" * 20, "R" * 30, "valid")
    [item] = vlog._pending
    assert item.serial == "S" * 16 and item.registration_no == "R" * 20
