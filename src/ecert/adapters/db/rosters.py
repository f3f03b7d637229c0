"""Roster report runs (services/roster.py): created when an employer asks, advanced by the job that
answers (``done`` for the progress page), finished with the three report files or failed with the
refusal. Read back only for the account that asked (R-ACC-1: the caller passes its username)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from ecert.adapters.db.tables import roster_runs


@dataclass(frozen=True)
class RosterRun:
    id: str
    username: str
    employer_uscc: str
    on_date: date | None
    status: str  # queued | running | done | failed
    total: int
    done: int
    input_name: str
    counts: dict[str, Any] | None
    error: dict[str, Any] | None
    created_at: datetime
    finished_at: datetime | None


_SUMMARY = [c for c in roster_runs.c if c.name not in ("input_data", "report_json", "report_pdf", "report_csv")]
REPORT_COLUMNS = {"json": roster_runs.c.report_json, "pdf": roster_runs.c.report_pdf, "csv": roster_runs.c.report_csv}


def _run(row: Any) -> RosterRun:
    return RosterRun(
        row.id, row.username, row.employer_uscc, row.on_date, row.status, row.total, row.done, row.input_name,
        json.loads(row.counts) if row.counts else None, json.loads(row.error) if row.error else None,
        row.created_at, row.finished_at,
    )  # fmt: skip


class SqlRosterRuns:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(
        self,
        run_id: str,
        *,
        username: str,
        uscc: str,
        on: date | None,
        name: str,
        data: bytes,
        total: int,
        now: datetime,
    ) -> None:
        self.conn.execute(
            insert(roster_runs).values(
                id=run_id, username=username, employer_uscc=uscc, on_date=on, status="queued", total=total, done=0,
                input_name=name, input_data=data, created_at=now.astimezone(UTC),
            )
        )  # fmt: skip

    def get(self, run_id: str) -> RosterRun | None:
        row = self.conn.execute(select(*_SUMMARY).where(roster_runs.c.id == run_id)).one_or_none()
        return None if row is None else _run(row)

    def of_user(self, username: str, limit: int = 20) -> list[RosterRun]:
        rows = self.conn.execute(
            select(*_SUMMARY)
            .where(roster_runs.c.username == username)
            .order_by(roster_runs.c.created_at.desc())
            .limit(limit)
        )
        return [_run(r) for r in rows]

    def input_data(self, run_id: str) -> bytes | None:
        data = self.conn.execute(
            select(roster_runs.c.input_data).where(roster_runs.c.id == run_id)
        ).scalar_one_or_none()
        return None if data is None else bytes(data)

    def report(self, run_id: str, kind: str) -> bytes | None:
        data = self.conn.execute(select(REPORT_COLUMNS[kind]).where(roster_runs.c.id == run_id)).scalar_one_or_none()
        return None if data is None else bytes(data)

    def progress(self, run_id: str, done: int, total: int) -> None:
        self.conn.execute(
            update(roster_runs).where(roster_runs.c.id == run_id).values(status="running", done=done, total=total)
        )

    def finish(self, run_id: str, *, counts: dict[str, Any], files: dict[str, bytes], now: datetime) -> None:
        self.conn.execute(
            update(roster_runs)
            .where(roster_runs.c.id == run_id)
            .values(
                status="done", done=counts["rows"], total=counts["rows"], counts=json.dumps(counts, ensure_ascii=False),
                report_json=files["json"], report_pdf=files["pdf"], report_csv=files["csv"], input_data=None,
                finished_at=now.astimezone(UTC),
            )
        )  # fmt: skip

    def fail(self, run_id: str, *, error: dict[str, Any], now: datetime) -> None:
        self.conn.execute(
            update(roster_runs)
            .where(roster_runs.c.id == run_id)
            .values(status="failed", error=json.dumps(error, ensure_ascii=False), input_data=None,
                    finished_at=now.astimezone(UTC))
        )  # fmt: skip
