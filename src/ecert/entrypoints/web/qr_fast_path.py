"""The outermost ASGI layer: the public QR page (``GET /V/<token>``) for an anonymous visitor,
answered before the framework (the page a scanned QR code opens is the hottest URL)."""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import cookie_parser

from ecert.domain.errors import EcertError
from ecert.entrypoints.web import routes_verify, verdicts
from ecert.entrypoints.web.deps import COOKIE, allow
from ecert.entrypoints.web.errors import DATABASE_UNAVAILABLE, page_error
from ecert.entrypoints.web.middleware import HeadersAndMetrics
from ecert.entrypoints.web.templating import render_anonymous

_log = logging.getLogger("ecert.web")
_HTML = [(b"content-type", b"text/html; charset=utf-8")]


class QrPageFastPath:
    """``GET /V/<token>`` from an anonymous visitor is answered here, with the same verdict, page,
    security headers, metrics and request log as :func:`routes_verify.verify_page`, but without the
    framework's error, routing, dependency and response layers. Everything else — a session cookie
    (the nav names the user), a query string (``?lang=``), HEAD, a client over its rate limit — goes
    on to the application, whose route answers as before."""

    def __init__(self, app: Any, api: Any) -> None:
        self.app = app
        self.api = api
        self.measured = HeadersAndMetrics(self._respond)
        self.routes = {
            prefix: next(r for r in routes_verify.router.routes if getattr(r, "path", None) == f"{prefix}{{token}}")
            for prefix in ("/V/", "/v/")
        }  # what metrics and the request log name (Starlette sets it when it routes)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self._take(scope):
            client = scope.get("client")
            if await allow(self.api, client[0] if client else "unknown"):
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
        core = self.api.state.ctx.core
        status = 200
        try:
            result = await routes_verify.verify_token(self.api, token)
        except DATABASE_UNAVAILABLE as exc:  # as the application answers it: 503 database_error
            _log.warning("database unavailable on GET %s: %s", scope["path"], type(exc).__name__)
            status, error = 503, EcertError("database_error", params={"reason": type(exc).__name__})
            context = {"error": page_error(status, lang, error.as_dict(lang)["error"])}
            body = render_anonymous(lang, "error.html", demo=core.demo_seal, **context).encode()
        else:
            context = verdicts.page_context(lang, result, token, "qr", core.clock.now())
            body = render_anonymous(lang, "verify_result.html", demo=core.demo_seal, **context).encode()
        headers = [*_HTML, (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
