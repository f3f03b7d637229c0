"""The authority staff's second factor on the web (issue 17, R-ACC-1; services/second_factor.py).

Pages: ``/login/second-factor`` — after the password, a reviewer or admin either enrols (the
``otpauth://`` QR code, an inline PNG, and the secret as text; confirmed with a current code; then the
recovery codes, shown once) or types a code from the authenticator app or a recovery code. Passing
it replaces the session by a new one marked as passed (new cookie, new CSRF token). ``/admin/staff``:
the staff accounts and their enrolment; an administrator resets a colleague's factor there.

API: ``POST /api/v1/session`` takes an optional ``totp`` (code or recovery code) and says in
``second_factor`` what is left: ``not_required`` (holders, or ECERT_STAFF_2FA=off), ``passed``,
``required`` (enrolled: send a code to ``POST /api/v1/session/second-factor``) or
``enrolment_required`` (``GET /api/v1/session/second-factor`` gives the secret and its URI; the same
POST with a current code confirms it and returns the recovery codes once).

Wrong codes are throttled per user (5 in 15 minutes, then ``rate_limited``), like passwords."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import segno
from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from ecert.adapters.db.users import User
from ecert.domain import provinces
from ecert.domain.dates import in_cst
from ecert.domain.errors import EcertError
from ecert.entrypoints.web.deps import COOKIE, check_csrf, ctx, needs_second_factor
from ecert.entrypoints.web.deps import is_local_path as _local
from ecert.entrypoints.web.deps import set_session_cookie as _set_cookie
from ecert.entrypoints.web.errors import http_status
from ecert.entrypoints.web.i18n import request_lang
from ecert.entrypoints.web.routes_authority import admin
from ecert.entrypoints.web.routes_session import _home_for
from ecert.entrypoints.web.second_factor_gate import PAGE, check_code, elevate, signed_in_staff
from ecert.entrypoints.web.templating import render
from ecert.services import second_factor

router = APIRouter()
_REFUSED = ("second_factor_invalid", "second_factor_reused", "rate_limited")


def _target(role: str, next: str) -> str:
    """Where passing the factor leads: ``next`` if it is a path on this site (no open redirect), else
    the role's home page (routes_session's rules)."""
    return next if _local(next) else _home_for(role)


def _qr_image(uri: str) -> str:
    """The ``otpauth://`` URI as an inline PNG data URI (no request leaves the page)."""
    return str(segno.make(uri, error="m").png_data_uri(scale=5, border=2))


def _form(request: Request, user: User, next: str, status_code: int = 200, **extra: Any) -> Response:
    c = ctx(request).core
    enrolment = None
    if not second_factor.enrolled(c.uow(), user.username):
        e = second_factor.start_enrolment(c.uow(), user.username, now=c.clock.now())
        enrolment = {"secret": e.secret, "uri": e.uri, "qr": _qr_image(e.uri)}
    return render(
        request,
        "second_factor.html",
        status_code=status_code,
        user=user,
        next=_target(user.role, next),
        enrolment=enrolment,
        **extra,
    )


@router.get(PAGE, include_in_schema=False)
def factor_form(request: Request, next: str = "") -> Response:
    user = signed_in_staff(request)
    if not needs_second_factor(request, user):
        return RedirectResponse(_target(user.role, next), status_code=303)
    return _form(request, user, next)


@router.post(PAGE, include_in_schema=False)
def factor_submit(request: Request, code: str = Form(""), csrf: str = Form(""), next: str = Form("")) -> Response:
    user = signed_in_staff(request)
    check_csrf(request, csrf)
    target = _target(user.role, next)
    try:
        passed, codes = check_code(request, user.username, code)
    except EcertError as exc:
        if exc.code not in _REFUSED:
            raise
        return _form(request, user, target, status_code=http_status(exc), error=exc.message(request_lang(request)))
    token, csrf = elevate(request, user.username, passed, request.cookies.get(COOKIE))
    if codes:  # a new enrolment: the recovery codes, once
        response: Response = render(request, "second_factor_codes.html", user=user, codes=codes, next=target)
    else:
        response = RedirectResponse(target, status_code=303)
    _set_cookie(request, response, token)
    return response


@router.get("/api/v1/session/second-factor", tags=["session"])
def api_factor(request: Request) -> JSONResponse:
    """The signed-in staff member's second factor: ``enrolled``, ``passed``; while not enrolled, the
    secret and ``otpauth_uri`` of the enrolment under way (confirm it with the POST)."""
    user = signed_in_staff(request)
    c = ctx(request).core
    body: dict[str, Any] = {
        "username": user.username,
        "enrolled": second_factor.enrolled(c.uow(), user.username),
        "passed": not needs_second_factor(request, user),
    }
    if not body["enrolled"]:
        e = second_factor.start_enrolment(c.uow(), user.username, now=c.clock.now())
        body.update(secret=e.secret, otpauth_uri=e.uri)
    return JSONResponse(body)


@router.post("/api/v1/session/second-factor", tags=["session"])
def api_pass_factor(request: Request, body: dict[str, str]) -> JSONResponse:
    """Pass the second factor with ``{"code": …}`` (a current code or a recovery code; while not
    enrolled, a current code confirms the enrolment and ``recovery_codes`` are returned, once). Send
    the session's CSRF token as X-CSRF-Token; the answer's ``csrf_token`` is the new session's."""
    user = signed_in_staff(request)
    check_csrf(request, None)
    passed, codes = check_code(request, user.username, str(body.get("code", "")))
    out: dict[str, Any] = {"username": user.username, "second_factor": "passed", "method": passed.method}
    if codes:
        out["recovery_codes"] = codes
    elif passed.recovery_codes_left is not None:
        out["recovery_codes_left"] = passed.recovery_codes_left
    token, out["csrf_token"] = elevate(request, user.username, passed, request.cookies.get(COOKIE))
    response = JSONResponse(out)
    _set_cookie(request, response, token)
    return response


# ------------------------------------------------------------------------------------ administrators


@router.get("/admin/staff", include_in_schema=False)
def admin_staff(request: Request, reset: str = "") -> Response:
    """Every reviewer and admin, enrolled or not, with a reset button for each colleague."""
    user = admin(request)
    c = ctx(request).core
    staff = [
        {
            "username": s.username,
            "role": s.role,
            "province": provinces.abbreviation(s.province_code) if s.province_code else "",
            "enrolled_at": in_cst(s.enrolled_at).strftime("%Y-%m-%d %H:%M") if s.enrolled_at else None,
            "recovery_codes_left": s.recovery_codes_left,
        }
        for s in second_factor.staff_factors(c.uow())
    ]
    known = {s["username"] for s in staff}
    return render(request, "admin_staff.html", user=user, staff=staff, reset=reset if reset in known else "")


@router.post("/admin/staff/{username}/second-factor/reset", include_in_schema=False)
def admin_reset(request: Request, username: str, csrf: str = Form("")) -> Response:
    """Reset a colleague's second factor (audited; their sessions end; they enrol again)."""
    user = admin(request)
    check_csrf(request, csrf)
    c = ctx(request).core
    second_factor.reset(c.uow(), username, actor=user.username, now=c.clock.now(), by=user.username)
    return RedirectResponse(f"/admin/staff?reset={quote(username)}", status_code=303)
