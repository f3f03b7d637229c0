"""The job queue: procrastinate on PostgreSQL, in-process on SQLite.

Why procrastinate: the registry already lives in PostgreSQL, so the queue is a few more tables
there — no second broker to run, back up or secure — and a job can be enqueued in the same
transaction as the change that causes it (:func:`defer` takes the unit of work's connection):
both commit or neither does. Workers register and send heartbeats; a worker killed mid-job
(SIGKILL, OOM, a lost machine) leaves its job ``doing`` under a worker whose heartbeat stops.
:func:`recover_stalled_jobs` puts such jobs back to ``todo`` — every worker does it when it starts
and once a minute after (a periodic task) — and another worker runs them again from the start,
so every job is written to be idempotent (services/reseal.py, services/sweep.py, …).

On SQLite (the zero-setup default) there is no broker: :class:`InProcessRunner` runs the same job
functions at once, in the calling process; an interrupted run is finished by running it again.

The job definitions are not here (entrypoints/jobs): this module knows how to queue and run a job,
not what a job does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text

BACKEND_PROCRASTINATE = "procrastinate"
BACKEND_IN_PROCESS = "in-process"
# Defaults of procrastinate's worker: a heartbeat every 10 s, stalled after 30 s without one.
STALLED_AFTER = 30.0

log = logging.getLogger(__name__)

JobFn = Callable[..., dict[str, Any]]


def backend_for(engine: Engine) -> str:
    return BACKEND_PROCRASTINATE if engine.dialect.name == "postgresql" else BACKEND_IN_PROCESS


@dataclass(frozen=True)
class InProcessRunner:
    """Runs a job function in the calling process, now (the SQLite default)."""

    jobs: Mapping[str, JobFn]

    def run(self, name: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self.jobs[name](*args, **kwargs)


def connect_params(engine: Engine) -> dict[str, Any]:
    """psycopg connection keywords for the engine's database (host, dbname, user, options such as
    a ``search_path``): the queue's connections reach the same database and schema as ours."""
    _, params = engine.dialect.create_connect_args(engine.url)
    params.pop("context", None)  # SQLAlchemy's type adapters: procrastinate uses psycopg's own
    return dict(params)


def procrastinate_app(engine: Engine, *, pool_size: int = 4) -> Any:
    """A procrastinate ``App`` on the engine's PostgreSQL database, with no task registered yet."""
    import procrastinate

    connector = procrastinate.PsycopgConnector(
        conninfo="", kwargs=connect_params(engine), min_size=1, max_size=max(2, pool_size)
    )
    return procrastinate.App(connector=connector)


def defer(
    app: Any,
    task_name: str,
    connection: Connection,
    *,
    queueing_lock: str | None = None,
    **task_kwargs: Any,
) -> int:
    """Enqueue a job on ``connection`` — inside the caller's transaction: it exists once that
    commits, and not at all if it rolls back. Returns the job id. Raises
    ``procrastinate.exceptions.AlreadyEnqueued`` when ``queueing_lock`` is held by a waiting job."""
    driver = connection.connection.driver_connection
    job_id: int = app.tasks[task_name].configure(connection=driver, queueing_lock=queueing_lock).defer(**task_kwargs)
    return job_id


# The delivery of subscribers' notifications (issue 14): queued by the unit of work in the transaction
# that wrote events (bootstrap.App.uow), so it needs its name here, below the job definitions.
OUTBOX_TASK = "ecert.deliver"
OUTBOX_QUEUE = "ecert"


def defer_outbox(app: Any, connection: Connection) -> None:
    """Queue the delivery job in the caller's transaction, unless one is waiting already (its queueing
    lock). A savepoint keeps the refused insert from spoiling the transaction."""
    from procrastinate.exceptions import AlreadyEnqueued

    driver = connection.connection.driver_connection
    try:
        with connection.begin_nested():
            app.configure_task(
                OUTBOX_TASK, queue=OUTBOX_QUEUE, lock=OUTBOX_TASK, queueing_lock=OUTBOX_TASK, connection=driver
            ).defer()
    except AlreadyEnqueued:
        pass


