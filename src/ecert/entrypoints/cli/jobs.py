"""``ecert jobs …``: long work as jobs (adapters/queue.py, entrypoints/jobs).

On PostgreSQL ``jobs enqueue …`` puts a job on the procrastinate queue and ``jobs worker`` runs
them; on SQLite (or with ``--now``) ``jobs enqueue …`` runs the job at once in this process, with a
progress bar on a terminal. ``ecert sweep``, ``ecert reminders …`` keep running in-process as before.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from ecert.adapters import queue
from ecert.adapters.db.engine import upgrade
from ecert.adapters.files import check_output_file, ensure_output_dir
from ecert.domain.errors import BadInput, problem
from ecert.entrypoints.cli.common import Invocation, JsonOut, actor_name, count_progress, progress_bar
from ecert.entrypoints.jobs import tasks
from ecert.services.reseal import pending_count, plan_reseal
from ecert.services.views import export as export_service

jobs_cli = typer.Typer(
    help="后台作业 / background jobs (procrastinate on PostgreSQL, in-process on SQLite)", no_args_is_help=True
)
enqueue_cli = typer.Typer(help="加入作业 / queue a job (SQLite or --now: run it here, now)", no_args_is_help=True)
jobs_cli.add_typer(enqueue_cli, name="enqueue")

NOW_HELP = "Run it in this process now instead of queueing it (always so on SQLite)"


def _run(inv: Invocation, job: str, now: bool, human: Callable[[dict[str, Any]], str], **kwargs: Any) -> None:
    a = inv.app()
    if now or queue.backend_for(a.engine) == queue.BACKEND_IN_PROCESS:
        with progress_bar(f"jobs {job}") as bar:
            result = tasks.run_in_process(a, job, progress=count_progress(bar), **kwargs)
        done: dict[str, Any] = {"backend": queue.BACKEND_IN_PROCESS, "job": job, "job_id": None}
        done.update(status="succeeded", result=result)
        inv.emit(done, f"{job}: {human(result)}")
        return
    from procrastinate.exceptions import AlreadyEnqueued

    papp = tasks.queue_app(a.engine)
    ids: list[int] = []
    planned: int | None = None
    try:
        if job == "reseal":
            # The plan supersedes the old-key certificates and the job that replaces them is queued
            # in the same transaction: both happen, or neither (services/reseal.py).
            planned = plan_reseal(
                a.uow(),
                key_id=a.documents.sealer.key_id,
                today=a.clock.today(),
                now=a.clock.now(),
                actor=actor_name(None, a.settings),
                before_commit=lambda uow: ids.append(tasks.enqueue(papp, job, uow.connection, **kwargs)),
            )
        else:
            with a.uow() as uow:
                ids.append(tasks.enqueue(papp, job, uow.connection, **kwargs))
                uow.commit()
    except AlreadyEnqueued:
        dup = {"backend": queue.BACKEND_PROCRASTINATE, "job": job, "job_id": None, "status": "already_enqueued"}
        inv.emit(dup, f"{job}: 已有同类作业在排队 / one is queued already")
        return
    out: dict[str, Any] = {"backend": queue.BACKEND_PROCRASTINATE, "job": job, "job_id": ids[0], "status": "todo"}
    if planned is not None:
        out["planned"] = planned
    inv.emit(out, f"已加入队列 / queued: job {ids[0]} ({job})")


@enqueue_cli.command("sweep")
def enqueue_sweep(
    ctx: typer.Context,
    now: bool = typer.Option(False, "--now", help=NOW_HELP),
    json_out: JsonOut = False,
) -> None:
    """Lapse sweep for today (R-LAPSE-1)."""
    inv = Invocation.of(ctx)
    with inv.errors(json_out):
        _run(inv, "sweep", now, lambda d: f"lapsed {d['lapsed']} of {d['checked']} checked")


@enqueue_cli.command("reminders")
def enqueue_reminders(
    ctx: typer.Context,
    days: int = typer.Option(30, "--days", help="Queue windows opening within this many days"),
    send: bool = typer.Option(False, "--send", help="Then send queued reminders by SMTP (ECERT_SMTP_*)"),
    limit: int = typer.Option(1000, "--limit", help="Send at most this many messages"),
    now: bool = typer.Option(False, "--now", help=NOW_HELP),
    json_out: JsonOut = False,
) -> None:
    """Queue renewal reminders (R-REN-1) and, with --send, deliver them."""
    inv = Invocation.of(ctx)
    with inv.errors(json_out):
        _run(inv, "reminders", now, lambda d: f"queued {d['queued']['queued']}", days=days, send=send, limit=limit)


@enqueue_cli.command("export")
def enqueue_export(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", help="File to write (replaced whole)"),
    what: str = typer.Option("registry", "--what", help="registry (the import columns) or certificates"),
    fmt: str = typer.Option("csv", "--format", help="csv or jsonl"),
    now: bool = typer.Option(False, "--now", help=NOW_HELP),
    json_out: JsonOut = False,
) -> None:
    """Export the registry or the certificate list to CSV or JSON Lines."""
    inv = Invocation.of(ctx)
    with inv.errors(json_out):
        bad = [
            problem(f"{name} 应为 {'/'.join(allowed)} 之一", f"{name} must be one of {', '.join(allowed)}", column=name)
            for name, value, allowed in (("what", what, export_service.KINDS), ("format", fmt, export_service.FORMATS))
            if value not in allowed
        ]
        if bad:
            raise BadInput(bad)
        ensure_output_dir(out.parent)  # the export makes missing directories too
        check_output_file(out, example=f"{what}.{fmt}")
        # Absolute: a worker runs it from another directory.
        _run(
            inv, "export", now, lambda d: f"{d['rows']} rows → {d['out']}", kind=what, fmt=fmt, out=str(out.absolute())
        )


@enqueue_cli.command("reseal")
def enqueue_reseal(
    ctx: typer.Context,
    out_dir: Path = typer.Option(..., "--out-dir", help="Where to write the re-sealed PDFs (<registration_no>.pdf)"),
    now: bool = typer.Option(False, "--now", help=NOW_HELP),
    json_out: JsonOut = False,
) -> None:
    """After a seal-key rotation: re-issue every current certificate sealed with another key (R-DOC-2);
    the old ones are superseded (R-CHG-1)."""
    inv = Invocation.of(ctx)
    with inv.errors(json_out):
        ensure_output_dir(out_dir)
        _run(
            inv,
            "reseal",
            now,
            lambda d: f"resealed {d['resealed']}, already done {d['already_done']}, refused {d['refused']}",
            out_dir=str(out_dir.absolute()),
        )


@enqueue_cli.command("archive")
def enqueue_archive(
    ctx: typer.Context,
    directory: Path = typer.Option(..., "--dir", help="The archive of sealed PDFs (searched recursively)"),
    days: int = typer.Option(365, "--days", min=1, help="Renew when the newest time-stamp's TSA ends within this"),
    now: bool = typer.Option(False, "--now", help=NOW_HELP),
    json_out: JsonOut = False,
) -> None:
    """Long-term validation: a new document time-stamp (PAdES B-LTA) on every archived PDF whose newest
    time-stamp's TSA certificate ends within --days (R-DOC-2). Monthly is plenty."""
    inv = Invocation.of(ctx)
    with inv.errors(json_out):
        _run(
            inv,
            "archive",
            now,
            lambda d: (
                f"checked {d['checked']}, renewed {d['renewed']}, not due {d['not_due']}, failed {len(d['failed'])}"
            ),
            directory=str(directory.absolute()),
            days=days,
        )


