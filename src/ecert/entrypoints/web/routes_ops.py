"""Operations: /healthz (process up), /readyz (database reachable), /metrics (Prometheus)."""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from ecert.domain.errors import EcertError
from ecert.entrypoints.web import metrics
from ecert.entrypoints.web.deps import client_address, ctx

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> Response:
    try:
        with ctx(request).core.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # not ready: say why, never a 500
        return JSONResponse({"status": "unavailable", "reason": type(exc).__name__}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/metrics")
def prometheus(request: Request) -> Response:
    """For the configured scrapers only (``ECERT_METRICS_ALLOW``, ``ECERT_METRICS_TOKEN``): the counters
    name routes, error rates and queue depths, which is nobody else's business."""
    web = ctx(request).core.settings.web
    if not metrics_allowed(
        client_address(request), request.headers.get("authorization", ""), web.metrics_allow, web.metrics_token
    ):
        raise EcertError("forbidden")
    return Response(metrics.render_latest(), media_type="text/plain; version=0.0.4")


def metrics_allowed(client: str, authorization: str, allow: tuple[str, ...], token: str) -> bool:
    """A bearer token equal to ``token`` (when one is set), or a client address inside ``allow``."""
    scheme, _, given = authorization.partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(client)
    except ValueError:  # "unknown", or a test client's name: never an allowed scraper
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in allow)
