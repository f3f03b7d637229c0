"""FastAPI application factory: the middleware (middleware.py, qr_fast_path.py), error mapping,
the verification log's lifespan and the routers of each area (verify, session, holder, authority,
ops). Nothing here is imported by a route module."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ecert.adapters.db.sessions import SessionStore
from ecert.bootstrap import App, WebParts, web_parts
from ecert.domain.errors import BadInput, EcertError, problem
from ecert.domain.verification import MAX_CERTIFICATE_FILE
from ecert.entrypoints.web import (
    metrics,
    routes_attest,
    routes_authority,
    routes_holder,
    routes_offline,
    routes_ops,
    routes_platform,
    routes_roster,
    routes_second_factor,
    routes_session,
    routes_subscriptions,
    routes_verify,
)
from ecert.entrypoints.web.deps import WebContext, parts
from ecert.entrypoints.web.errors import DATABASE_UNAVAILABLE, http_status, page_error, shown
from ecert.entrypoints.web.i18n import request_lang
from ecert.entrypoints.web.middleware import BodyLimit, BodyTooLarge, HeadersAndMetrics
from ecert.entrypoints.web.qr_fast_path import QrPageFastPath
from ecert.entrypoints.web.templating import render

HERE = Path(__file__).parent


SEQUENCE_INTERVAL = 1.0  # seconds between two runs of the audit log's sequencer
FULL_SEQUENCE_EVERY = 60  # every so many runs (and the first) look at the whole log, not the window
log = logging.getLogger("ecert.audit")


async def run_sequencer(core: App, interval: float = SEQUENCE_INTERVAL) -> None:
    """The audit log's sequencer (R-ACC-1; adapters/db/audit.py): at startup over the whole log (what
    a crashed process committed and never sequenced), then about once a second, until cancelled."""
    runs = 0
    while True:
        try:
            await asyncio.to_thread(core.sequence_audit, full=runs % FULL_SEQUENCE_EVERY == 0)
        except Exception:  # the database is down, or the tree does not match its checkpoint: said, tried again
            log.exception("audit log: sequencing failed (R-ACC-1); trying again")
        runs += 1
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """The verification log's writer (R-ACC-1): a batch every second or so while the process
    serves, and the last one when it stops (a hard crash loses at most about one interval); and the
    audit log's sequencer beside it."""
    vlog = parts(app).verification_log
    task = asyncio.create_task(vlog.run())
    sequencer = asyncio.create_task(run_sequencer(app.state.ctx.core))
    try:
        yield
    finally:
        task.cancel()
        sequencer.cancel()
        for t in (task, sequencer):
            with contextlib.suppress(asyncio.CancelledError):
                await t
        await vlog.close()


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the other fields around an uploaded file
IMPORT_PATHS = ("/admin/import", "/api/v1/registry/import")
ROSTER_PATHS = ("/roster",)


def body_limit(core: App) -> Callable[[str], int]:
    """The largest request body each path takes: a registry file where the registry is imported, a
    roster file where an employer uploads one, a certificate file (PDF or OFD) everywhere else — the
    biggest thing any other form carries."""
    imports, others = core.settings.web.import_max_bytes + FORM_OVERHEAD, MAX_CERTIFICATE_FILE + FORM_OVERHEAD
    rosters = core.settings.roster.max_bytes + FORM_OVERHEAD

    def limit_for(path: str) -> int:
        return imports if path in IMPORT_PATHS else rosters if path in ROSTER_PATHS else others

    return limit_for


_log = logging.getLogger("ecert.web")


def _megabytes(n: int) -> str:
    return f"{n // (1024 * 1024)} MB"


class EcertAPI(FastAPI):
    """FastAPI with the public QR page's fast path as its outermost layer (qr_fast_path.py)."""

    def build_middleware_stack(self) -> Any:
        return QrPageFastPath(super().build_middleware_stack(), api=self)


