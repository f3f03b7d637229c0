"""Public verification (no login, R-DOC-4, R-DOC-5, R-CHG-3): the home page with the scanner, the
site icons, the QR page, the signature image, the upload of a certificate file — the PDF, or the OFD
of the national format (R-DOC-6), told apart by their first bytes and checked alike — and the
verification API.

What the QR code opens: ``/v/<token>`` — the verdict first (in colour and words), then the holder's
name, masked ID number, registration number, employer, specialties, the usage window and the
signature image to compare with the handwritten one. Rate-limited per client; a forged or
truncated token is a "cannot verify" verdict, never a 500. Every verification is recorded in the
verification log (R-ACC-1; adapters/db/verification_log.py): in memory per process, written to the
database and sealed into the audit chain in batches by the application's lifespan (app.py). An
anonymous ``GET /V/<token>`` is answered before the framework by qr_fast_path.py, with this page.
"""

from __future__ import annotations

import functools
import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ecert.domain.errors import BadInput, EcertError, problem
from ecert.domain.verification import MAX_CERTIFICATE_FILE, VerificationResult
from ecert.entrypoints.web import metrics, verdicts
from ecert.entrypoints.web.deps import COOKIE, ctx, limit, limit_async, parts
from ecert.entrypoints.web.i18n import request_lang
from ecert.entrypoints.web.middleware import SCANNER_HEADERS
from ecert.entrypoints.web.templating import render, render_anonymous
from ecert.services import verification

router = APIRouter()
MAX_PDF = MAX_CERTIFICATE_FILE  # an uploaded certificate file, PDF or OFD


async def verify_token(app: Any, token: str, channel: str = "qr") -> VerificationResult:
    """A QR check through the process's hot path, counted and logged (R-ACC-1)."""
    result = await parts(app).fast_verify.verify(token, channel)
    metrics.VERIFICATIONS.labels("qr", result.status).inc()
    return result


def _verify_token_again(request: Request, text: str) -> VerificationResult:
    """For the signature image only, which the QR page shows: that page's verification is the one
    logged (R-ACC-1), not this second check of the same token by the same visit."""
    core = ctx(request).core
    result = verification.verify_qr(
        core.uow(), text, keys=core.qr_public_keys, today=core.clock.today(), policy=core.policy
    )
    metrics.VERIFICATIONS.labels("qr", result.status).inc()
    return result


@router.get("/", include_in_schema=False)
def index(request: Request) -> Response:
    response = render(request, "index.html", qr_base=ctx(request).core.keys.base_url)
    response.headers.update(SCANNER_HEADERS)  # the page has the QR scanner
    return response


STATIC = Path(__file__).parent / "static"
ICON_CACHE = "public, max-age=604800"  # a week: the icon almost never changes; the ETag revalidates it after


@functools.cache
def _icon(name: str) -> tuple[bytes, str]:
    """A site icon's bytes and ETag, read once per process (static/favicon.ico is favicon.svg drawn at
    16, 32 and 48 px)."""
    data = (STATIC / name).read_bytes()
    return data, f'"{hashlib.sha256(data).hexdigest()[:16]}"'


