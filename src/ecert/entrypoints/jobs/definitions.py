"""What each job does: thin wrappers over the services, one function a job, the same whether a
procrastinate worker or the in-process runner calls it. Each is idempotent (a queue runs a job
again after a worker dies mid-job): the services they call are (see each one's docstring).

Every function takes the composition root (:class:`ecert.bootstrap.App`) first, keyword arguments
that are plain JSON values (they are stored in the queue), and an optional ``progress(done, total)``
for a progress bar when a person runs it in-process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecert.bootstrap import App, make_mailer
from ecert.domain.errors import BadInput, problem
from ecert.services import reminders as reminders_service
from ecert.services import reseal as reseal_service
from ecert.services.sweep import sweep as run_sweep
from ecert.services.views import export as export_service

Progress = Callable[[int, int], None]  # (done, total); total 0 when unknown
SYSTEM_ACTOR = "system:jobs"


def sweep(a: App, *, progress: Progress | None = None) -> dict[str, Any]:
    """The lapse sweep for today (R-LAPSE-1): set-based, running it twice lapses nothing more."""
    return run_sweep(a.uow(), today=a.clock.today(), now=a.clock.now(), policy=a.policy, actor=SYSTEM_ACTOR).as_dict()


def reminders(
    a: App, *, days: int = 30, send: bool = False, limit: int = 1000, progress: Progress | None = None
) -> dict[str, Any]:
    """Queue renewal reminders (R-REN-1; one per window, ever) and, with ``send``, deliver queued ones
    by SMTP (ECERT_SMTP_*; a reminder is marked sent only once the server accepted it)."""
    out: dict[str, Any] = {
        "queued": reminders_service.queue_reminders(
            a.uow(), today=a.clock.today(), days=days, policy=a.policy, now=a.clock.now(), actor=SYSTEM_ACTOR
        )
    }
    if send:
        from ecert.adapters.email import MailConfigError

        try:
            mailer = make_mailer(a.settings)
        except MailConfigError as exc:
            zh, en = f"邮件设置无效:{exc.variable}", f"Mail settings are incomplete or invalid: {exc.variable}"
            raise BadInput([problem(zh, en, column=exc.variable)]) from exc
        with mailer:
            out["sent"] = reminders_service.send_reminders(
                a.uow, mailer, now=a.clock.now(), policy=a.policy, limit=limit, actor=SYSTEM_ACTOR
            )
    return out


def export(
    a: App, *, kind: str = "registry", fmt: str = "csv", out: str, progress: Progress | None = None
) -> dict[str, Any]:
    """Write the registry or the certificate list to ``out`` (CSV or JSON Lines), replacing it whole."""
    rows_progress = (lambda n: progress(n, 0)) if progress is not None else None
    return export_service.export(a.uow(), kind=kind, fmt=fmt, out=Path(out), progress=rows_progress).as_dict()


def reseal(a: App, *, out_dir: str, progress: Progress | None = None) -> dict[str, Any]:
    """Replace every current certificate sealed with another key than today's (services/reseal.py)."""
    return reseal_service.reseal(
        a.uow,
        docs=a.documents,
        policy=a.policy,
        today=a.clock.today(),
        now=a.clock.now,
        actor=SYSTEM_ACTOR,
        out_dir=Path(out_dir),
        progress=progress,
    ).as_dict()


@dataclass(frozen=True)
class JobSpec:
    name: str
    fn: Callable[..., dict[str, Any]]
    # Jobs with the same lock never run at the same time; with ``dedupe`` a second one is not queued
    # while one is still waiting (it would do the same work).
    lock: str | None
    dedupe: bool


JOBS: dict[str, JobSpec] = {
    spec.name: spec
    for spec in (
        JobSpec("sweep", sweep, lock="ecert.sweep", dedupe=True),
        JobSpec("reminders", reminders, lock="ecert.reminders", dedupe=True),
        JobSpec("export", export, lock=None, dedupe=False),
        JobSpec("reseal", reseal, lock="ecert.reseal", dedupe=True),
    )
}
