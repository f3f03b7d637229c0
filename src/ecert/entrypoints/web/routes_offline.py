"""Verification without the server (issue 14 items 2 and 3): the signed status list at a fixed URL, and
the offline verifier page — installable (web manifest, service worker) and cached for use with no
network: it reads the QR code (camera or photo, static/scan.js), checks the token's Ed25519 signature
in the browser against the cached JWKS and the serial against the cached status list
(static/offline/verifier.js; the format: adapters/status_list.py)."""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ecert.adapters.qr_token import FIRST_CHARS
from ecert.adapters.status_list import TYP
from ecert.domain import messages
from ecert.domain.verification import CHECK_LINES, ReasonCode, VerificationStatus
from ecert.entrypoints.web.deps import ctx
from ecert.entrypoints.web.i18n import request_lang
from ecert.entrypoints.web.middleware import SCANNER_HEADERS
from ecert.entrypoints.web.templating import render
from ecert.services import status_list

router = APIRouter()
STATIC = Path(__file__).parent / "static"
STATUS_LIST_URL = "/.well-known/ecert-status-list"
# Verifiers and the page's service worker revalidate; a list changes at most every REFRESH.
LIST_CACHE = "public, max-age=300"


@router.get(STATUS_LIST_URL, tags=["attestation"])
async def well_known_status_list(request: Request) -> Response:
    """The signed status list (compact JWS, EdDSA, header ``kid``, ``issued_at``, ``next_update``; payload:
    the listed serial prefixes, README "Offline verification kit"), checked with /.well-known/jwks.json.
    Built on demand when the newest is older than an hour."""
    core = ctx(request).core
    current = await run_in_threadpool(status_list.current, core.uow, signer=core.attestation_signer, now=core.clock.now)
    headers = {"Cache-Control": LIST_CACHE, "X-Status-List-Issued-At": current.issued_at.isoformat(),
               "Vary": "Accept-Encoding"}  # fmt: skip
    if "gzip" in request.headers.get("accept-encoding", "").lower():
        # What travels: about 170 KB for a million certificates instead of 224 KB (README "Offline
        # verification kit"); compressed once per list and process.
        headers["Content-Encoding"] = "gzip"
        return Response(_gzipped(current.jws), media_type="application/jose", headers=headers)
    return Response(current.jws, media_type="application/jose", headers=headers)


@functools.lru_cache(maxsize=2)
def _gzipped(jws: str) -> bytes:
    return gzip.compress(jws.encode("ascii"), 6)


def _page_data(lang: str) -> dict[str, Any]:
    """What the page's script needs in the page's language: the words of each status, reason and
    check line (the one catalogue, domain/messages.py), and the token's first characters."""
    return {
        "first_chars": list(FIRST_CHARS),
        "status": {s.value: messages.term("status.certificate", s.value, lang) for s in VerificationStatus},
        "reasons": {c.value: messages.text(f"reason.{c.value}", lang) for c in ReasonCode},
        "check_lines": [
            {"code": code, "checks": list(keys), "text": messages.term("check_line.qr", code, lang)}
            for code, keys in CHECK_LINES["qr"]
        ],
        "list_typ": TYP,
        "list_url": STATUS_LIST_URL,
        "jwks_url": "/.well-known/jwks.json",
    }


@router.get("/offline", include_in_schema=False)
def offline_redirect() -> Response:
    return RedirectResponse("/offline/", status_code=308)


@router.get("/offline/", include_in_schema=False)
def offline_page(request: Request) -> Response:
    """离线核验 / offline verifier: the page the service worker keeps for use without a network."""
    lang = request_lang(request)
    data = json.dumps(_page_data(lang), ensure_ascii=False).replace("</", "<\\/")
    response = render(request, "offline.html", qr_base=ctx(request).core.keys.base_url, page_data=data)
    response.headers.update(SCANNER_HEADERS)  # camera, and the decoder's WebAssembly
    response.headers["Cache-Control"] = "no-cache"
    return response


@functools.cache
def _asset(name: str) -> bytes:
    return (STATIC / "offline" / name).read_bytes()


@router.get("/offline/sw.js", include_in_schema=False)
def offline_service_worker() -> Response:
    """The service worker, from /offline/ so that its scope is the page's."""
    return Response(_asset("sw.js"), media_type="text/javascript", headers={"Cache-Control": "no-cache"})


@router.get("/offline/manifest.webmanifest", include_in_schema=False)
def offline_manifest(request: Request) -> JSONResponse:
    """The web app manifest: the offline verifier installs as an app."""
    lang = request_lang(request)
    name = "一级建造师电子证书离线核验" if lang != "en" else "Constructor e-certificate offline verifier"
    body = {
        "name": name,
        "short_name": "证书核验" if lang != "en" else "Verify",
        "start_url": "/offline/",
        "scope": "/offline/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#b22222",
        "icons": [{"src": "/favicon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any"}],
    }
    return JSONResponse(body, media_type="application/manifest+json", headers={"Cache-Control": "no-cache"})
