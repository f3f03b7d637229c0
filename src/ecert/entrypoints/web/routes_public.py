"""Public verification (no login, R-DOC-4, R-DOC-5, R-CHG-3) and sign-in.

What the QR code opens: ``/v/<token>`` — the verdict first (in colour and words), then the holder's
name, masked ID number, registration number, employer, specialties, the usage window and the
signature image to compare with the handwritten one. Rate-limited per client; a forged or
truncated token is a "cannot verify" verdict, never a 500. Every verification is recorded in the
verification log (R-ACC-1; adapters/db/verification_log.py): in memory per process, written to the
database and sealed into the audit chain in batches by :func:`lifespan`'s background task.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import os
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from prometheus_client import Counter
from starlette.concurrency import run_in_threadpool
from starlette.requests import cookie_parser

from ecert.adapters.db.certificates import SNAPSHOT_SQL_PG, VerificationSnapshot, snapshot_from_rows
from ecert.adapters.db.engine import AsyncReadPool
from ecert.adapters.db.verification_log import VerificationLog
from ecert.bootstrap import App
from ecert.domain import messages
from ecert.domain.dates import CST
from ecert.domain.errors import BadInput, EcertError, problem
from ecert.entrypoints.web import metrics
from ecert.entrypoints.web.app import SCANNER_HEADERS, HeadersAndMetrics, render, render_anonymous
from ecert.entrypoints.web.deps import COOKIE, check_csrf, ctx, session_of
from ecert.entrypoints.web.i18n import request_lang
from ecert.entrypoints.web.ratelimit import ClientBuckets, make_limiter

__all__ = ["BUCKETS", "ClientBuckets", "lifespan", "router", "verification_log"]
from ecert.adapters.db.sessions import RateLimiter
from ecert.services import accounts, verification

router = APIRouter()
MAX_PDF = 5 * 1024 * 1024
GENUINE = {"valid", "expired", "not_yet_valid", "superseded", "revoked"}
VERDICTS = frozenset(messages.terms("status.certificate", "en"))


BUCKETS = make_limiter()  # Redis-shared when ECERT_REDIS_URL is set, else per process (ratelimit.py)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _limit(request: Request) -> None:
    if not BUCKETS.allow(_client(request)):
        raise EcertError("rate_limited")


async def _allow(client: str) -> bool:
    """The limit, from the event loop: the in-process buckets directly, anything doing I/O (Redis)
    on a worker thread, so a slow or unreachable Redis never stalls every request of the process."""
    limiter = BUCKETS
    if isinstance(limiter, ClientBuckets):
        return limiter.allow(client)
    return await run_in_threadpool(limiter.allow, client)


async def _limit_async(request: Request) -> None:
    if not await _allow(_client(request)):
        raise EcertError("rate_limited")


@functools.lru_cache(maxsize=256)
def _check_list(
    lang: str, channel: str, checks: tuple[tuple[str, bool | None], ...]
) -> tuple[tuple[bool | None, str], ...]:
    """The page's list of checks in words, (passed, line): a few dozen outcomes ever occur (the hot QR page)."""
    return tuple((c.passed, c.text(lang)) for c in verification.check_lines(dict(checks), channel))


def _verdict_context(
    lang: str, result: verification.VerificationResult, token: str | None, channel: str, checked_at: datetime
) -> dict[str, Any]:
    """What verify_result.html shows: the verdict, when it was reached (China time, R-DATE-1), each
    check as passed, failed or not made, and the signature image's link for a genuine token only."""
    d = result.as_dict(lang)
    status = result.status if result.status in VERDICTS else "indeterminate"
    at = checked_at.astimezone(CST)
    return {
        "result": d,
        "verdict": messages.term("status.certificate", status, lang),
        "status": result.status,
        "token": token if result.status in GENUINE else None,
        "content": result.content,
        "checks": _check_list(lang, channel, tuple(result.checks.items())),
        "checked_at": at.strftime("%Y-%m-%d %H:%M:%S"),
        "checked_at_iso": at.isoformat(timespec="seconds"),
    }


# Verified QR tokens remembered per process (about 0.8 kB each; 16,384 ≈ 13 MB); 0 turns the cache off.
TOKEN_CACHE = int(os.environ.get("ECERT_QR_TOKEN_CACHE", "16384"))


VERIFY_LOG_DROPPED = Counter(
    "ecert_verification_log_dropped_total",
    "Verifications not written to the verification log (its buffer was full: the database was down or slow)",
    registry=metrics.REGISTRY,
)


def verification_log(app: Any) -> VerificationLog:
    """The application's verification log (one per process, R-ACC-1)."""
    state = app.state
    vlog: VerificationLog | None = getattr(state, "verification_log", None)
    if vlog is None:
        core = state.ctx.core
        vlog = state.verification_log = VerificationLog(core.engine, core.clock.now, on_drop=VERIFY_LOG_DROPPED.inc)
    return vlog