def create_app(core: App, web: WebParts | None = None) -> FastAPI:
    """The application over ``core``; ``web``: its limiter, verification log and QR hot path
    (default: :func:`bootstrap.web_parts`'s, built now, one set per application)."""
    api = EcertAPI(
        lifespan=lifespan,
        title="ecert — 一级建造师电子注册证书",
        version="1",
        description="Issue, renew and verify the electronic registration certificates of first-class constructors.",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    api.state.ctx = WebContext(core=core, sessions=SessionStore(core.engine))
    api.state.web = web or web_parts(
        core, on_log_drop=metrics.VERIFY_LOG_DROPPED.inc, on_limiter_fallback=metrics.rate_limit_fallback
    )
    api.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    async def too_large(scope: Any, limit: int) -> Response:
        return await ecert_error(Request(scope), EcertError("payload_too_large", params={"limit": _megabytes(limit)}))

    api.add_middleware(BodyLimit, limit_for=body_limit(core), refuse=too_large)
    api.add_middleware(HeadersAndMetrics)  # outermost: the 413 gets the headers and is counted too

    @api.exception_handler(EcertError)
    async def ecert_error(request: Request, exc: EcertError) -> Response:
        lang = request_lang(request)
        status = http_status(exc)
        exc = shown(exc)
        # A throttle that knows when the next attempt may come says so (the sign-in's growing delays).
        wait = {"Retry-After": str(exc.params["retry_after"])} if exc.params.get("retry_after") else {}
        if _is_api(request):
            return JSONResponse(exc.as_dict(lang), status_code=status, headers=wait)
        if exc.code == "unauthenticated":
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        if exc.code == "second_factor_required":
            return RedirectResponse(f"/login/second-factor?next={request.url.path}", status_code=303)
        error = page_error(status, lang, exc.as_dict(lang)["error"])
        response = render(request, "error.html", status_code=status, error=error)
        response.headers.update(wait)
        return response

    async def database_unavailable(request: Request, exc: Exception) -> Response:
        """The database went away (restarted, unreachable, every connection busy): 503 ``database_error``, as
        the CLI says it, instead of a 500 with a traceback. The transaction was rolled back by its unit of
        work, so nothing of the request was kept; the pool drops the dead connections and the next request
        connects again (issue 16 §5, ``tests/e2e/test_faults.py``)."""
        detail = str(getattr(exc, "orig", None) or exc).strip()
        reason = detail.splitlines()[0][:200] if detail else type(exc).__name__
        _log.warning("database unavailable on %s %s: %s", request.method, request.url.path, reason)
        return await ecert_error(request, EcertError("database_error", params={"reason": type(exc).__name__}))

    for db_error in DATABASE_UNAVAILABLE:
        api.add_exception_handler(db_error, database_unavailable)

    @api.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """No such page (404) or method (405): the API keeps FastAPI's ``{"detail"}``, pages say it in words.
        A request Starlette could not parse (400: a form of 5,000 fields, a broken multipart body) is
        ecert's bad_input, in ecert's error shape, on the API and on pages."""
        if isinstance(exc, BodyTooLarge):
            return await too_large(request.scope, exc.limit)
        if exc.status_code == 400:
            detail = str(exc.detail)
            return await ecert_error(
                request, BadInput([problem(f"请求无法解析:{detail}", f"Malformed request: {detail}")])
            )
        if _is_api(request) or exc.status_code < 400:
            return await http_exception_handler(request, exc)
        code = "not_found" if exc.status_code == 404 else f"http_{exc.status_code}"
        error = page_error(exc.status_code, request_lang(request), {"code": code, "message": None, "rule": None})
        response = render(request, "error.html", status_code=exc.status_code, error=error)
        response.headers.update(exc.headers or {})
        return response

    @api.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        """Malformed parameters or bodies are the contract's bad_input (400), named field by field."""
        problems = [
            problem(
                f"参数有误:{'.'.join(str(p) for p in e.get('loc', ()))}:{e.get('msg', '')}",
                f"Invalid {'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}",
                column=".".join(str(p) for p in e.get("loc", ())[1:]) or None,
            )
            for e in exc.errors()[:50]
        ]
        return await ecert_error(request, BadInput(problems))

    api.include_router(routes_ops.router)
    api.include_router(routes_verify.router)
    api.include_router(routes_attest.router)
    api.include_router(routes_offline.router)
    api.include_router(routes_session.router)
    api.include_router(routes_platform.router)
    api.include_router(routes_second_factor.router)
    api.include_router(routes_holder.router)
    api.include_router(routes_authority.router)
    api.include_router(routes_roster.router)
    api.include_router(routes_subscriptions.router)
    return api


def create_app_from_env() -> FastAPI:
    """For ``uvicorn --factory`` (``ecert serve`` with several workers): settings from the environment."""
    from ecert.bootstrap import bootstrap
    from ecert.config import load_settings
    from ecert.entrypoints.web import logs

    core = bootstrap(load_settings())
    logs.configure(core.settings.web.log_level)
    app = create_app(core)
    with contextlib.suppress(EcertError):  # no keys yet: the pages say so when asked, as before
        core.documents  # noqa: B018 - keys, fonts and page templates loaded once, before requests
    core.demo_seal  # noqa: B018 - the DEMO banner's answer, settled before requests (never in the event loop)
    # What start-up built lives as long as the process: frozen out of the collector's reach, a full
    # collection no longer walks it (measured: 30-140 ms pauses of every thread of a worker under the
    # download benchmark, in its p99).
    gc.collect()
    gc.freeze()
    return app
