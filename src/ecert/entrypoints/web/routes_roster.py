"""The employer's roster pages (issue 13 item 3; R-ACC-1): upload a roster, follow its progress, download
the signed report. Only an ``employer`` account, and only its own runs: another account's run, or an
unknown one, is the same ``not_found``.

A roster of fewer than ``ECERT_ROSTER_JOB_ROWS`` rows, or any roster on SQLite (no queue there,
adapters/queue.py), is answered during the upload; a larger one on PostgreSQL is queued as a
``roster`` job (entrypoints/jobs) and the progress page refreshes until the report is there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from ecert.adapters import queue
from ecert.adapters.db.users import User
from ecert.domain.dates import CST
from ecert.domain.errors import BadInput, EcertError, NotFound, coded_problem
from ecert.entrypoints.jobs import definitions, tasks
from ecert.entrypoints.web.deps import check_csrf, ctx, require_user
from ecert.entrypoints.web.errors import form_error, http_status
from ecert.entrypoints.web.templating import render
from ecert.services import roster as roster_service
from ecert.services.unit_of_work import AbstractUnitOfWork

router = APIRouter()
COPY_CHUNK = 1 << 20
MEDIA = {"json": "application/json", "pdf": "application/pdf", "csv": "text/csv; charset=utf-8"}


def _employer(request: Request) -> User:
    """The signed-in employer (401 unauthenticated, 403 forbidden for other roles, R-ACC-1)."""
    user = require_user(request, "employer")
    if not user.employer_uscc:
        raise EcertError("forbidden", rule="R-ACC-1")
    return user


def _own_run(request: Request, user: User, run_id: str) -> Any:
    uow = ctx(request).core.uow()
    with uow:
        run = uow.rosters.get(run_id)
    if run is None or run.username != user.username:  # R-ACC-1: another's run is not there for you
        raise NotFound("roster_run", run_id)
    return run


def _page(request: Request, user: User, status_code: int = 200, **context: Any) -> Response:
    uow = ctx(request).core.uow()
    with uow:
        runs = uow.rosters.of_user(user.username)
    local = lambda t: t.astimezone(CST).strftime("%Y-%m-%d %H:%M") if t else ""  # noqa: E731
    return render(request, "roster.html", status_code, user=user, runs=runs, local_time=local, **context)


@router.get("/roster", include_in_schema=False)
def roster_page(request: Request) -> Response:
    return _page(request, _employer(request))


def _read_upload(upload: UploadFile, limit: int, limit_mb: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := upload.file.read(COPY_CHUNK):
        size += len(chunk)
        if size > limit:
            raise BadInput([coded_problem("roster_file_too_large", name=upload.filename or "", limit=limit_mb)])
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/roster", include_in_schema=False)
def roster_upload(
    request: Request,
    file: UploadFile | None = File(None),  # noqa: B008 - FastAPI's way of declaring an upload
    on: str = Form("", alias="date"),
    csrf: str = Form(""),
) -> Response:
    user = _employer(request)
    check_csrf(request, csrf)
    core = ctx(request).core
    cfg = core.settings.roster
    try:
        if file is None or not file.filename:
            raise BadInput([coded_problem("roster_empty", name="-")])
        day = roster_service.parse_on(on)
        data = _read_upload(file, cfg.max_bytes, cfg.max_mb)
        name = Path(file.filename).name[:100] or "roster.csv"
        queued = queue.backend_for(core.engine) == queue.BACKEND_PROCRASTINATE

        def enqueue(uow: AbstractUnitOfWork, run_id: str, rows: int) -> None:
            if queued and rows >= cfg.job_rows:
                papp = tasks.queue_app(core.engine)
                tasks.enqueue(papp, "roster", uow.connection, run_id=run_id)  # type: ignore[attr-defined]

        run_id, rows = roster_service.submit(
            core.uow(), username=user.username, uscc=user.employer_uscc or "", on=day, name=name, data=data,
            now=core.clock.now(), policy=core.policy, max_rows=cfg.max_rows, max_bytes=cfg.max_bytes,
            before_commit=enqueue,
        )  # fmt: skip
        if not (queued and rows >= cfg.job_rows):
            definitions.roster(core, run_id=run_id)  # answered now, in this request
    except EcertError as exc:
        filename = file.filename if file is not None else ""
        return _page(request, user, http_status(exc), **form_error(request, exc), filename=filename)
    return RedirectResponse(f"/roster/runs/{run_id}", status_code=303)


@router.get("/roster/runs/{run_id}", include_in_schema=False)
def roster_run(request: Request, run_id: str) -> Response:
    user = _employer(request)
    run = _own_run(request, user, run_id)
    pct = 100 if run.status == "done" else int(100 * run.done / run.total) if run.total else 0
    rows: list[dict[str, Any]] = []
    if run.status == "done":
        uow = ctx(request).core.uow()
        with uow:
            data = uow.rosters.report(run.id, "json")
        rows = roster_service.shown_rows(data) if data else []
    return render(request, "roster_run.html", user=user, run=run, percent=pct, rows=rows)


@router.get("/roster/runs/{run_id}/report.{kind}", include_in_schema=False)
def roster_report(request: Request, run_id: str, kind: str) -> Response:
    user = _employer(request)
    run = _own_run(request, user, run_id)
    if kind not in MEDIA:
        raise NotFound("roster_run", run_id)
    uow = ctx(request).core.uow()
    with uow:
        data = uow.rosters.report(run.id, kind)
    if data is None:
        raise NotFound("roster_run", run_id)
    name = f"roster-{run.on_date or run.created_at.astimezone(CST).date()}-{run.id[:8]}.{kind}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    return Response(data, media_type=MEDIA[kind], headers=headers)
