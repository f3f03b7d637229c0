"""The jobs as procrastinate tasks (PostgreSQL), and the in-process runner (SQLite).

Tasks are registered on a fresh procrastinate ``App`` per call of :func:`queue_app` — no app or
engine at import time. A task finds the worker's composition root (:class:`ecert.bootstrap.App`,
one per worker process) in ``context.additional_context["ecert"]``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ecert.adapters import queue
from ecert.bootstrap import App
from ecert.entrypoints.jobs.definitions import JOBS, JobSpec

QUEUE = "ecert"
# A job that raises (the database restarted, a disk filled) is tried again a little later; a job
# whose worker died is recovered separately (queue.recover_stalled_jobs), however often it failed.
MAX_ATTEMPTS = 3
RETRY_WAIT_SECONDS = 10
# Daily work when a worker runs with --schedule: 00:05 and 00:20 China Standard Time (cron is UTC).
SWEEP_CRON = "5 16 * * *"
REMINDERS_CRON = "20 16 * * *"
# The signed status list (issue 14 item 2), every hour: a list is current for a day (domain/status_list.py).
STATUS_LIST_CRON = "7 * * * *"


def task_name(job: str) -> str:
    return f"ecert.{job}"


def _task(spec: JobSpec) -> Any:
    def run(context: Any, **kwargs: Any) -> dict[str, Any]:
        a: App = context.additional_context["ecert"]
        return spec.fn(a, **kwargs)  # procrastinate logs the outcome and the result

    run.__name__ = spec.name
    return run


def queue_app(engine: Any, *, stalled_after: float = queue.STALLED_AFTER, schedule: bool = False) -> Any:
    """A procrastinate ``App`` on the engine's database with every ecert job registered (see
    :func:`register_jobs`; with an :class:`App` at hand: ``register_jobs(bootstrap.make_job_queue(a))``)."""
    return register_jobs(queue.procrastinate_app(engine), stalled_after=stalled_after, schedule=schedule)


def register_jobs(papp: Any, *, stalled_after: float = queue.STALLED_AFTER, schedule: bool = False) -> Any:
    """Register on the procrastinate ``App`` every ecert job, the once-a-minute recovery of stalled
    jobs and, with ``schedule``, the daily sweep and reminders and the hourly status list. Returns ``papp``."""
    import procrastinate

    retry = procrastinate.RetryStrategy(max_attempts=MAX_ATTEMPTS, wait=RETRY_WAIT_SECONDS)
    tasks = {
        spec.name: papp.task(name=task_name(spec.name), queue=QUEUE, pass_context=True, lock=spec.lock, retry=retry)(
            _task(spec)
        )
        for spec in JOBS.values()
    }

    async def recover(context: Any, timestamp: int) -> None:
        await queue.recover_stalled_jobs(context.app, stalled_after)

    papp.periodic(cron="* * * * *", periodic_id="recover")(
        papp.task(name=task_name("recover_stalled"), queue=QUEUE, pass_context=True)(recover)
    )

    def deliver_due(context: Any, timestamp: int) -> dict[str, Any]:
        # Notifications whose retry time came (back-off), and any whose queued job was lost: once a minute.
        return JOBS["deliver"].fn(context.additional_context["ecert"])

    papp.periodic(cron="* * * * *", periodic_id="deliver")(
        papp.task(name=task_name("deliver_due"), queue=QUEUE, pass_context=True, lock="ecert.deliver")(deliver_due)
    )

    def sequence_audit(context: Any, timestamp: int) -> dict[str, Any]:
        return JOBS["audit_sequence"].fn(context.additional_context["ecert"])

    papp.periodic(cron="* * * * *", periodic_id="audit")(  # R-ACC-1: the audit log's sequencer, every minute
        papp.task(name=task_name("audit_sequence_periodic"), queue=QUEUE, pass_context=True, lock="ecert.audit")(
            sequence_audit
        )
    )
    if schedule:

        def daily_sweep(context: Any, timestamp: int) -> dict[str, Any]:
            return JOBS["sweep"].fn(context.additional_context["ecert"])

        def daily_reminders(context: Any, timestamp: int) -> dict[str, Any]:
            return JOBS["reminders"].fn(context.additional_context["ecert"])

        def hourly_status_list(context: Any, timestamp: int) -> dict[str, Any]:
            return JOBS["status_list"].fn(context.additional_context["ecert"])

        papp.periodic(cron=STATUS_LIST_CRON, periodic_id="hourly")(
            papp.task(name=task_name("hourly_status_list"), queue=QUEUE, pass_context=True, lock="ecert.status_list")(
                hourly_status_list
            )
        )
        papp.periodic(cron=SWEEP_CRON, periodic_id="daily")(
            papp.task(name=task_name("daily_sweep"), queue=QUEUE, pass_context=True, lock="ecert.sweep")(daily_sweep)
        )
        papp.periodic(cron=REMINDERS_CRON, periodic_id="daily")(
            papp.task(name=task_name("daily_reminders"), queue=QUEUE, pass_context=True, lock="ecert.reminders")(
                daily_reminders
            )
        )
    assert set(tasks) == set(JOBS)
    assert task_name("deliver") == queue.OUTBOX_TASK and queue.OUTBOX_QUEUE == QUEUE  # what the unit of work queues
    return papp


def enqueue(papp: Any, job: str, connection: Connection, **kwargs: Any) -> int:
    """Queue ``job`` inside the transaction of ``connection`` (see queue.defer)."""
    spec = JOBS[job]
    return queue.defer(
        papp, task_name(job), connection, queueing_lock=task_name(job) if spec.dedupe else None, **kwargs
    )


def run_in_process(a: App, job: str, **kwargs: Any) -> dict[str, Any]:
    """Run ``job`` now, in this process (SQLite, or ``--now``)."""
    return queue.InProcessRunner({name: spec.fn for name, spec in JOBS.items()}).run(job, a, **kwargs)
