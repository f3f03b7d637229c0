"""Re-sealing after a seal-key rotation (R-DOC-2, R-CHG-1): every current certificate sealed with
another key than today's is replaced by a new one, issued through :func:`services.issuance.issue`
(the same rules, window, seal, record and audit event as a single download).

Two steps, each safe to repeat and to interrupt at any point:

1. **Plan** (:func:`plan_reseal`, one transaction). Registrations whose current certificates — not
   superseded, registration active, usage window not over — carry an old ``seal_key_id`` are listed
   in ``reseal_pending`` and superseded (cause ``reseal``): verification says ``superseded`` for
   those certificates at once. A rerun finds nothing new: the old certificates are no longer current.
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
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

from ecert.domain.errors import EcertError
from ecert.domain.policy import Policy
from ecert.services import issuance
from ecert.services.ports import DocumentServices
from ecert.services.unit_of_work import AbstractUnitOfWork

ResealProgress = Callable[[int, int], None]  # (done, total)


U = TypeVar("U", bound=AbstractUnitOfWork)


def plan_reseal(
    uow: U,
    *,
    key_id: str,
    today: date,
    now: datetime,
    actor: str,
    before_commit: Callable[[U], None] | None = None,
) -> int:
    """List the registrations to re-seal and supersede their certificates (step 1); returns how many
    were newly listed. Set-based: a few statements whatever the registry's size.

    ``before_commit`` runs with the unit of work just before the commit — the job queue uses it to
    enqueue the drain in the same transaction (adapters/queue.py), so the supersession and the job
    that replaces the certificates exist together or not at all.
    """
    plan_id = uuid.uuid4().hex
    with uow:
        n = uow.reseal.plan(plan_id, key_id=key_id, today=today, at=now, actor=actor)
        if n:
            payload = {"plan_id": plan_id, "registrations": n, "to_key_id": key_id}
            uow.audit.append(at=now, actor=actor, action="certificate.reseal_planned", subject=None, payload=payload)
        if before_commit is not None:
            before_commit(uow)
        uow.commit()
    return n


@dataclass
class ResealResult:
    key_id: str
    planned: int = 0  # registrations newly listed by this run's plan step
    resealed: int = 0  # new certificates issued by this run
    already_done: int = 0  # listed, but a current certificate under the new key existed already
    refused: dict[str, int] = field(default_factory=dict)  # code -> count (the rules refuse it today)
    out_dir: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def pending_count(uow: AbstractUnitOfWork) -> int:
    with uow:
        return uow.reseal.pending_count()


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
    uow_factory: Callable[[], AbstractUnitOfWork],
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
            # PostgreSQL: the row stays locked until this transaction ends, i.e. while its
            # certificate is issued.
            item = claim.reseal.claim_next()
            if item is None:
                break
            out = out_dir / f"{item.registration_no}.pdf"
            serial = claim.certificates.current_under_key(item.registration_no, item.data_version, key_id)
            if not claim.reseal.holds_claims:
                claim.rollback()  # SQLite: a read transaction kept open would block issue's write
            if serial is not None:
                result.already_done += 1
            else:
                try:
                    issued = issuance.issue(
                        uow_factory(), item.registration_no, confirm=True, actor=actor, today=today, now=now(),
                        policy=policy, docs=docs, out=out,
                    )  # fmt: skip
                    serial = issued.serial
                    result.resealed += 1
                except EcertError as exc:  # the rules refuse it today (R-USE-4): nothing to issue
                    result.refused[exc.code] = result.refused.get(exc.code, 0) + 1
            _settle_files(out, serial)
            claim.reseal.done(item.registration_no)
            claim.commit()
        done += 1
        if progress is not None:
            progress(done, max(total, done))
    return result
