"""Operations: /healthz (process up), /readyz (database reachable), /metrics (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from ecert.entrypoints.web import metrics
from ecert.entrypoints.web.deps import ctx

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
def prometheus() -> Response:
    return Response(metrics.render_latest(), media_type="text/plain; version=0.0.4")
