"""The staff second factor's steps the sign-in routes share (issue 17, R-ACC-1;
services/second_factor.py): whether a sign-in still needs it, checking a code (throttled per user:
5 wrong in 15 minutes, then ``rate_limited``), and replacing the session by one that passed it.
``routes_session`` (the password) and ``routes_second_factor`` (the factor's pages and API) use it;
it imports neither."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from fastapi import Request

from ecert.adapters.db.sessions import RateLimiter
from ecert.adapters.db.users import User
from ecert.domain.errors import EcertError
from ecert.entrypoints.web.deps import client_address, ctx, current_user
from ecert.services import second_factor
from ecert.services.second_factor import Passed

FACTOR_LIMIT = 5
FACTOR_WINDOW = timedelta(minutes=15)
PAGE = "/login/second-factor"


def page_after_password(target: str) -> str:
    """Where the sign-in form leads a staff member who still has to pass the second factor, on the way
    to ``target`` (a path on this site)."""
    return f"{PAGE}?next={quote(target, safe='/')}"


def signed_in_staff(request: Request) -> User:
    """The password is passed (a session); the second factor is what this page is for."""
    user = current_user(request)
    if user is None:
        raise EcertError("unauthenticated")
    if not second_factor.is_staff(user.role):
        raise EcertError("forbidden", rule="R-ACC-1")
    return user


def _limiter(request: Request) -> RateLimiter:
    return RateLimiter(ctx(request).core.engine, limit=FACTOR_LIMIT, window=FACTOR_WINDOW)


def check_code(request: Request, username: str, code: str) -> tuple[Passed, list[str]]:
    """Verify ``code`` (or confirm the enrolment under way with it), throttled per user. The
    recovery codes when this confirmed an enrolment, else none."""
    web = ctx(request)
    c = web.core
    limiter, key = _limiter(request), f"2fa:user:{username[:64]}"
    if limiter.exceeded(key):
        raise EcertError("rate_limited")
    unix_time, now, client = web.wall_time(), c.clock.now(), client_address(request)
    try:
        if second_factor.enrolled(c.uow(), username):
            passed = second_factor.verify(c.uow(), username, code, unix_time=unix_time, now=now, client=client)
            codes: list[str] = []
        else:
            passed, codes = second_factor.confirm_enrolment(
                c.uow(), username, code, unix_time=unix_time, now=now, client=client
            )
    except EcertError as exc:
        if exc.code in ("second_factor_invalid", "second_factor_reused"):
            limiter.hit(key)
        raise
    limiter.reset(key)
    return passed, codes


def elevate(request: Request, username: str, passed: Passed, old_token: str | None) -> tuple[str, str]:
    """Replace the session by a new one that passed the second factor (a session id never gains
    privileges): its cookie token and CSRF token."""
    sessions = ctx(request).sessions
    token, session = sessions.create(username, second_factor_enrolled_at=passed.enrolled_at)
    sessions.delete(old_token)
    return token, session.csrf_token


def required_after_password(request: Request, role: str) -> bool:
    """Whether a password sign-in of ``role`` still has the second factor to pass (ECERT_STAFF_2FA)."""
    return second_factor.is_staff(role) and ctx(request).core.settings.web.staff_2fa


def api_sign_in(
    request: Request, username: str, role: str, token: str, csrf: str, code: str | None
) -> tuple[str, str, str]:
    """``POST /api/v1/session`` after the password: (cookie token, CSRF token, ``second_factor``).
    With ``totp`` an enrolled staff member passes at once (a wrong code ends the new session: no
    half-signed-in cookie); an enrolment is confirmed only through the second-factor route, which
    returns the recovery codes."""
    if not required_after_password(request, role):
        return token, csrf, "not_required"
    if not second_factor.enrolled(ctx(request).core.uow(), username):
        return token, csrf, "enrolment_required"
    if not code:
        return token, csrf, "required"
    try:
        passed, _ = check_code(request, username, code)
    except EcertError:
        ctx(request).sessions.delete(token)
        raise
    return *elevate(request, username, passed, token), "passed"