@contextlib.asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """The verification log's writer (R-ACC-1): a batch every second or so while the process
    serves, and the last one when it stops (a hard crash loses at most about one interval)."""
    vlog = verification_log(app)
    task = asyncio.create_task(vlog.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await vlog.close()


class FastVerify:
    """The QR check's hot path, per process: verified tokens remembered (LRU) and, on PostgreSQL, the
    registry read as one statement on an async autocommit connection (no thread hop). The verdict
    is :func:`verification.judge`'s, the same as :func:`verification.verify_qr`'s. With a ``log``,
    each verification is recorded in it (a list append: the page does no extra I/O, R-ACC-1)."""

    def __init__(self, core: App, log: VerificationLog | None = None) -> None:
        self.core = core
        self.log = log
        self.pool = AsyncReadPool(core.engine) if core.engine.dialect.name == "postgresql" else None
        self._tokens: verification.VerifiedTokens | None = None

    @property
    def tokens(self) -> verification.VerifiedTokens:
        if self._tokens is None:  # the keys are read on first use, not when the app is built
            self._tokens = verification.VerifiedTokens(self.core.qr_public_keys, TOKEN_CACHE)
        return self._tokens

    async def snapshot(self, serial: str) -> VerificationSnapshot | None:
        assert self.pool is not None
        return snapshot_from_rows(await self.pool.fetch(SNAPSHOT_SQL_PG, (serial,)))

    async def verify(self, text: str, channel: str = "qr") -> verification.VerificationResult:
        core = self.core
        if self.pool is None:  # SQLite: the synchronous read, off the event loop
            result = await run_in_threadpool(
                verification.verify_qr, core.uow(), text, keys=core.qr_public_keys, today=core.clock.today(),
                policy=core.policy, decode_token=self.tokens,
            )  # fmt: skip
        else:
            result = await verification.verify_qr_async(
                self.snapshot, text, decode_token=self.tokens, today=core.clock.today(), policy=core.policy
            )
        metrics.VERIFICATIONS.labels("qr", result.status).inc()
        if self.log is not None:
            self.log.record(channel, result.serial, result.registration_no, result.status)
        return result


def fast_verify(app: Any) -> FastVerify:
    """The application's :class:`FastVerify` (one per process)."""
    state = app.state
    fast: FastVerify | None = getattr(state, "fast_verify", None)
    if fast is None:
        fast = state.fast_verify = FastVerify(state.ctx.core, verification_log(app))
    return fast


_HTML = [(b"content-type", b"text/html; charset=utf-8")]


class QrPageFastPath:
    """The outermost ASGI layer: ``GET /V/<token>`` from an anonymous visitor is answered here, with
    the same verdict, page, security headers, metrics and request log, but without the framework's
    error, routing, dependency and response layers (the page a scanned QR code opens is the
    hottest URL). Everything else — a session cookie (the nav names the user), a query string
    (``?lang=``), HEAD, a client over its rate limit — goes on to the application, whose route
    :func:`verify_page` answers as before."""

    def __init__(self, app: Any, api: Any) -> None:
        self.app = app
        self.api = api
        self.measured = HeadersAndMetrics(self._respond)
        self.routes = {
            prefix: next(r for r in router.routes if getattr(r, "path", None) == f"{prefix}{{token}}")
            for prefix in ("/V/", "/v/")
        }  # what metrics and the request log name (Starlette sets it when it routes)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self._take(scope):
            client = scope.get("client")
            if await _allow(client[0] if client else "unknown"):
                await self.measured(scope, receive, send)
                return
            del scope["route"], scope["ecert.qr"]  # the route answers 429 (the bucket stays empty)
        await self.app(scope, receive, send)

    def _take(self, scope: Any) -> bool:
        path: str = scope["path"]
        route = self.routes.get(path[:3])
        token = path[3:]
        if route is None or scope["method"] != "GET" or not token or "/" in token or scope.get("query_string"):
            return False
        lang = "zh"
        for name, value in scope["headers"]:
            if name == b"cookie":
                jar = cookie_parser(value.decode("latin-1"))
                if COOKIE in jar:
                    return False
                lang = "en" if jar.get("lang") == "en" else "zh"
                break
        scope["route"] = route
        scope["ecert.qr"] = (token, lang)
        return True

    async def _respond(self, scope: Any, receive: Any, send: Any) -> None:
        token, lang = scope["ecert.qr"]
        fast = fast_verify(self.api)
        result = await fast.verify(token)
        context = _verdict_context(lang, result, token, "qr", fast.core.clock.now())
        body = render_anonymous(lang, "verify_result.html", demo=fast.core.demo_seal, **context).encode()
        headers = [*_HTML, (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _verify_token(request: Request, text: str) -> verification.VerificationResult:
    """For the signature image only, which the QR page shows: that page's verification is the one
    logged (R-ACC-1), not this second check of the same token by the same visit."""
    core = ctx(request).core
    result = verification.verify_qr(
        core.uow(), text, keys=core.qr_public_keys, today=core.clock.today(), policy=core.policy
    )
    metrics.VERIFICATIONS.labels("qr", result.status).inc()
    return result


@router.get("/", include_in_schema=False)
def index(request: Request) -> Response:
    response = render(request, "index.html", qr_base=ctx(request).core.keys.base_url)
    response.headers.update(SCANNER_HEADERS)  # the page has the QR scanner
    return response


STATIC = Path(__file__).parent / "static"
ICON_CACHE = "public, max-age=604800"  # a week: the icon almost never changes; the ETag revalidates it after


@functools.cache
def _icon(name: str) -> tuple[bytes, str]:
    """A site icon's bytes and ETag, read once per process (static/favicon.ico is favicon.svg drawn at
    16, 32 and 48 px)."""
    data = (STATIC / name).read_bytes()
    return data, f'"{hashlib.sha256(data).hexdigest()[:16]}"'


def _icon_response(request: Request, name: str, media: str) -> Response:
    data, etag = _icon(name)
    headers = {"Cache-Control": ICON_CACHE, "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=media, headers=headers)


@router.get("/favicon.ico", include_in_schema=False)
def favicon_ico(request: Request) -> Response:
    return _icon_response(request, "favicon.ico", "image/x-icon")


@router.get("/favicon.svg", include_in_schema=False)
def favicon_svg(request: Request) -> Response:
    return _icon_response(request, "favicon.svg", "image/svg+xml")


@router.get("/v/{token}", include_in_schema=False)
@router.get("/V/{token}", include_in_schema=False)
async def verify_page(request: Request, token: str) -> Response:
    await _limit_async(request)
    fast = fast_verify(request.app)
    result = await fast.verify(token)
    lang = request_lang(request)
    context = _verdict_context(lang, result, token, "qr", fast.core.clock.now())
    if COOKIE in request.cookies or "lang" in request.query_params:  # the nav shows who is signed in
        return await run_in_threadpool(render, request, "verify_result.html", **context)
    return HTMLResponse(render_anonymous(lang, "verify_result.html", demo=ctx(request).core.demo_seal, **context))


@router.get("/v/{token}/signature.png", include_in_schema=False)
@router.get("/V/{token}/signature.png", include_in_schema=False)
def signature_image(request: Request, token: str) -> Response:
    """R-DOC-5: the holder's signature image, for a genuine token only."""
    _limit(request)
    result = _verify_token(request, token)
    if result.status not in GENUINE or result.registration_no is None:
        raise EcertError("not_found", params={"what": "signature_image", "key": "-"})
    with ctx(request).core.uow() as uow:
        image = uow.certificates.images(result.registration_no).get("signature")
    if image is None:
        raise EcertError("not_found", params={"what": "signature_image", "key": "-"})
    media = "image/png" if image.startswith(b"\x89PNG") else "image/jpeg"
    return Response(image, media_type=media, headers={"Cache-Control": "no-store"})


@router.get("/verify", include_in_schema=False)
def upload_form(request: Request) -> Response:
    return render(request, "verify_upload.html")


async def _read_pdf(file: UploadFile) -> bytes:
    data = await file.read(MAX_PDF + 1)
    if len(data) > MAX_PDF:
        raise BadInput([problem("文件超过 5 MB", "The file is larger than 5 MB", column="file")])
    return data


def _verify_pdf(request: Request, data: bytes, now: datetime) -> verification.VerificationResult:
    core = ctx(request).core
    result = verification.verify_pdf(
        core.uow(),
        data,
        check_signature=core.signature_checker,
        keys=core.qr_public_keys,
        today=core.clock.today(),
        now=now,
        policy=core.policy,
    )
    metrics.VERIFICATIONS.labels("pdf", result.status).inc()
    return result


@router.post("/verify", include_in_schema=False)
async def upload_verify(request: Request, file: UploadFile = File(...)) -> Response:  # noqa: B008
    await _limit_async(request)
    data = await _read_pdf(file)
    checked_at = ctx(request).core.clock.now()
    result = await run_in_threadpool(_verify_pdf, request, data, checked_at)
    verification_log(request.app).record("pdf", result.serial, result.registration_no, result.status)
    # R-DOC-5: the signature image, as on the QR page, through the document's own QR token; only for a
    # genuine verdict (_verdict_context): a forged or altered file must not fetch a holder's image.
    context = _verdict_context(request_lang(request), result, result.token, "pdf", checked_at)
    return render(request, "verify_result.html", **context)


# ------------------------------------------------------------------------------------------ API


@router.get("/api/v1/verify/{token}", tags=["verification"])
async def api_verify_token(request: Request, token: str) -> JSONResponse:
    """Verify what a scanner read from the QR code (the token or the whole URL)."""
    await _limit_async(request)
    return JSONResponse((await fast_verify(request.app).verify(token, "api")).as_dict(request_lang(request)))


@router.post("/api/v1/verify/pdf", tags=["verification"])
async def api_verify_pdf(request: Request, file: UploadFile = File(...)) -> JSONResponse:  # noqa: B008
    """Verify a certificate PDF: seal, integrity, QR binding, registry state, usage window."""
    await _limit_async(request)
    data = await _read_pdf(file)
    result = await run_in_threadpool(_verify_pdf, request, data, ctx(request).core.clock.now())
    verification_log(request.app).record("api", result.serial, result.registration_no, result.status)
    return JSONResponse(result.as_dict(request_lang(request)))


# ------------------------------------------------------------------------------------------ sign-in

LOGIN_LIMIT = 5
USERNAME_ECHO = 256  # a failed sign-in shows the user name typed, up to this many characters
LOGIN_WINDOW = timedelta(minutes=15)


def _login(request: Request, username: str, password: str) -> tuple[str, str, str]:
    """Returns (cookie token, role, csrf). Throttled per user name and per client (R-ACC-1)."""
    c = ctx(request)
    limiter = RateLimiter(c.core.engine, limit=LOGIN_LIMIT, window=LOGIN_WINDOW)
    keys = (f"login:user:{username[:64]}", f"login:ip:{_client(request)}")
    if any(limiter.exceeded(k) for k in keys):
        raise EcertError("rate_limited")
    now = c.core.clock.now()
    with c.core.uow() as uow:
        user = uow.users.get(username)
    ok = user is not None and not user.disabled and accounts.check_password(user, password)
    with c.core.uow() as uow:
        uow.audit.append(
            at=now,
            actor=username[:64],
            action="auth.login" if ok else "auth.login_failed",
            subject=None,
            payload={"client": _client(request)},
        )
        uow.commit()
    if not ok or user is None:
        for k in keys:
            limiter.hit(k)
        raise EcertError("unauthenticated")
    limiter.reset(keys[0])
    token, session = c.sessions.create(user.username)
    return token, user.role, session.csrf_token


def _set_cookie(request: Request, response: Response, token: str) -> None:
    secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
    response.set_cookie(COOKIE, token, httponly=True, samesite="lax", secure=secure, max_age=8 * 3600, path="/")


def _home_for(role: str) -> str:
    return {"holder": "/me", "reviewer": "/review", "admin": "/admin"}.get(role, "/")


@router.get("/login", include_in_schema=False)
def login_form(request: Request, next: str = "") -> Response:
    return render(request, "login.html", next=next if next.startswith("/") and not next.startswith("//") else "")


@router.post("/login", include_in_schema=False)
def login_submit(
    request: Request, username: str = Form(...), password: str = Form(...), next: str = Form("")
) -> Response:
    try:
        token, role, _ = _login(request, username, password)
    except EcertError as exc:
        if exc.code not in ("unauthenticated", "rate_limited"):
            raise
        # The user name is offered again (the template escapes it); the password never is.
        return render(
            request, "login.html", status_code=429 if exc.code == "rate_limited" else 401,
            error=exc.message(request_lang(request)), next=next, username=username[:USERNAME_ECHO],
        )  # fmt: skip
    target = next if next.startswith("/") and not next.startswith("//") else _home_for(role)
    response = RedirectResponse(target, status_code=303)
    _set_cookie(request, response, token)
    return response


@router.post("/logout", include_in_schema=False)
def logout(request: Request, csrf: str = Form("")) -> Response:
    if session_of(request) is not None:
        check_csrf(request, csrf)
        ctx(request).sessions.delete(request.cookies.get(COOKIE))
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.post("/api/v1/session", tags=["session"])
def api_login(request: Request, body: dict[str, str]) -> JSONResponse:
    """Sign in; the session cookie is set and the CSRF token returned (send it as X-CSRF-Token)."""
    username, password = str(body.get("username", "")), str(body.get("password", ""))
    token, role, csrf = _login(request, username, password)
    response = JSONResponse({"username": username, "role": role, "csrf_token": csrf})
    _set_cookie(request, response, token)
    return response


@router.delete("/api/v1/session", tags=["session"])
def api_logout(request: Request) -> JSONResponse:
    if session_of(request) is not None:
        check_csrf(request, None)
        ctx(request).sessions.delete(request.cookies.get(COOKIE))
    response = JSONResponse({"signed_out": True})
    response.delete_cookie(COOKIE, path="/")
    return response
