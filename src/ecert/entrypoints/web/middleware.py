"""The application's ASGI middleware: security headers on every response, Prometheus metrics and
the request log (:class:`HeadersAndMetrics`), and the headers of a page with the QR scanner."""

from __future__ import annotations

import logging
import time
from typing import Any

from ecert.entrypoints.web import metrics

log = logging.getLogger("ecert.web")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
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