async def recover_stalled_jobs(app: Any, stalled_after: float = STALLED_AFTER) -> list[int]:
    """Put back to ``todo`` the jobs left ``doing`` by workers that stopped sending heartbeats
    (killed mid-job) or that were pruned. Returns their ids."""
    from procrastinate.exceptions import UniqueViolation
    from procrastinate.jobs import Status

    recovered = []
    for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after):
        try:
            await app.job_manager.retry_job(job)
        except UniqueViolation:
            # A job of the same kind is waiting already (its queueing lock): it will do this work
            # (jobs are idempotent), so this one is closed as failed rather than queued twice.
            await app.job_manager.finish_job(job, status=Status.FAILED, delete_job=False)
            log.warning("job %s (%s) of a stalled worker: a waiting %s job takes it over", job.id, *[job.task_name] * 2)
            continue
        log.warning("job %s (%s) of a stalled worker is queued again", job.id, job.task_name)
        recovered.append(int(job.id))
    return recovered


def run_worker(
    app: Any,
    *,
    context: dict[str, Any],
    concurrency: int = 1,
    stalled_after: float = STALLED_AFTER,
    wait: bool = True,
    on_start: Callable[[list[int]], None] | None = None,
) -> None:
    """Run a worker in the foreground until SIGINT/SIGTERM (``wait``), or until the queue is empty.

    ``context`` reaches every task as ``JobContext.additional_context``. Heartbeats go every third
    of ``stalled_after``, so a live worker is never taken for a stalled one.
    """

    async def main() -> None:
        async with app.open_async():
            recovered = await recover_stalled_jobs(app, stalled_after)
            if on_start is not None:
                on_start(recovered)
            await app.run_worker_async(
                concurrency=concurrency,
                wait=wait,
                update_heartbeat_interval=stalled_after / 3,
                stalled_worker_timeout=stalled_after,
                additional_context=context,
                fetch_job_polling_interval=min(5.0, stalled_after / 3),
            )

    asyncio.run(main())


_STATUS_SQL = text(
    "SELECT j.id, j.task_name, j.status::text AS status, j.attempts, j.args, j.scheduled_at,"
    " (SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id) AS updated_at"
    " FROM procrastinate_jobs j WHERE (CAST(:job_id AS bigint) IS NULL OR j.id = :job_id)"
    " ORDER BY j.id DESC LIMIT :limit"
)
_COUNTS_SQL = text("SELECT status::text AS status, count(*) AS n FROM procrastinate_jobs GROUP BY status")
_WORKERS_SQL = text(
    "SELECT count(*) FROM procrastinate_workers WHERE last_heartbeat >= now() - make_interval(secs => :secs)"
)


def job_status(
    conn: Connection, *, job_id: int | None = None, limit: int = 20, stalled_after: float = STALLED_AFTER
) -> dict[str, Any]:
    """The queue at a glance, read with our own connection: counts by status, the latest jobs (or
    one), and how many workers sent a heartbeat recently."""
    rows = conn.execute(_STATUS_SQL, {"job_id": job_id, "limit": limit}).mappings().all()
    jobs = [
        {
            "id": int(row["id"]),
            "task": row["task_name"],
            "status": row["status"],
            "attempts": int(row["attempts"]),
            "args": row["args"],
            "scheduled_at": row["scheduled_at"].isoformat() if row["scheduled_at"] else None,
            "updated_at": row["updated_at"].isoformat() if row["updated_at"] else None,
        }
        for row in rows
    ]
    counts = {row.status: int(row.n) for row in conn.execute(_COUNTS_SQL)}
    workers = int(conn.execute(_WORKERS_SQL, {"secs": stalled_after}).scalar_one())
    return {"backend": BACKEND_PROCRASTINATE, "counts": counts, "jobs": jobs, "live_workers": workers}
