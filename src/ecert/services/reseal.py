"""Re-sealing after a seal-key rotation (R-DOC-2, R-CHG-1): every current certificate sealed with
another key than today's is replaced by a new one, issued through :func:`services.issuance.issue`
(the same rules, window, seal, record and audit event as a single download).

Two steps, each safe to repeat and to interrupt at any point:

1. **Plan** (:func:`plan_reseal`, one transaction). Registrations whose current certificates — not
   superseded, registration active, usage window not over — carry an old ``seal_key_id`` are listed
   in ``reseal_pending`` and their ``data_version`` is bumped, which supersedes those certificates at
   once (R-CHG-1: verification says ``superseded``). A rerun finds nothing new: the old certificates
   are no longer current.
2. **Drain** (:func:`reseal`). For each listed registration: if a current certificate under the new
   key exists already (a previous run issued it and died before crossing it off, or the holder
   downloaded one meanwhile), nothing is issued; otherwise ``issue`` makes one. Then the row goes.
   So a kill anywhere leaves either the row (the next run finishes it) or the new certificate (the
   next run sees it): one new certificate per registration, none lost.

On PostgreSQL each row is claimed ``FOR UPDATE SKIP LOCKED`` for as long as its certificate is being
issued, so concurrent runs (two workers, a job retried while a stalled worker still runs) share
the work instead of doubling it. SQLite has one writer and no row locks; there jobs run in-process,
one at a time (adapters/queue.py).

The new certificate's usage window starts on the day of re-sealing and is confirmed by ``actor``
(the authority), as in ``cert batch``; its PDF is written to ``out_dir/<registration_no>.pdf``.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, DateTime, String, delete, exists, func, insert, literal, select

from ecert.adapters.db.registry import supersede
from ecert.adapters.db.tables import certificates, registrations, reseal_pending
from ecert.domain.errors import EcertError
from ecert.domain.model import SupersessionCause
from ecert.domain.policy import Policy
from ecert.services import issuance
from ecert.services.ports import DocumentServices
from ecert.services.unit_of_work import SqlUnitOfWork

c, r, p = certificates, registrations, reseal_pending

ResealProgress = Callable[[int, int], None]  # (done, total)


def _current_under_key(conn: Connection, registration_id: int, data_version: int, key_id: str) -> str | None:
    """Serial of a current certificate of the registration sealed with ``key_id``, if there is one."""
    return conn.execute(
        select(c.c.serial)
        .where(c.c.registration_id == registration_id, c.c.data_version == data_version, c.c.seal_key_id == key_id)
        .limit(1)
    ).scalar_one_or_none()


def plan_reseal(
    uow: SqlUnitOfWork,
    *,
    key_id: str,
    today: date,
    now: datetime,
    actor: str,
    before_commit: Callable[[Connection], None] | None = None,
) -> int:
    """List the registrations to re-seal and supersede their certificates (step 1); returns how many
    were newly listed. Set-based: two statements whatever the registry's size.

    ``before_commit`` runs on the same connection just before the commit — the job queue uses it to
    enqueue the drain in the same transaction (adapters/queue.py), so the supersession and the job
    that replaces the certificates exist together or not at all.
    """
    plan_id = uuid.uuid4().hex
    at = now.astimezone(UTC)
    with uow:
        conn = uow.connection
        listed = select(p.c.registration_id).where(p.c.registration_id == c.c.registration_id)
        candidates = (
            select(
                c.c.registration_id,
                func.min(c.c.seal_key_id),
                literal(plan_id, String(32)),
                literal(at, DateTime(timezone=True)),
            )
            .join(r, r.c.id == c.c.registration_id)
            .where(
                c.c.seal_key_id != key_id,
                c.c.data_version == r.c.data_version,  # current (R-CHG-1)
                r.c.status == "active",  # a revoked or cancelled registration gets nothing new
                c.c.usage_until >= today,  # over its window it is invalid anyway (R-USE-3)
                ~exists(listed),
            )
            .group_by(c.c.registration_id)
        )
        conn.execute(insert(p).from_select(["registration_id", "from_key_id", "plan_id", "planned_at"], candidates))
        planned = select(p.c.registration_id).where(p.c.plan_id == plan_id)
        n = supersede(conn, r.c.id.in_(planned), cause=SupersessionCause.RESEAL, at=at, actor=actor, id_set=True).count
        if n:
            uow.audit.append(
                at=now,
                actor=actor,
                action="certificate.reseal_planned",
                subject=None,
                payload={"plan_id": plan_id, "registrations": n, "to_key_id": key_id},
            )
        if before_commit is not None:
            before_commit(conn)
        uow.commit()
    return int(n)


@dataclass
class ResealResult:
    key_id: str
    planned: int = 0  # registrations newly listed by this run's plan step
    resealed: int = 0  # new certificates issued by this run
    already_done: int = 0  # listed, but a current certificate under the new key existed already
    refused: dict[str, int] = field(default_factory=dict)  # code -> count (the rules refuse it today)
    out_dir: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "planned": self.planned,
            "resealed": self.resealed,
            "already_done": self.already_done,
            "refused": self.refused,
            "out_dir": self.out_dir,
        }


def pending_count(uow: SqlUnitOfWork) -> int:
    with uow:
        return int(uow.connection.execute(select(func.count()).select_from(p)).scalar_one())


def _settle_files(out: Path, serial: str | None) -> None:
    """``issue`` writes ``.<name>.<serial>.tmp`` before its commit and renames it after: a kill between
    the two leaves the committed certificate's PDF under its temporary name — finish the rename. A
    kill before the commit leaves a PDF no record vouches for — remove it."""
    for tmp in out.parent.glob(f".{out.name}.*.tmp"):
        if serial is not None and tmp.name == f".{out.name}.{serial}.tmp":
            os.replace(tmp, out)
        else:
            with contextlib.suppress(OSError):
                tmp.unlink()


def reseal(
    uow_factory: Callable[[], SqlUnitOfWork],
    *,
    docs: DocumentServices,
    policy: Policy,
    today: date,
    now: Callable[[], datetime],
    actor: str,
    out_dir: Path,
    progress: ResealProgress | None = None,
) -> ResealResult:
    """Plan (step 1), then drain the worklist (step 2). Safe to rerun and to run concurrently."""
    key_id = docs.sealer.key_id
    out_dir.mkdir(parents=True, exist_ok=True)
    result = ResealResult(key_id=key_id, out_dir=str(out_dir))
    result.planned = plan_reseal(uow_factory(), key_id=key_id, today=today, now=now(), actor=actor)
    total = pending_count(uow_factory())
    done = 0
    while True:
        claim = uow_factory()
        with claim:
            conn = claim.connection
            # PostgreSQL: the row stays locked until this transaction ends, i.e. while its
            # certificate is issued; SQLite renders no FOR UPDATE (one writer, one runner).
            row = conn.execute(
                select(p.c.registration_id, r.c.registration_no, r.c.data_version)
                .join(r, r.c.id == p.c.registration_id)
                .order_by(p.c.registration_id)
                .limit(1)
                .with_for_update(of=p, skip_locked=True)
            ).one_or_none()
            if row is None:
                break
            out = out_dir / f"{row.registration_no}.pdf"
            serial = _current_under_key(conn, row.registration_id, row.data_version, key_id)
            if conn.dialect.name != "postgresql":
                claim.rollback()  # SQLite: a read transaction kept open would block issue's write
            if serial is not None:
                result.already_done += 1
            else:
                try:
                    issued = issuance.issue(
                        uow_factory(), row.registration_no, confirm=True, actor=actor, today=today, now=now(),
                        policy=policy, docs=docs, out=out,
                    )  # fmt: skip
                    serial = issued.serial
                    result.resealed += 1
                except EcertError as exc:  # the rules refuse it today (R-USE-4): nothing to issue
                    result.refused[exc.code] = result.refused.get(exc.code, 0) + 1
            _settle_files(out, serial)
            conn.execute(delete(p).where(p.c.registration_id == row.registration_id))
            claim.commit()
        done += 1
        if progress is not None:
            progress(done, max(total, done))
    return result
