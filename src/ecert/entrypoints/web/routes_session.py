"""Sign-in and sign-out: the pages (``/login``, ``/logout``) and the API (``/api/v1/session``).
Throttled with growing delays per client, per account and per known device, checked against
cross-site posts (login CSRF), every attempt in the audit log (R-ACC-1; README "Security: the holes")."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from math import ceil
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from ecert.adapters.db.sessions import Backoff, LoginThrottle, SqlFailures
from ecert.domain.errors import EcertError
from ecert.entrypoints.web.deps import COOKIE, check_csrf, client_address, ctx, parts, session_of
from ecert.entrypoints.web.deps import is_local_path as _local
from ecert.entrypoints.web.deps import set_session_cookie as _set_cookie
from ecert.entrypoints.web.i18n import request_lang
from ecert.entrypoints.web.known_devices import known_device, remember_device
from ecert.entrypoints.web.platform import end_platform_session
from ecert.entrypoints.web.second_factor_gate import api_sign_in, page_after_password, required_after_password
from ecert.entrypoints.web.templating import render
from ecert.services import accounts

router = APIRouter()
USERNAME_ECHO = 256  # a failed sign-in shows the user name typed, up to this many characters
# The sign-in's throttle (R-ACC-1; README "Security: the holes"): per client address, per account (for clients
# that are not a known device of it) and per known device, 5 free failures, then each next attempt
# waits 30 s, 1, 2, 4, 8 min, then 15 min at most after the last failure; a day without a failure
# forgets them. A stranger slows down the account for unknown clients only: its owner's known device
# (known_devices.py) still signs in with the right password.
LOGIN_BACKOFF = Backoff(free=5, base=timedelta(seconds=30), cap=timedelta(minutes=15), forget=timedelta(days=1))


@dataclass(frozen=True)
class _SignedIn:
    token: str
    role: str
    csrf: str
    username: str


def check_same_origin(request: Request) -> None:
    """Login CSRF (README "Security: the holes"): a browser's sign-in must come from this service's own pages.
    ``Sec-Fetch-Site`` (when sent) must be ``same-origin`` or ``none`` (typed, bookmarked); ``Origin``
    (when sent) must be this service's origin — as the request reached it, or ECERT_BASE_URL's. A
    client that sends neither (curl, scripts, the CLI's tools) is not a browser a foreign page can
    drive, and is let through."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site.strip().lower() not in ("same-origin", "none"):
        raise EcertError("cross_site_refused")
    origin = request.headers.get("origin")
    if origin is None or (site is not None and origin.strip().lower() == "null"):
        # No Origin: not a browser page. "null" beside a same-origin Sec-Fetch-Site (which no page can set):
        # the browser hid the origin (a stricter Referrer-Policy), the request is still our own page's.
        return
    own = {f"{request.url.scheme}://{request.url.netloc}".lower()}
    base = urlsplit(ctx(request).core.keys.base_url)
    if base.scheme and base.netloc:
        own.add(f"{base.scheme}://{base.netloc}".lower())
    if origin.strip().lower().rstrip("/") not in own:
        raise EcertError("cross_site_refused")


def _login(request: Request, username: str, password: str) -> _SignedIn:
    """A session for the right password; throttled with growing delays per client, per account and per
    known device (:data:`LOGIN_BACKOFF`), every attempt audited (R-ACC-1). One password-hash
    verification whatever the account (existing, unknown, disabled), so the time taken tells nothing."""
    c = ctx(request)
    check_same_origin(request)
    now = c.core.clock.now()
    wall = datetime.fromtimestamp(ctx(request).wall_time(), UTC)  # real time for delays (never ECERT_TODAY)
    name = username[:64]
    throttle = LoginThrottle(parts(request.app).login_failures or SqlFailures(c.core.engine), LOGIN_BACKOFF)
    device = known_device(request, name, wall)
    # A known device answers for its own failures only; any other client for its address and the account's.
    keys = (f"login:device:{device}",) if device else (f"login:user:{name}", f"login:ip:{client_address(request)}")
    wait = max(throttle.wait(k, wall) for k in keys)
    if wait > timedelta(0):
        raise EcertError("rate_limited", params={"retry_after": str(ceil(wait.total_seconds()))})
    with c.core.uow() as uow:
        user = uow.users.get(username)
    ok = accounts.verify_sign_in(user, password)
    with c.core.uow() as uow:
        uow.audit.append(
            at=now,
            actor=name,
            action="auth.login" if ok else "auth.login_failed",
            subject=None,
            payload={"client": client_address(request), "known_device": device is not None},
        )
        uow.commit()
    if not ok or user is None:
        for k in keys:
            throttle.failed(k, wall)
        raise EcertError("unauthenticated")
    throttle.reset(keys[0])  # the device's failures, or the account's (as before); never the address's
    token, session = c.sessions.create(user.username)
    return _SignedIn(token, user.role, session.csrf_token, user.username)


def _set_cookies(request: Request, response: Response, signed: _SignedIn) -> None:
    """The session cookie, and the device cookie that makes this client a known device of the account."""
    _set_cookie(request, response, signed.token)
    remember_device(request, response, signed.username, datetime.fromtimestamp(ctx(request).wall_time(), UTC))


def _end_session(request: Request, response: Response, csrf: str | None) -> None:
    """Sign out: the session is deleted (a signed-in caller's CSRF token checked first) and the cookie cleared."""
    if session_of(request) is not None:
        check_csrf(request, csrf)
        ctx(request).sessions.delete(request.cookies.get(COOKIE))
    response.delete_cookie(COOKIE, path="/")


def _home_for(role: str) -> str:
    return {"holder": "/me", "reviewer": "/review", "admin": "/admin", "employer": "/roster"}.get(role, "/")


@router.get("/login", include_in_schema=False)
def login_form(request: Request, next: str = "") -> Response:
    return render(request, "login.html", next=next if _local(next) else "")


@router.post("/login", include_in_schema=False)
def login_submit(
    request: Request, username: str = Form(...), password: str = Form(...), next: str = Form("")
) -> Response:
    try:
        signed = _login(request, username, password)
    except EcertError as exc:
        if exc.code not in ("unauthenticated", "rate_limited"):
            raise
        # The user name is offered again (the template escapes it); the password never is.
        page = render(
            request, "login.html", status_code=429 if exc.code == "rate_limited" else 401,
            error=exc.message(request_lang(request)), next=next, username=username[:USERNAME_ECHO],
        )  # fmt: skip
        if exc.params.get("retry_after"):
            page.headers["Retry-After"] = str(exc.params["retry_after"])
        return page
    target = next if _local(next) else _home_for(signed.role)
    if required_after_password(request, signed.role):  # staff: the second factor first (issue 17)
        target = page_after_password(target)
    response = RedirectResponse(target, status_code=303)
    _set_cookies(request, response, signed)
    return response


@router.post("/logout", include_in_schema=False)
def logout(request: Request, csrf: str = Form("")) -> Response:
    response = RedirectResponse("/", status_code=303)
    _end_session(request, response, csrf)
    return end_platform_session(request, response)  # a platform session ends there too (RP-initiated logout)


@router.post("/api/v1/session", tags=["session"])
def api_login(request: Request, body: dict[str, str]) -> JSONResponse:
    """Sign in; the session cookie is set and the CSRF token returned (send it as X-CSRF-Token).
    Reviewers and admins add ``totp`` (a code or a recovery code), or pass the second factor next at
    ``/api/v1/session/second-factor``: ``second_factor`` says which (README "Staff second factor")."""
    username, password = str(body.get("username", "")), str(body.get("password", ""))
    signed = _login(request, username, password)
    token, csrf, second = api_sign_in(request, username, signed.role, signed.token, signed.csrf, body.get("totp"))
    response = JSONResponse({"username": username, "role": signed.role, "csrf_token": csrf, "second_factor": second})
    _set_cookies(request, response, replace(signed, token=token))
    return response


@router.delete("/api/v1/session", tags=["session"])
def api_logout(request: Request) -> JSONResponse:
    response = JSONResponse({"signed_out": True})
    _end_session(request, response, None)
    return response
