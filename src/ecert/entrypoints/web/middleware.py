"""The application's ASGI middleware: security headers on every response, Prometheus metrics and
the request log (:class:`HeadersAndMetrics`), the request body limit (:class:`BodyLimit`), and the
headers of a page with the QR scanner."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.exceptions import HTTPException

from ecert.entrypoints.web import metrics

log = logging.getLogger("ecert.web")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Not "no-referrer": with it Chromium sends ``Origin: null`` on the site's own form posts, and the
    # sign-in's login-CSRF check (routes_session.check_same_origin) could not tell them from a forged one.
    # "same-origin" still sends nothing to other sites (a QR URL never leaks as a referrer).
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
# A page with the QR scanner (templates/scanner.html) sets these on its response: the camera for
# this origin, and 'wasm-unsafe-eval' so the vendored decoder's WebAssembly may be compiled (it
# allows WebAssembly compilation only, not eval()). Every other page keeps SECURITY_HEADERS.
SCANNER_HEADERS = {
    "Content-Security-Policy": SECURITY_HEADERS["Content-Security-Policy"].replace(
        "script-src 'self';", "script-src 'self' 'wasm-unsafe-eval';"
    ),
    "Permissions-Policy": SECURITY_HEADERS["Permissions-Policy"].replace("camera=()", "camera=(self)"),
}

_HEADER_BYTES = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]


class HeadersAndMetrics:
    """Security headers, Prometheus metrics and the request log, as plain ASGI middleware
    (Starlette's BaseHTTPMiddleware costs about a millisecond a request)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in _HEADER_BYTES if k not in present
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            elapsed = time.perf_counter() - start
            metrics.observe_request(scope["method"], route, status, elapsed)
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "request",
                    extra={"method": scope["method"], "route": route, "status": status, "ms": round(elapsed * 1000, 2)},
                )


class BodyTooLarge(HTTPException):
    """A request body went past its limit while it was being read (no or a false Content-Length). An
    HTTP exception (413), so that FastAPI's body parsing passes it on instead of making it a 400, and
    the application's handler answers it in ecert's error shape."""

    def __init__(self, limit: int) -> None:
        super().__init__(413)
        self.limit = limit


class BodyLimit:
    """Every request body has a limit (``limit_for(path)`` bytes): a declared ``Content-Length`` above it
    is refused with 413 before one byte is read, and a body that runs past it while being read (sent
    chunked, or longer than it declared) stops there, also with 413. ``refuse(scope, limit)`` makes the
    response (ecert's error shape: JSON for the API, a page otherwise)."""

    def __init__(
        self,
        app: Any,
        limit_for: Callable[[str], int],
        refuse: Callable[[Any, int], Awaitable[Any]],
    ) -> None:
        self.app, self.limit_for, self.refuse = app, limit_for, refuse

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await (await self.refuse(scope, limit))(scope, receive, send)
            return
        seen = 0
        started = False

        async def counted() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracked(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge:
            if started:  # nothing more can be said on this connection
                raise
            await (await self.refuse(scope, limit))(scope, receive, send)
