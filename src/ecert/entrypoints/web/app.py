"""FastAPI application factory: middleware (security headers, metrics, request log), error
mapping, templates and the routers of each area (public, holder, authority, ops)."""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream
from starlette.exceptions import HTTPException as StarletteHTTPException

from ecert.adapters.db.sessions import SessionStore
from ecert.bootstrap import App
from ecert.domain.errors import BadInput, EcertError, problem
from ecert.entrypoints.web import metrics
from ecert.entrypoints.web.deps import WebContext, current_user
from ecert.entrypoints.web.errors import http_status, page_error
from ecert.entrypoints.web.i18n import TERMS, request_lang, translator

HERE = Path(__file__).parent
log = logging.getLogger("ecert.web")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
# A page with the QR scanner (templates/scanner.html) sets these on its response: the camera for
# this origin, and 'wasm-unsafe-eval' so the vendored decoder's WebAssembly may be compiled (it
# allows WebAssembly compilation only, not eval()). Every other page keeps SECURITY_HEADERS.
SCANNER_HEADERS = {
    "Content-Security-Policy": SECURITY_HEADERS["Content-Security-Policy"].replace(
        "script-src 'self';", "script-src 'self' 'wasm-unsafe-eval';"
    ),
    "Permissions-Policy": SECURITY_HEADERS["Permissions-Policy"].replace("camera=()", "camera=(self)"),
}

templates = Jinja2Templates(directory=str(HERE / "templates"))
# Package data: the templates do not change under a running server, so no stat() of every template
# (and of base.html it extends) on every render.
templates.env.auto_reload = False
TRANSLATORS = {lang: translator(lang) for lang in ("zh", "en")}


class _Localize(Extension):
    """``t('中文', 'English')`` with two literal arguments becomes the literal of one language when the
    template is compiled (a call costs more than the text it returns); other calls stay calls."""

    index = 0

    def filter_stream(self, stream: TokenStream) -> Iterable[Token]:
        tokens = list(stream)
        out: list[Token] = []
        i = 0
        while i < len(tokens):
            tok, window = tokens[i], tokens[i + 1 : i + 6]
            if (
                tok.type == "name"
                and tok.value == "t"
                and [w.type for w in window] == ["lparen", "string", "comma", "string", "rparen"]
                and not (out and out[-1].type == "dot")
            ):
                out.append(Token(tok.lineno, "string", window[1 + 2 * self.index].value))
                i += 6
            else:
                out.append(tok)
                i += 1
        return out


# One template environment per language, for :func:`render_anonymous` (same loader and settings).
LOCALIZED = {
    lang: templates.env.overlay(extensions=[type(f"Localize_{lang}", (_Localize,), {"index": i})])
    for i, lang in enumerate(("zh", "en"))
}


def render_anonymous(lang: str, name: str, *, demo: bool, **context: Any) -> str:
    """The page for a visitor with no session cookie: what :func:`render` gives when no one is
    signed in, without its request bookkeeping (the public QR page's hot path). ``demo``: the
    service seals with a DEMO key (``App.demo_seal``), and every page says so."""
    return (
        LOCALIZED[lang]
        .get_template(name)
        .render(lang=lang, t=TRANSLATORS[lang], user=None, csrf="", term=TERMS[lang], demo=demo, **context)
    )


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    lang = request_lang(request)
    user = context.pop("user", None)
    if user is None and "user" not in context:
        try:
            user = current_user(request)
        except Exception:  # a broken session never breaks a page
            user = None
    from ecert.entrypoints.web.deps import ctx, session_of

    session = session_of(request) if user is not None else None
    response = templates.TemplateResponse(
        request,
        name,
        {
            "lang": lang,
            "t": translator(lang),
            "term": TERMS["en" if lang == "en" else "zh"],
            "user": user,
            "csrf": session.csrf_token if session else "",
            "demo": ctx(request).core.demo_seal,  # the DEMO banner (base.html)
            **context,
        },
        status_code=status_code,
    )
    if request.query_params.get("lang") in ("zh", "en"):
        response.set_cookie("lang", request_lang(request), samesite="lax", httponly=True, max_age=365 * 86400)
    return response


_HEADER_BYTES = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]


class HeadersAndMetrics:
    """Security headers, Prometheus metrics and the request log, as plain ASGI middleware
    (Starlette's BaseHTTPMiddleware costs about a millisecond a request)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in _HEADER_BYTES if k not in present
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            elapsed = time.perf_counter() - start
            metrics.observe_request(scope["method"], route, status, elapsed)
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "request",
                    extra={"method": scope["method"], "route": route, "status": status, "ms": round(elapsed * 1000, 2)},
                )


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


class EcertAPI(FastAPI):
    """FastAPI with the public QR page's fast path as its outermost layer (routes_public.QrPageFastPath)."""

    def build_middleware_stack(self) -> Any:
        from ecert.entrypoints.web.routes_public import QrPageFastPath

        return QrPageFastPath(super().build_middleware_stack(), api=self)


def create_app(core: App) -> FastAPI:
    from ecert.entrypoints.web.routes_public import lifespan  # the verification log's writer (R-ACC-1)

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
    api.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    api.add_middleware(HeadersAndMetrics)

    @api.exception_handler(EcertError)
    async def ecert_error(request: Request, exc: EcertError) -> Response:
        lang = request_lang(request)
        status = http_status(exc)
        if _is_api(request):
            return JSONResponse(exc.as_dict(lang), status_code=status)
        if exc.code == "unauthenticated":
            from fastapi.responses import RedirectResponse

            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        error = page_error(status, lang, exc.as_dict(lang)["error"])
        return render(request, "error.html", status_code=status, error=error)

    @api.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """No such page (404) or method (405): the API keeps FastAPI's ``{"detail"}``, pages say it in words."""
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

    from ecert.entrypoints.web import routes_authority, routes_holder, routes_ops, routes_public

    api.include_router(routes_ops.router)
    api.include_router(routes_public.router)
    api.include_router(routes_holder.router)
    api.include_router(routes_authority.router)
    return api


def create_app_from_env() -> FastAPI:
    """For ``uvicorn --factory`` (``ecert serve`` with several workers): settings from the environment."""
    from ecert.bootstrap import bootstrap
    from ecert.config import load_settings
    from ecert.entrypoints.web import logs

    logs.configure()
    core = bootstrap(load_settings())
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
