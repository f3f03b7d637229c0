"""Attestations on the public site (issue 13 item 2): ``/.well-known/jwks.json`` (the QR/attestation
public keys), ``GET /api/v1/attest`` (the signed answer as JSON) and the page "在某日是否有效 / valid on
a date" (``/attest``). No login: the answer shows no more than the QR page does."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ecert.adapters.signing.jws import jwks
from ecert.domain.errors import BadInput, EcertError, NotFound, problem
from ecert.entrypoints.web.deps import ctx, limit_async
from ecert.entrypoints.web.i18n import request_lang
from ecert.entrypoints.web.templating import render
from ecert.services import attestation, history
from ecert.services.attestation import Attestation

router = APIRouter()


@router.get("/.well-known/jwks.json", tags=["attestation"])
def well_known_jwks(request: Request) -> JSONResponse:
    """The QR/attestation public keys, current and retired, as a JWK Set (RFC 7517, OKP Ed25519)."""
    return JSONResponse(jwks(ctx(request).core.qr_public_keys), headers={"Cache-Control": "public, max-age=300"})


def _attest(request: Request, registration_no: str | None, serial: str | None, on: str) -> Attestation:
    core = ctx(request).core
    if bool(registration_no) == bool(serial):
        raise BadInput(
            [problem("请给出注册编号或证书编号之一", "Give either registration_no or serial", column="registration_no")]
        )
    day = attestation.parse_day(on)
    signer = core.attestation_signer
    now = core.clock.now()
    if serial:
        number = history.registration_of_serial(core.uow(), serial.strip().upper())
        if number is None:
            raise NotFound("certificate", serial)
        return attestation.attest(
            core.uow(), number, day, now=now, policy=core.policy, signer=signer, serial=serial.strip().upper()
        )
    assert registration_no is not None
    return attestation.attest(core.uow(), registration_no.strip(), day, now=now, policy=core.policy, signer=signer)


@router.get("/api/v1/attest", tags=["attestation"])
async def api_attest(
    request: Request,
    date: str = Query(..., description="The date asked about, YYYY-MM-DD"),
    registration_no: str | None = Query(None, description="A registration number"),
    serial: str | None = Query(None, description="A certificate serial (16 characters)"),
) -> JSONResponse:
    """Was the registration (or the certificate) valid on ``date``? The signed answer: ``attestation`` is
    a compact JWS (EdDSA, header ``kid``) checked with ``/.well-known/jwks.json``; ``document`` is its payload."""
    await limit_async(request)
    att = await run_in_threadpool(_attest, request, registration_no, serial, date)
    return JSONResponse(att.as_dict(request_lang(request)))


@router.get("/attest", include_in_schema=False)
async def attest_page(request: Request, date: str = "", registration_no: str = "", serial: str = "") -> Response:
    """在某日是否有效 / valid on a date: the form, and the answer when asked."""
    context: dict[str, Any] = {"asked": {"date": date, "registration_no": registration_no, "serial": serial}}
    if date and (registration_no or serial):
        await limit_async(request)
        try:
            att = await run_in_threadpool(_attest, request, registration_no or None, serial or None, date)
        except EcertError as exc:
            body = exc.as_dict(request_lang(request))["error"]
            context["refusal"] = {"code": body["code"], "message": body["message"]}
        else:
            context["answer"] = att.as_dict(request_lang(request))
    return render(request, "attest.html", **context)
