"""Subscriptions to changes (issue 14 item 1): the relying party's API and pages.

Who: an ``employer`` account (its session; state changes carry the CSRF token) or an API client the
authority registered (``Authorization: Bearer ecc_…``; no cookie, no CSRF). Anyone else: 401 without
credentials, 403 for another role (R-ACC-1). A subscription is seen and changed only by its owner;
another's is the same ``not_found`` as an unknown id.

- ``POST /api/v1/subscriptions`` ``{"serial", "url", "registration_no"?}`` → 201, the subscription with
  its ``secret`` (shown once) and the handshake's outcome
- ``GET /api/v1/subscriptions`` — the caller's; ``DELETE /api/v1/subscriptions/{id}``
- ``POST /api/v1/subscriptions/{id}/verification`` — the URL's handshake again
- ``GET /api/v1/subscriptions/{id}/deliveries`` — the delivery log
- pages: the form on the verification result page (employers signed in), ``/subscriptions``
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from ecert.domain.errors import EcertError
from ecert.entrypoints.web.deps import check_csrf, ctx, require_user
from ecert.entrypoints.web.errors import form_error, http_status
from ecert.entrypoints.web.routes_authority import _schema, json_body
from ecert.entrypoints.web.templating import render
from ecert.services import subscriptions as service

router = APIRouter()


class SubscriptionBody(BaseModel):
    """What to watch: the certificate ``serial`` verified (alone: that certificate; with its
    ``registration_no``: the whole registration), and where to send notifications (``url``, https)."""

    model_config = ConfigDict(extra="forbid")
    serial: str = Field(max_length=32)
    url: str = Field(max_length=2000)
    registration_no: str | None = Field(default=None, max_length=32)


def _caller(request: Request, *, writes: bool) -> str:
    """The owner the request speaks for: an API client by its bearer token, else a signed-in employer
    (with the CSRF token for a change)."""
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        name = service.client_of_token(ctx(request).core.uow(), auth[7:].strip())
        if name is None:
            raise EcertError("unauthenticated")
        return service.client_owner(name)
    user = require_user(request, "employer")
    if writes:
        check_csrf(request, None)
    return service.user_owner(user.username)


def _reader(request: Request) -> str:
    return _caller(request, writes=False)


def _writer(request: Request) -> str:
    return _caller(request, writes=True)


Reader = Annotated[str, Depends(_reader)]
Writer = Annotated[str, Depends(_writer)]
SubscriptionIn = Annotated[SubscriptionBody, Depends(json_body(SubscriptionBody))]


def _create(request: Request, owner: str, serial: str, url: str, registration_no: str | None) -> dict[str, Any]:
    core = ctx(request).core
    sender = core.webhook_sender()
    sub = service.subscribe(
        core.uow(), owner=owner, serial=serial, registration_no=registration_no, url=url,
        check_url=sender.check_url, now=core.clock.now(),
    )  # fmt: skip
    shook = service.handshake(core.uow, sender, sub.id, owner=owner)
    return {**sub.as_dict(with_secret=True), "status": shook["status"], "handshake": shook["handshake"]}


@router.post("/api/v1/subscriptions", tags=["subscriptions"], status_code=201, openapi_extra=_schema(SubscriptionBody))
def api_subscribe(request: Request, owner: Writer, body: SubscriptionIn) -> JSONResponse:
    """Subscribe to a certificate (or its registration) verified before; the answer carries the
    signing ``secret`` (Standard Webhooks ``whsec_…``, shown once) and the URL handshake's outcome:
    events flow once ``status`` is ``active``."""
    return JSONResponse(_create(request, owner, body.serial, body.url, body.registration_no), status_code=201)


@router.get("/api/v1/subscriptions", tags=["subscriptions"])
def api_subscriptions(request: Request, owner: Reader) -> JSONResponse:
    """The caller's subscriptions (without their secrets)."""
    subs = service.list_subscriptions(ctx(request).core.uow(), owner)
    return JSONResponse({"subscriptions": [s.as_dict() for s in subs]})