@jobs_cli.command("worker")
def jobs_worker(
    ctx: typer.Context,
    concurrency: int = typer.Option(1, "--concurrency", min=1, help="Jobs run at the same time (threads)"),
    stalled_after: float = typer.Option(
        queue.STALLED_AFTER,
        "--stalled-after",
        min=1.0,
        help="Seconds without a heartbeat after which a worker counts as dead and its jobs run again",
    ),
    schedule: bool = typer.Option(False, "--schedule", help="Also queue the daily sweep and reminders"),
    until_empty: bool = typer.Option(False, "--until-empty", help="Stop once the queue is empty"),
) -> None:
    """Run queued jobs (PostgreSQL) until SIGINT/SIGTERM; jobs of dead workers are taken over."""
    inv = Invocation.of(ctx)
    with inv.errors():
        a = inv.app()
        if queue.backend_for(a.engine) != queue.BACKEND_PROCRASTINATE:
            raise BadInput(
                [
                    problem(
                        "作业队列需要 PostgreSQL;SQLite 上作业在 jobs enqueue 时直接运行",
                        "The job queue needs PostgreSQL; on SQLite, jobs enqueue runs the job at once",
                        column="database",
                    )
                ]
            )
        upgrade(a.engine)
        logging.basicConfig(
            level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )
        papp = tasks.queue_app(a.engine, stalled_after=stalled_after, schedule=schedule)

        def started(recovered: list[int]) -> None:
            note = f", took over stalled jobs {recovered}" if recovered else ""
            typer.echo(f"ecert jobs worker: concurrency {concurrency}{note}", err=True)

        queue.run_worker(
            papp,
            context={"ecert": a},
            concurrency=concurrency,
            stalled_after=stalled_after,
            wait=not until_empty,
            on_start=started,
        )


@jobs_cli.command("status")
def jobs_status(
    ctx: typer.Context,
    job_id: int | None = typer.Option(None, "--job", help="Only this job"),
    limit: int = typer.Option(20, "--limit", min=1, max=1000),
    json_out: JsonOut = False,
) -> None:
    """The queue: jobs by status, the latest jobs, live workers; and the re-sealing worklist."""
    inv = Invocation.of(ctx)
    with inv.command(json_out) as a:
        if queue.backend_for(a.engine) == queue.BACKEND_PROCRASTINATE:
            with a.engine.connect() as conn:
                view = queue.job_status(conn, job_id=job_id, limit=limit)
        else:
            view = {"backend": queue.BACKEND_IN_PROCESS, "counts": {}, "jobs": [], "live_workers": 0}
        view["reseal_pending"] = pending_count(a.uow())
        lines = [f"{j['id']:>8}  {j['task']:<22} {j['status']:<10} attempts={j['attempts']}" for j in view["jobs"]]
        head = f"{view['backend']}: {view['counts']}  workers={view['live_workers']}"
        inv.emit(view, "\n".join([f"{head}  reseal_pending={view['reseal_pending']}", *lines]))
