"""registration history

Create Date: 2026-12-20

``registration_versions`` and ``specialty_versions``: the employer and the specialties each data
version of a registration printed, recorded when the version ends (adapters/db/registry.py
``supersede``), so the registry can say what held on a past date (issue 13, domain/history.py).

Back-fill: the versions ended before this revision are rebuilt, newest first, from the registration
as it is now and the audit events that say what a change undid — ``registration.change_employer``
(its ``before`` employer and the ``data_version`` it made), ``employer.rename`` (its single former
name, matched by time and registration number) and ``renewal.approved`` (each specialty's former
validity end, matched by time) — for every supersession recorded since revision 0009. A version
whose change no event describes (a personal correction, a signature, a revocation, a re-sealing,
an import) is taken to have printed the same employer and specialties as the next one, which is
what the reader assumes of any version without a row.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from ecert.adapters.db.migrations.shared import primary_key

revision = "0012"
down_revision = "0009"

UNDONE = ("employer_change", "employer_rename", "renewal")


def upgrade() -> None:
    op.create_table(
        "registration_versions",
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("employer_name", sa.Text(), nullable=False),
        sa.Column("employer_uscc", sa.String(length=18), nullable=False),
        sa.Column("source", sa.String(length=8), server_default="live", nullable=False),
        primary_key("registration_versions", "registration_id", "version"),
    )
    op.create_table(
        "specialty_versions",
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("specialty", sa.String(length=16), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("lapse_recorded_on", sa.Date(), nullable=True),
        primary_key("specialty_versions", "registration_id", "version", "specialty"),
    )
    backfill(op.get_bind())


def _utc(at: Any) -> datetime:
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    assert isinstance(at, datetime)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def backfill(conn: sa.Connection) -> int:
    """Rebuild the rows of versions ended before this revision (module docstring); returns how many."""
    changes = conn.execute(
        sa.text(
            "SELECT s.registration_id, s.to_version, s.from_version, s.at, s.cause, r.registration_no, "
            "r.employer_name, r.employer_uscc FROM supersessions s JOIN registrations r ON r.id = s.registration_id "
            "WHERE s.registration_id IN (SELECT registration_id FROM supersessions WHERE cause IN "
            "('employer_change', 'employer_rename', 'renewal')) ORDER BY s.registration_id, s.to_version DESC"
        )
    ).all()
    if not changes:
        return 0
    events: dict[tuple[str, str], list[tuple[datetime, dict[str, Any]]]] = defaultdict(list)
    renames: list[tuple[datetime, dict[str, Any]]] = []
    for action, subject, at, payload in conn.execute(
        sa.text(
            "SELECT action, subject, at, payload FROM audit_events WHERE action IN "
            "('registration.change_employer', 'renewal.approved', 'employer.rename')"
        )
    ):
        data = json.loads(payload)
        if action == "employer.rename":
            renames.append((_utc(at), data))
        else:
            events[(action, subject)].append((_utc(at), data))
    ids = sorted({c.registration_id for c in changes})
    specs: dict[int, dict[str, tuple[date, str, date | None]]] = defaultdict(dict)
    for i in range(0, len(ids), 500):
        for row in conn.execute(
            sa.text(
                "SELECT registration_id, specialty, valid_until, state, lapse_recorded_on FROM specialty_registrations "
                "WHERE registration_id IN :ids"
            ).bindparams(sa.bindparam("ids", expanding=True)),
            {"ids": ids[i : i + 500]},
        ):
            specs[row.registration_id][row.specialty] = (_day(row.valid_until), row.state, _day(row.lapse_recorded_on))  # type: ignore[assignment]
    versions: list[dict[str, Any]] = []
    specialty_rows: list[dict[str, Any]] = []
    state: dict[int, tuple[str, str, dict[str, tuple[date, str, date | None]]]] = {}
    for c in changes:  # each registration's supersessions, newest first
        name, uscc, spec = state.get(c.registration_id, (c.employer_name, c.employer_uscc, specs[c.registration_id]))
        at, undone = _utc(c.at), False
        if c.cause == "employer_change":
            for _, data in events[("registration.change_employer", c.registration_no)]:
                if data.get("data_version") == c.to_version and isinstance(data.get("before"), dict):
                    name, uscc = data["before"].get("name", name), data["before"].get("uscc", uscc)
                    undone = True
        elif c.cause == "employer_rename":
            for when, data in renames:
                names = (data.get("before") or {}).get("names") or []
                if when == at and c.registration_no in data.get("registration_nos", []) and len(names) == 1:
                    name, undone = names[0], True
        elif c.cause == "renewal":
            for when, data in events[("renewal.approved", c.registration_no)]:
                if when == at and isinstance(data.get("before"), dict):
                    spec = dict(spec)
                    for s in data.get("after") or {}:
                        if s in data["before"] and s in spec:
                            spec[s] = (date.fromisoformat(data["before"][s]), "valid", None)
                    undone = True
        state[c.registration_id] = (name, uscc, spec)
        if undone:
            key = {"registration_id": c.registration_id, "version": c.from_version}
            versions.append({**key, "employer_name": name, "employer_uscc": uscc, "source": "backfill"})
            specialty_rows += [
                {**key, "specialty": s, "valid_until": v[0], "state": v[1], "lapse_recorded_on": v[2]}
                for s, v in spec.items()
            ]
    meta = sa.MetaData()
    rv = sa.Table("registration_versions", meta, autoload_with=conn)
    sv = sa.Table("specialty_versions", meta, autoload_with=conn)
    if versions:
        conn.execute(sa.insert(rv), versions)
    if specialty_rows:
        conn.execute(sa.insert(sv), specialty_rows)
    return len(versions)


def downgrade() -> None:
    op.drop_table("specialty_versions")
    op.drop_table("registration_versions")
