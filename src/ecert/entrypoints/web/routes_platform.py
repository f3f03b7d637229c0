"""Holders sign in with the government service platform (OpenID Connect, R-ACC-1):
``GET /login/platform?next=…`` sends the browser to the platform with a fresh ``state``, ``nonce``
and PKCE challenge; ``GET /auth/callback`` takes the sign-in back (single use, in the same browser),
redeems the code, checks the ID token (adapters/oidc.py), matches the person to a registration
(services/platform_signin.py) and starts a new session (a cookie set before is never reused).
Sign-out is ``/logout`` (routes_session.py), which also ends the platform's session."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException

from ecert.adapters.db.sessions import SESSION_TTL
from ecert.adapters.oidc import OidcClient, SignInRefused
from ecert.domain.errors import EcertError
from ecert.domain.messages import Localized
from ecert.entrypoints.web.deps import COOKIE, client_address, ctx, is_local_path, is_secure, limit, set_session_cookie
from ecert.entrypoints.web.errors import http_status
from ecert.entrypoints.web.i18n import request_lang
from ecert.entrypoints.web.platform import (
    CALLBACK_PATH,
    PRELOGIN_COOKIE,
    client_of,
    pending_logins,
    platform_sessions,
    site_url,
)
from ecert.entrypoints.web.templating import render
from ecert.services import platform_signin
from ecert.services.platform_signin import PlatformIdentity, PlatformRefusal

router = APIRouter()
PENDING_SECONDS = 600  # the pre-login cookie lives as long as the pending sign-in (platform_logins.py)


def _client(request: Request) -> OidcClient:
    client = client_of(request)
    if client is None:
        raise HTTPException(404)  # no platform configured: the sign-in does not exist here
    return client


@router.get("/login/platform", include_in_schema=False)
def platform_login(request: Request, next: str = "") -> Response:
    limit(request)  # every visit stores a pending sign-in: the public pages' per-client limit (R-DOC-4)
    auth = _client(request).authorization_request(site_url(request, CALLBACK_PATH))
    browser = secrets.token_urlsafe(32)
    pending_logins(request).start(
        state=auth.state,
        browser=browser,
        nonce=auth.nonce,
        code_verifier=auth.code_verifier,
        next_path=next if is_local_path(next) else None,
    )
    response = RedirectResponse(auth.url, status_code=303)
    response.set_cookie(
        PRELOGIN_COOKIE, browser, httponly=True, samesite="lax", secure=is_secure(request),
        max_age=PENDING_SECONDS, path=CALLBACK_PATH,
    )  # fmt: skip
    return response


@router.get(CALLBACK_PATH, include_in_schema=False)
def platform_callback(
    request: Request, code: str = "", state: str = "", error: str = "", error_description: str = ""
) -> Response:
    client = _client(request)
    c = ctx(request)
    now = c.core.clock.now()
    try:
        if error:  # the person cancelled, or the platform refused: nothing to redeem
            raise SignInRefused(
                f"provider_error:{error[:40]}",
                f"政务服务平台返回了错误({error[:40]})",
                f"The platform answered with an error ({error[:40]})",
            )
        browser = request.cookies.get(PRELOGIN_COOKIE, "")
        if not state or not code or not browser:
            raise SignInRefused("missing_state", "缺少登录状态参数", "The sign-in's state is missing")
        pending = pending_logins(request).take(state=state, browser=browser)
        if pending is None:
            raise SignInRefused(
                "unknown_state",
                "登录状态无效、已使用或已过期",
                "The sign-in's state is unknown, already used or expired",
            )
        identity = client.redeem(
            code,
            code_verifier=pending.code_verifier,
            nonce=pending.nonce,
            redirect_uri=site_url(request, CALLBACK_PATH),
        )
        who = PlatformIdentity(identity.issuer, identity.subject, identity.id_number, identity.name)
        user = platform_signin.sign_in(c.core.uow(), who, now=now, client=client_address(request))
    except PlatformRefusal as exc:  # already in the audit log
        return _refused(request, exc)
    except SignInRefused as exc:
        with c.core.uow() as uow:
            payload = {"issuer": client.settings.issuer, "reason": exc.why, "client": client_address(request)}
            uow.audit.append(at=now, actor="platform", action="auth.platform_refused", subject=None, payload=payload)
            uow.commit()
        return _refused(request, exc)
    # A session cookie the browser brought (perhaps planted before sign-in) is never reused: its
    # session ends and a new token is issued (session fixation).
    c.sessions.delete(request.cookies.get(COOKIE))
    token, _ = c.sessions.create(user.username)
    platform_sessions(request).keep(token, identity.id_token, now + SESSION_TTL)
    target = pending.next_path if pending.next_path and is_local_path(pending.next_path) else "/me"
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(request, response, token)
    response.delete_cookie(PRELOGIN_COOKIE, path=CALLBACK_PATH)
    return response


def _refused(request: Request, exc: EcertError) -> Response:
    """The refusal in words (zh-CN and English), with the ways on: try again, or a password."""
    lang = request_lang(request)
    no_registration = exc.code == "platform_no_registration"
    advice = (
        Localized(
            "如您确已注册为一级建造师,请联系注册所在地的注册管理机关核对身份证号;您也可以使用注册管理机关发放的账号密码登录。",
            "If you are registered as a first-class constructor, ask your registration authority to check the "
            "ID number on record; you may also sign in with the user name and password the authority gave you.",
        )
        if no_registration
        else Localized("请重新登录。", "Please sign in again.")
    )
    response = render(
        request,
        "platform_refused.html",
        status_code=http_status(exc),
        user=None,
        message=exc.message(lang),
        advice=advice.en if lang == "en" else advice.zh,
        code=exc.code,
    )
    response.delete_cookie(PRELOGIN_COOKIE, path=CALLBACK_PATH)
    return response
