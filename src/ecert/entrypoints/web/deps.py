"""Request dependencies: the core app, the signed-in user, role checks, CSRF."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from fastapi import Request

from ecert.adapters.db.sessions import Session, SessionStore
from ecert.adapters.db.users import User
from ecert.bootstrap import App
from ecert.domain.errors import EcertError

COOKIE = "ecert_session"


@dataclass
class WebContext:
    core: App
    sessions: SessionStore


def ctx(request: Request) -> WebContext:
    return request.app.state.ctx  # type: ignore[no-any-return]


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
    return user


def check_csrf(request: Request, token: str | None) -> None:
    """Every state-changing request of a signed-in user carries the session's CSRF token, in the form
    field ``csrf`` or the header ``X-CSRF-Token``."""
    s = session_of(request)
    given = token or request.headers.get("x-csrf-token") or ""
    if s is None or not hmac.compare_digest(given.encode(), s.csrf_token.encode()):
        raise EcertError("csrf_failed")
