"""Sign-in and sign-out: the pages (``/login``, ``/logout``) and the API (``/api/v1/session``).
Throttled per user name and per client, every attempt in the audit log (R-ACC-1)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from ecert.adapters.db.sessions import RateLimiter
from ecert.domain.errors import EcertError
from ecert.entrypoints.web.deps import COOKIE, check_csrf, client_address, ctx, session_of
from ecert.entrypoints.web.deps import is_local_path as _local
from ecert.entrypoints.web.deps import set_session_cookie as _set_cookie
from ecert.entrypoints.web.i18n import request_lang
from ecert.entrypoints.web.platform import end_platform_session
from ecert.entrypoints.web.second_factor_gate import api_sign_in, page_after_password, required_after_password
from ecert.entrypoints.web.templating import render
from ecert.services import accounts

router = APIRouter()
LOGIN_LIMIT = 5
USERNAME_ECHO = 256  # a failed sign-in shows the user name typed, up to this many characters
LOGIN_WINDOW = timedelta(minutes=15)


def _login(request: Request, username: str, password: str) -> tuple[str, str, str]:
    """Returns (cookie token, role, csrf). Throttled per user name and per client (R-ACC-1)."""
    c = ctx(request)
    limiter = RateLimiter(c.core.engine, limit=LOGIN_LIMIT, window=LOGIN_WINDOW)
    keys = (f"login:user:{username[:64]}", f"login:ip:{client_address(request)}")
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
            payload={"client": client_address(request)},
        )
        uow.commit()
    if not ok or user is None:
        for k in keys:
            limiter.hit(k)
        raise EcertError("unauthenticated")
    limiter.reset(keys[0])
    token, session = c.sessions.create(user.username)
    return token, user.role, session.csrf_token


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
        token, role, _ = _login(request, username, password)
    except EcertError as exc:
        if exc.code not in ("unauthenticated", "rate_limited"):
            raise
        # The user name is offered again (the template escapes it); the password never is.
        return render(
            request, "login.html", status_code=429 if exc.code == "rate_limited" else 401,
            error=exc.message(request_lang(request)), next=next, username=username[:USERNAME_ECHO],
        )  # fmt: skip
    target = next if _local(next) else _home_for(role)
    if required_after_password(request, role):  # staff: the second factor first (issue 17)
        target = page_after_password(target)
    response = RedirectResponse(target, status_code=303)
    _set_cookie(request, response, token)
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
    token, role, csrf = _login(request, username, password)
    token, csrf, second = api_sign_in(request, username, role, token, csrf, body.get("totp"))
    response = JSONResponse({"username": username, "role": role, "csrf_token": csrf, "second_factor": second})
    _set_cookie(request, response, token)
    return response


@router.delete("/api/v1/session", tags=["session"])
def api_logout(request: Request) -> JSONResponse:
    response = JSONResponse({"signed_out": True})
    _end_session(request, response, None)
    return response