@router.delete("/api/v1/subscriptions/{subscription_id}", tags=["subscriptions"])
def api_unsubscribe(request: Request, subscription_id: str, owner: Writer) -> JSONResponse:
    """Delete one of the caller's subscriptions, with its events and delivery log."""
    core = ctx(request).core
    service.unsubscribe(core.uow(), subscription_id, owner=owner, actor=owner, now=core.clock.now())
    return JSONResponse({"id": subscription_id, "removed": True})


@router.post("/api/v1/subscriptions/{subscription_id}/verification", tags=["subscriptions"])
def api_handshake(request: Request, subscription_id: str, owner: Writer) -> JSONResponse:
    """The URL's handshake again (after fixing the receiver)."""
    core = ctx(request).core
    return JSONResponse(service.handshake(core.uow, core.webhook_sender(), subscription_id, owner=owner))


@router.get("/api/v1/subscriptions/{subscription_id}/deliveries", tags=["subscriptions"])
def api_deliveries(request: Request, subscription_id: str, owner: Reader) -> JSONResponse:
    """The delivery log: the subscription's events, newest first, each with every try."""
    return JSONResponse(service.deliveries(ctx(request).core.uow(), subscription_id, owner=owner))


# ------------------------------------------------------------------------------------------ pages


def _page(request: Request, status_code: int = 200, **context: Any) -> Response:
    user = require_user(request, "employer")
    subs = service.list_subscriptions(ctx(request).core.uow(), service.user_owner(user.username))
    return render(request, "subscriptions.html", status_code, user=user, subscriptions=subs, **context)


@router.get("/subscriptions", include_in_schema=False)
def subscriptions_page(request: Request) -> Response:
    return _page(request)


@router.post("/subscriptions", include_in_schema=False)
def subscribe_form(
    request: Request,
    serial: str = Form(""),
    url: str = Form(""),
    registration_no: str = Form(""),
    whole: str = Form(""),
    csrf: str = Form(""),
) -> Response:
    """The verification result page's form: subscribe to this certificate (or, ticked, its registration)."""
    user = require_user(request, "employer")
    check_csrf(request, csrf)
    owner = service.user_owner(user.username)
    try:
        created = _create(request, owner, serial, url, registration_no.strip() if whole and registration_no else None)
    except EcertError as exc:
        return _page(request, http_status(exc), **form_error(request, exc), asked={"serial": serial, "url": url})
    return _page(request, 201, created=created)


@router.post("/subscriptions/{subscription_id}/delete", include_in_schema=False)
def unsubscribe_form(request: Request, subscription_id: str, csrf: str = Form("")) -> Response:
    user = require_user(request, "employer")
    check_csrf(request, csrf)
    core = ctx(request).core
    owner = service.user_owner(user.username)
    service.unsubscribe(core.uow(), subscription_id, owner=owner, actor=owner, now=core.clock.now())
    return RedirectResponse("/subscriptions", status_code=303)


# ------------------------------------------------------------------------------------------ the authority


@router.get("/admin/subscriptions", include_in_schema=False)
def admin_subscriptions(request: Request) -> Response:
    """Every subscription with its events by state; dead ones can be sent again (the authority's redelivery)."""
    user = require_user(request, "admin")
    rows = service.overview(ctx(request).core.uow())
    return render(request, "admin_subscriptions.html", user=user, rows=rows)


@router.post("/admin/subscriptions/{subscription_id}/redeliver", include_in_schema=False)
def admin_redeliver(request: Request, subscription_id: str, csrf: str = Form("")) -> Response:
    user = require_user(request, "admin")
    check_csrf(request, csrf)
    core = ctx(request).core
    service.redeliver(core.uow(), subscription_id=subscription_id, actor=user.username, now=core.clock.now())
    return RedirectResponse("/admin/subscriptions", status_code=303)
