"""Request dependencies: the core app and the web process's shared parts (``bootstrap.web_parts``),
the client's rate limit, the signed-in user, role checks, CSRF."""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from ecert.adapters.db.sessions import Session, SessionStore
from ecert.adapters.db.users import User
from ecert.adapters.ratelimit import ClientBuckets
from ecert.bootstrap import App, WebParts
from ecert.domain.errors import EcertError
from ecert.services.second_factor import STAFF_ROLES

COOKIE = "ecert_session"
SESSION_MAX_AGE = 8 * 3600  # seconds (adapters/db/sessions.py SESSION_TTL)


@dataclass
class WebContext:
    core: App
    sessions: SessionStore
    # The real Unix time, for TOTP codes (never the drills' ECERT_TODAY clock); tests may set another.
    wall_time: Callable[[], float] = field(default=time.time)


def ctx(request: Request) -> WebContext:
    return request.app.state.ctx  # type: ignore[no-any-return]


def parts(app: Any) -> WebParts:
    """The application's limiter, verification log and QR hot path (built by ``create_app``)."""
    return app.state.web  # type: ignore[no-any-return]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def allow(app: Any, client: str) -> bool:
    """The public pages' limit (R-DOC-4), from the event loop: the in-process buckets directly,
    anything doing I/O (Redis) on a worker thread, so a slow or unreachable Redis never stalls every
    request of the process."""
    limiter = parts(app).limiter
    if isinstance(limiter, ClientBuckets):
        return limiter.allow(client)
    return await run_in_threadpool(limiter.allow, client)


def limit(request: Request) -> None:
    """The limit from a worker thread (a synchronous route)."""
    if not parts(request.app).limiter.allow(client_address(request)):
        raise EcertError("rate_limited")


async def limit_async(request: Request) -> None:
    if not await allow(request.app, client_address(request)):
        raise EcertError("rate_limited")


def session_of(request: Request) -> Session | None:
    if "session" in request.state._state:  # looked up once per request
        cached: Session | None = request.state.session
        return cached
    s = ctx(request).sessions.get(request.cookies.get(COOKIE))
    request.state.session = s
    return s


def current_user(request: Request) -> User | None:
    s = session_of(request)
    if s is None:
        return None
    user = s.user  # read with the session, in the same statement (the account may be gone: None)
    return None if user is None or user.disabled else user


def require_user(request: Request, *roles: str) -> User:
    user = current_user(request)
    if user is None:
        raise EcertError("unauthenticated")
    if roles and user.role not in roles:
        raise EcertError("forbidden", rule="R-ACC-1")
    if needs_second_factor(request, user):
        raise EcertError("second_factor_required", rule="R-ACC-1")
    return user


def needs_second_factor(request: Request, user: User) -> bool:
    """A reviewer or admin whose session has not passed the second factor (ECERT_STAFF_2FA=required):
    their pages and API routes are refused until it has (services/second_factor.py)."""
    if user.role not in STAFF_ROLES or not ctx(request).core.settings.web.staff_2fa:
        return False
    s = session_of(request)
    return s is None or not s.second_factor


def check_csrf(request: Request, token: str | None) -> None:
    """Every state-changing request of a signed-in user carries the session's CSRF token, in the form
    field ``csrf`` or the header ``X-CSRF-Token``."""
    s = session_of(request)
    given = token or request.headers.get("x-csrf-token") or ""
    if s is None or not hmac.compare_digest(given.encode(), s.csrf_token.encode()):
        raise EcertError("csrf_failed")


def is_secure(request: Request) -> bool:
    """The scheme as uvicorn settled it: X-Forwarded-Proto counts only from a trusted proxy (ECERT_TRUSTED_PROXIES)."""
    return request.url.scheme == "https"


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="lax", secure=is_secure(request), max_age=SESSION_MAX_AGE, path="/"
    )


def is_local_path(next: str) -> bool:
    """Only a path on this site may be where a sign-in leads (no open redirect): one leading slash,
    no scheme or host, no backslash (browsers read ``/\\evil.example`` as ``//evil.example``) and no
    control character or space (``/\t/evil.example`` loses its tab on the way)."""
    if not next.startswith("/") or next.startswith("//") or "\\" in next:
        return False
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in next):
        return False
    parts = urlsplit(next)
    return not parts.scheme and not parts.netloc
