"""The platform sign-in's parts of the web tier (R-ACC-1), for its routes (routes_platform.py) and for
sign-out (routes_session.py): the configured relying party, the pre-login cookie, where the
platform sends the browser back, and the end-session request of a session that came from it."""

from __future__ import annotations

from fastapi import Request, Response

from ecert.adapters.db.platform_logins import PendingLogins, PlatformSessions
from ecert.adapters.oidc import OidcClient
from ecert.entrypoints.web.deps import COOKIE, ctx, parts, session_of
from ecert.entrypoints.web.templating import render

# The random value that binds a sign-in's ``state`` to the browser that started it (login CSRF):
# only sent back to the callback.
PRELOGIN_COOKIE = "ecert_platform_login"
CALLBACK_PATH = "/auth/callback"


def client_of(request: Request) -> OidcClient | None:
    return parts(request.app).platform


def site_url(request: Request, path: str) -> str:
    """``path`` on this site as the browser reaches it (the platform registers these URLs)."""
    return str(request.base_url).rstrip("/") + path


def pending_logins(request: Request) -> PendingLogins:
    return PendingLogins(ctx(request).core.engine)


def platform_sessions(request: Request) -> PlatformSessions:
    return PlatformSessions(ctx(request).core.engine)


def end_session_location(request: Request) -> str | None:
    """At sign-out of a session that came from the platform: the platform's end-session URL
    (with the ID token as ``id_token_hint``, back to this site's home page), its record forgotten.
    None for any other session, or a platform without an end-session endpoint."""
    client = client_of(request)
    if client is None or session_of(request) is None:
        return None
    id_token = platform_sessions(request).take(request.cookies.get(COOKIE))
    if id_token is None:
        return None
    return client.end_session_url(id_token, site_url(request, "/"))


def end_platform_session(request: Request, signed_out: Response) -> Response:
    """``signed_out`` (the sign-out's answer here), or for a session that came from the platform a
    page that takes the browser on to the platform's end-session URL. A page, not a redirect: the
    site's Content-Security-Policy (``form-action 'self'``) rightly stops a form's redirect to
    another origin, so the page moves on by itself (``<meta http-equiv=refresh>``) or by its link."""
    location = end_session_location(request)
    if location is None:
        return signed_out
    page = render(request, "platform_logout.html", user=None, location=location)
    page.delete_cookie(COOKIE, path="/")
    return page
