"""A holder's history, read from the append-only audit log (R-ACC-1, issue item 7).

Every state change is an audit event with actor, time and — where the change has them — ``before``
and ``after``. An event belongs to a holder's history when:

- its subject is the registration number: issuance (``certificate.issue``), signature
  (``holder.set_signature``), renewal (``renewal.apply``, ``renewal.approved``/``rejected``),
  changes (``registration.change_employer``, ``registration.correct_personal``), ``registration.revoke``,
  ``registration.cancel`` and ``paper.request``;
- it is an employer rename (``employer.rename``, subject: the credit code) whose payload lists the
  registration number;
- it is a registry import (``registry.import``, subject: the file) that ran in the transaction which
  created the registration, or which wrote it last: imports are set-based and record no per-holder
  event, so they are linked by the instant (``created_at`` / ``updated_at`` of the row, which the import
  sets to its own time). An import that changed the holder but was not the last write is not found;
- it is a lapse sweep (``registry.sweep``): the sweep is set-based and, by design, writes no
  per-holder event. It is linked through the date it recorded on the holder's lapsed specialties
  (``lapse_recorded_on``); ``before``/``after`` are derived from that (valid → lapsed, with the
  reason). A later renewal clears that date, so an undone lapse no longer shows up; two sweeps on
  the same day that both lapsed something are both listed.

Each entry: ``{"at", "actor", "action", "subject", "before", "after", "payload", "matched_by"}``,
oldest first (audit order); ``at`` in China Standard Time (R-DATE-1); ``payload`` is the event's
payload without ``before``/``after``; ``matched_by`` says how the event was linked to the holder.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Row, select

from ecert.adapters.db.tables import audit_events, registrations, specialty_registrations
from ecert.adapters.db.unit_of_work import SqlUnitOfWork
from ecert.domain.dates import CST
from ecert.domain.holder import holder_view
from ecert.domain.model import LapseReason
from ecert.domain.policy import Policy
from ecert.services.registry import get_registration

RENAME = "employer.rename"
IMPORT = "registry.import"
SWEEP = "registry.sweep"
SWEEP_REASONS = (LapseReason.NO_RENEWAL.value, LapseReason.AGE_LIMIT.value)


def show_holder_with_history(
    uow: SqlUnitOfWork, registration_no: str, *, today: date, policy: Policy
) -> dict[str, Any]:
    """``holder show --history``: the contract view plus ``history``, read in one transaction."""
    with uow:
        reg = get_registration(uow, registration_no)
        view = holder_view(reg, today, policy)
        view["history"] = events_for(uow, reg.registration_no)
    return view


def _aware(moment: datetime, naive_zone: Any = UTC) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=naive_zone)


def _instants(moment: datetime | None, *, legacy_wall_time: bool) -> list[datetime]:
    """The instants a row's timestamp may stand for (UtcDateTime reads every one back in UTC). SQLite
    databases written before UtcDateTime have import timestamps stored as CST wall time without an
    offset, so there the wall time read as CST is a second candidate."""
    if moment is None:
        return []
    if not legacy_wall_time:
        return [moment]
    return [moment, moment.replace(tzinfo=CST).astimezone(UTC)]


def _entry(row: Row[Any], matched_by: str) -> dict[str, Any]:
    payload = json.loads(row.payload)
    before = payload.pop("before", None) if isinstance(payload, dict) else None
    after = payload.pop("after", None) if isinstance(payload, dict) else None
    return {
        "at": _aware(row.at).astimezone(CST).isoformat(),
        "actor": row.actor,
        "action": row.action,
        "subject": row.subject,
        "before": before,
        "after": after,
        "payload": payload,
        "matched_by": matched_by,
    }


def events_for(uow: SqlUnitOfWork, registration_no: str) -> list[dict[str, Any]]:
    """Inside an open unit of work: the history entries of an existing registration."""
    conn = uow.connection
    a = audit_events
    found: dict[int, dict[str, Any]] = {}

    for row in conn.execute(select(a).where(a.c.subject == registration_no)):
        found[row.id] = _entry(row, "subject")

    # Registration numbers are letters and digits only (ids.parse_registration_no), no LIKE wildcards.
    quoted = json.dumps(registration_no, ensure_ascii=False)
    for row in conn.execute(select(a).where(a.c.action == RENAME, a.c.payload.like(f"%{quoted}%"))):
        if registration_no in json.loads(row.payload).get("registration_nos", []):
            found.setdefault(row.id, _entry(row, "registration_nos"))

    reg = conn.execute(
        select(registrations.c.id, registrations.c.created_at, registrations.c.updated_at).where(
            registrations.c.registration_no == registration_no
        )
    ).one()
    for column, moment in (("created_at", reg.created_at), ("updated_at", reg.updated_at)):
        candidates = _instants(moment, legacy_wall_time=conn.dialect.name == "sqlite")
        if candidates:
            for row in conn.execute(select(a).where(a.c.action == IMPORT, a.c.at.in_(candidates))):
                found.setdefault(row.id, _entry(row, column))

    sr = specialty_registrations
    lapsed: dict[date, list[Row[Any]]] = {}
    for s in conn.execute(
        select(sr.c.specialty, sr.c.lapse_reason, sr.c.lapse_recorded_on).where(
            sr.c.registration_id == reg.id, sr.c.lapse_recorded_on.is_not(None), sr.c.lapse_reason.in_(SWEEP_REASONS)
        )
    ):
        lapsed.setdefault(s.lapse_recorded_on, []).append(s)
    for day, specs in lapsed.items():
        lo = datetime.combine(day, time(), CST).astimezone(UTC)
        hi = lo + timedelta(days=1)
        for row in conn.execute(select(a).where(a.c.action == SWEEP, a.c.at >= lo, a.c.at < hi)):
            entry = found.setdefault(row.id, _entry(row, "lapse_recorded_on"))
            entry["before"] = {**(entry["before"] or {}), **{s.specialty: {"state": "valid"} for s in specs}}
            entry["after"] = {
                **(entry["after"] or {}),
                **{s.specialty: {"state": "lapsed", "lapse_reason": s.lapse_reason} for s in specs},
            }

    return [found[k] for k in sorted(found)]