def _icon_response(request: Request, name: str, media: str) -> Response:
    data, etag = _icon(name)
    headers = {"Cache-Control": ICON_CACHE, "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=media, headers=headers)


@router.get("/favicon.ico", include_in_schema=False)
def favicon_ico(request: Request) -> Response:
    return _icon_response(request, "favicon.ico", "image/x-icon")


@router.get("/favicon.svg", include_in_schema=False)
def favicon_svg(request: Request) -> Response:
    return _icon_response(request, "favicon.svg", "image/svg+xml")


@router.get("/v/{token}", include_in_schema=False)
@router.get("/V/{token}", include_in_schema=False)
async def verify_page(request: Request, token: str) -> Response:
    await limit_async(request)
    result = await verify_token(request.app, token)
    lang = request_lang(request)
    core = ctx(request).core
    context = verdicts.page_context(lang, result, token, "qr", core.clock.now())
    if COOKIE in request.cookies or "lang" in request.query_params:  # the nav shows who is signed in
        return await run_in_threadpool(render, request, "verify_result.html", **context)
    return HTMLResponse(render_anonymous(lang, "verify_result.html", demo=core.demo_seal, **context))


@router.get("/v/{token}/signature.png", include_in_schema=False)
@router.get("/V/{token}/signature.png", include_in_schema=False)
def signature_image(request: Request, token: str) -> Response:
    """R-DOC-5: the holder's signature image, for a genuine token only."""
    limit(request)
    result = _verify_token_again(request, token)
    if not verdicts.is_genuine(result) or result.registration_no is None:
        raise EcertError("not_found", params={"what": "signature_image", "key": "-"})
    with ctx(request).core.uow() as uow:
        image = uow.certificates.images(result.registration_no).get("signature")
    if image is None:
        raise EcertError("not_found", params={"what": "signature_image", "key": "-"})
    media = "image/png" if image.startswith(b"\x89PNG") else "image/jpeg"
    return Response(image, media_type=media, headers={"Cache-Control": "no-store"})


@router.get("/verify", include_in_schema=False)
def upload_form(request: Request) -> Response:
    return render(request, "verify_upload.html")


async def _read_file(file: UploadFile) -> bytes:
    data = await file.read(MAX_PDF + 1)
    if len(data) > MAX_PDF:
        raise BadInput([problem("文件超过 5 MB", "The file is larger than 5 MB", column="file")])
    return data


def _verify_file(request: Request, data: bytes, now: datetime) -> VerificationResult:
    """A PDF, or an OFD package (a zip: R-DOC-6) checked against the SM2 roots; the SM2 roots are read
    only for an OFD, so that a PDF's check never depends on them. Counted as ``pdf`` or ``ofd``."""
    core = ctx(request).core
    ofd = verification.is_ofd(data)
    result = verification.verify_pdf(
        core.uow(),
        data,
        check_signature=core.signature_checker,
        keys=core.qr_public_keys,
        today=core.clock.today(),
        now=now,
        policy=core.policy,
        check_ofd=core.ofd_checker if ofd else None,
    )
    metrics.VERIFICATIONS.labels("ofd" if ofd else "pdf", result.status).inc()
    return result


async def _uploaded_file(request: Request, file: UploadFile, channel: str) -> tuple[VerificationResult, datetime]:
    """An uploaded certificate file (PDF or OFD), limited, verified off the event loop and logged
    (R-ACC-1, under the channel it came by: ``pdf`` the upload page, ``api``): the verdict and when it
    was reached."""
    await limit_async(request)
    data = await _read_file(file)
    checked_at = ctx(request).core.clock.now()
    result = await run_in_threadpool(_verify_file, request, data, checked_at)
    parts(request.app).verification_log.record(channel, result.serial, result.registration_no, result.status)
    return result, checked_at


@router.post("/verify", include_in_schema=False)
async def upload_verify(request: Request, file: UploadFile = File(...)) -> Response:  # noqa: B008
    result, checked_at = await _uploaded_file(request, file, "pdf")
    # R-DOC-5: the signature image, as on the QR page, through the document's own QR token; only for a
    # genuine verdict (verdicts.page_context): a forged or altered file must not fetch a holder's image.
    context = verdicts.page_context(request_lang(request), result, result.token, "pdf", checked_at)
    return render(request, "verify_result.html", **context)


# ------------------------------------------------------------------------------------------ API


@router.get("/api/v1/verify/{token}", tags=["verification"])
async def api_verify_token(request: Request, token: str) -> JSONResponse:
    """Verify what a scanner read from the QR code (the token or the whole URL)."""
    await limit_async(request)
    result = await verify_token(request.app, token, "api")
    return JSONResponse(verdicts.as_json(result, request_lang(request)))


@router.post("/api/v1/verify/pdf", tags=["verification"])
async def api_verify_pdf(request: Request, file: UploadFile = File(...)) -> JSONResponse:  # noqa: B008
    """Verify a certificate file, the PDF or the OFD (R-DOC-6; at most 5 MB): seal, integrity, QR
    binding, registry state, usage window. An OFD that cannot be read is ``indeterminate`` with
    ``package_malformed``, ``package_too_large`` or ``package_unsafe_path``; any other unreadable
    file with ``not_pdf``."""
    result, _ = await _uploaded_file(request, file, "api")
    return JSONResponse(verdicts.as_json(result, request_lang(request)))


@router.post("/api/v1/verify/file", tags=["verification"])
async def api_verify_file(request: Request, file: UploadFile = File(...)) -> JSONResponse:  # noqa: B008
    """The same as ``POST /api/v1/verify/pdf``, under a name for either format: a certificate PDF or
    OFD (R-DOC-6), at most 5 MB."""
    result, _ = await _uploaded_file(request, file, "api")
    return JSONResponse(verdicts.as_json(result, request_lang(request)))
