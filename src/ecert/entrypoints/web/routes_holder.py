"""Holder portal (我的证照) and its API. See the issue "web service", part 2.

A holder sees and acts on their own registration only: the registration number always comes from
the signed-in account, never from the request (R-ACC-1). The page shows the usage window a download
would get today; the download needs the holder's confirmation of exactly that window, checked on the
server (R-USE-1) — the ``required`` checkbox only helps the browser. The holder chooses the file:
the sealed PDF, or the OFD of the national format sealed with the SM2 electronic seal (R-DOC-6), one
issuance either way; where no SM2 seal is configured the page offers the OFD disabled, with the
reason, and asking for one anyway is refused (``ofd_unavailable``). The API under ``/api/v1/me``
follows the same rules with the session cookie and the ``X-CSRF-Token`` header (``?format=ofd``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, StrictBool

from ecert.adapters.db.users import User
from ecert.domain.dates import CST
from ecert.domain.errors import BadInput, EcertError, problem
from ecert.entrypoints.web import metrics
from ecert.entrypoints.web.deps import check_csrf, ctx, require_user
from ecert.entrypoints.web.errors import SERVER_SIDE, http_status, page_error
from ecert.entrypoints.web.i18n import request_lang
from ecert.entrypoints.web.templating import render
from ecert.services import issuance, renewal
from ecert.services.issuance import IssuedCertificate
from ecert.services.views import holder_portal

MAX_CE_HOURS = 10_000

# The files a holder may download (R-DOC-6): the format, and the media type it is served as.
FileFormat = Literal["pdf", "ofd"]
MEDIA_TYPES: dict[str, str] = {"pdf": "application/pdf", "ofd": "application/ofd"}


router = APIRouter()


# ------------------------------------------------------------------------------------------ words


def _day(lang: str) -> Callable[[date | str | None], str]:
    """使用有效期 is printed as ``YYYY年MM月DD日`` (English: ISO dates)."""

    def fmt(d: date | str | None) -> str:
        if d is None:
            return ""
        if isinstance(d, str):
            d = date.fromisoformat(d)
        return d.isoformat() if lang == "en" else f"{d.year}年{d.month:02d}月{d.day:02d}日"

    return fmt


def _words(request: Request) -> dict[str, Any]:
    """Dates and times in the page's language (states are ``term()``s of the catalogue, web/i18n.py)."""
    lang = request_lang(request)
    return {
        "day": _day(lang),
        "local_time": lambda t: t.astimezone(CST).strftime("%Y-%m-%d %H:%M") if t else "",
    }


# ------------------------------------------------------------------------------------------ who


def _holder(request: Request) -> User:
    """The signed-in holder (401 unauthenticated, 403 forbidden for other roles, R-ACC-1)."""
    user = require_user(request, "holder")
    if not user.registration_no:
        raise EcertError("forbidden", rule="R-ACC-1")
    return user


def _holder_api_write(request: Request, user: Annotated[User, Depends(_holder)]) -> User:
    """A holder's state-changing API call: the session's CSRF token in ``X-CSRF-Token``."""
    check_csrf(request, None)
    return user


Holder = Annotated[User, Depends(_holder)]
HolderWrite = Annotated[User, Depends(_holder_api_write)]


def _reg_no(user: User) -> str:
    assert user.registration_no is not None  # checked by _holder
    return user.registration_no


def _actor(user: User) -> str:
    return f"holder:{user.username}"


# ------------------------------------------------------------------------------------------ forms


class DownloadForm(BaseModel):
    """The page's download form: the holder's confirmation of the window shown (R-USE-1) and the file
    chosen, ``pdf`` or ``ofd`` (R-DOC-6; anything else is ``bad_input``)."""

    csrf: str = ""
    confirm: str = ""
    usage_from: str = ""
    usage_until: str = ""
    format: str = "pdf"


class RenewalForm(BaseModel):
    """The page's renewal form: specialties (R-REN-1) and the continuing-education commitment (R-REN-4)."""

    csrf: str = ""
    specialty: list[str] | None = None
    commit_ce: str = ""
    ce_hours: str = ""


# ------------------------------------------------------------------------------------------ use cases


def _download(
    request: Request,
    user: User,
    *,
    confirmed: bool,
    usage_from: date | None,
    usage_until: date | None,
    file_format: str = "pdf",
) -> IssuedCertificate:
    """The file asked for first (``bad_input``, ``ofd_unavailable``: R-DOC-6), then the R-USE-4
    refusals (in their order), then R-USE-1: confirmed, and exactly today's window."""
    core = ctx(request).core
    # One transaction: issue() raises the R-USE-4 refusal first, then confirmation_required, then
    # WindowChanged when the confirmed window is not today's (a separate preview read cost a round
    # trip per download, issue "national scale").
    issued = issuance.issue(
        core.uow(),
        _reg_no(user),
        confirm=confirmed,
        actor=_actor(user),
        today=core.clock.today(),
        now=core.clock.now(),
        policy=core.policy,
        docs=core.documents,
        expected_window=(usage_from, usage_until),
        formats=(file_format,),
    )
    metrics.ISSUED.inc()
    return issued


def _file_response(issued: IssuedCertificate, file_format: str = "pdf") -> Response:
    """The issued file as a download: ``ecert-<serial>.pdf`` or ``.ofd`` (``application/ofd``, R-DOC-6)."""
    data = issued.ofd if file_format == "ofd" else issued.pdf
    assert data is not None  # issue() made the format asked for
    return Response(
        data,
        media_type=MEDIA_TYPES[file_format],
        headers={
            "Content-Disposition": f'attachment; filename="ecert-{issued.serial}.{file_format}"',
            "Cache-Control": "no-store",
            "X-Ecert-Serial": issued.serial,
        },
    )


def _ofd_offer(request: Request) -> dict[str, Any]:
    """Whether the page offers the OFD (R-DOC-6) and, when it does not, why: the refusal a download
    would get (``ofd_unavailable``: no SM2 seal configured), its sentence kept off the page when it
    is for operators (paths, key problems), as on the error pages."""
    try:
        issuance.check_formats(("ofd",), ctx(request).core.documents)
    except EcertError as exc:
        why = exc
    else:
        return {"offered": True, "code": None, "message": None}
    lang = request_lang(request)
    shown = page_error(http_status(why), lang, why.as_dict(lang)["error"])
    return {"offered": False, "code": why.code, "message": shown["message"] or shown["headline"]}


def _apply(
    request: Request, user: User, specialties: list[str], *, committed: bool, ce_hours: int | None
) -> dict[str, Any]:
    if not [s for s in specialties if s.strip()]:
        raise BadInput([problem("请至少选择一个注册专业", "Choose at least one specialty", column="specialties")])
    core = ctx(request).core
    return renewal.apply_renewal(
        core.uow(),
        _reg_no(user),
        specialties,
        committed=committed,
        ce_hours=ce_hours,
        actor=_actor(user),
        today=core.clock.today(),
        now=core.clock.now(),
        policy=core.policy,
    )


def _form_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


def _form_hours(value: str) -> int | None:
    text = value.strip()
    if not text:
        return None
    if not text.isdecimal() or int(text) > MAX_CE_HOURS:  # isdecimal: int() refuses "¹", which isdigit passes
        zh, en = "继续教育学时应为不小于 0 的整数", "CE hours must be a whole number, 0 or more"
        raise BadInput([problem(zh, en, column="ce_hours")])
    return int(text)


def _error_view(exc: EcertError, lang: str) -> dict[str, Any]:
    """The refusal beside the form; a server-side problem (a missing key file …) in the error pages'
    words only: its own sentence names paths and settings, which are for operators (web/errors.py)."""
    body: dict[str, Any] = dict(exc.as_dict(lang)["error"])
    if exc.code in SERVER_SIDE:
        words = page_error(http_status(exc), lang, body)
        body["message"] = f"{words['headline']}{'. ' if lang == 'en' else '。'}{words['advice']}"
        body.pop("details", None)
    body["window_changed"] = isinstance(exc, issuance.WindowChanged)
    return body


# ------------------------------------------------------------------------------------------ pages


def _holder_page(
    request: Request,
    user: User,
    name: str,
    extra: Callable[[holder_portal.Overview, date], dict[str, Any]],
    *,
    status_code: int = 200,
    error: EcertError | None = None,
) -> Response:
    """One of the holder's pages over their registration as of today: the refusal beside the form,
    dates in words; ``extra`` adds what the page itself shows."""
    core = ctx(request).core
    today = core.clock.today()
    ov = holder_portal.overview(core.uow(), _reg_no(user), today=today, policy=core.policy)
    return render(
        request,
        name,
        status_code=status_code,
        user=user,
        holder=ov.holder,
        error=_error_view(error, request_lang(request)) if error else None,
        today=today,
        **extra(ov, today),
        **_words(request),
    )


def _render_me(
    request: Request,
    user: User,
    *,
    status_code: int = 200,
    error: EcertError | None = None,
    chosen_format: str = "pdf",
) -> Response:
    core = ctx(request).core
    lang = request_lang(request)

    def extra(ov: holder_portal.Overview, today: date) -> dict[str, Any]:
        ofd = _ofd_offer(request) if ov.window else {"offered": False, "code": None, "message": None}
        return {
            "window": ov.window,
            "refusal": ov.refusal.as_dict(lang)["error"] if ov.refusal else None,
            "certificates": holder_portal.my_certificates(core.uow(), _reg_no(user), today=today),
            "ofd": ofd,
            "chosen_format": "ofd" if chosen_format == "ofd" and ofd["offered"] else "pdf",
        }

    return _holder_page(request, user, "me.html", extra, status_code=status_code, error=error)


@router.get("/me", include_in_schema=False)
def me_page(request: Request, user: Holder) -> Response:
    return _render_me(request, user)


def _submit(
    request: Request, form: DownloadForm | RenewalForm, act: Callable[[], Response], page: Callable[..., Response]
) -> Response:
    """A holder's form (CSRF checked): what ``act`` answers, or on a refusal the ``page`` again with
    the error beside the form, under the error's status."""
    check_csrf(request, form.csrf)
    try:
        return act()
    except EcertError as exc:
        return page(status_code=http_status(exc), error=exc)


@router.post("/me/download", include_in_schema=False)
def me_download(request: Request, user: Holder, form: Annotated[DownloadForm, Form()]) -> Response:
    def download() -> Response:
        window = (_form_date(form.usage_from), _form_date(form.usage_until))
        issued = _download(
            request, user, confirmed=bool(form.confirm), usage_from=window[0], usage_until=window[1],
            file_format=form.format,
        )  # fmt: skip
        return _file_response(issued, form.format)

    return _submit(request, form, download, functools.partial(_render_me, request, user, chosen_format=form.format))


def _render_renewal(
    request: Request,
    user: User,
    *,
    status_code: int = 200,
    error: EcertError | None = None,
    chosen: list[str] | None = None,
    committed: bool = False,
    ce_hours: str = "",
) -> Response:
    policy = ctx(request).core.policy
    lang = request_lang(request)

    def extra(ov: holder_portal.Overview, today: date) -> dict[str, Any]:
        renewable = [s["specialty"] for s in ov.holder["specialties"] if s["state"] == "renewable"]
        return {
            "chosen": renewable if chosen is None else chosen,
            "committed": committed,
            "ce_hours": ce_hours,
            "ce_required": policy.ce_hours_required,
            "window_days": policy.renewal_window_days,
            "transitional_deadline": policy.transitional_deadline,
            "details": [p.message(lang) for p in error.problems] if isinstance(error, BadInput) else [],
        }

    return _holder_page(request, user, "me_renewal.html", extra, status_code=status_code, error=error)


@router.get("/me/renewal", include_in_schema=False)
def me_renewal_form(request: Request, user: Holder) -> Response:
    return _render_renewal(request, user)


@router.post("/me/renewal", include_in_schema=False)
def me_renewal_submit(request: Request, user: Holder, form: Annotated[RenewalForm, Form()]) -> Response:
    chosen, committed = form.specialty or [], bool(form.commit_ce)

    def apply() -> Response:
        result = _apply(request, user, chosen, committed=committed, ce_hours=_form_hours(form.ce_hours))
        return RedirectResponse(f"/me/applications?applied={result['application_id']}", status_code=303)

    page = functools.partial(_render_renewal, request, user, chosen=chosen, committed=committed, ce_hours=form.ce_hours)
    return _submit(request, form, apply, page)


@router.get("/me/applications", include_in_schema=False)
def me_applications(request: Request, user: Holder, applied: int | None = None) -> Response:
    core = ctx(request).core
    apps = holder_portal.my_applications(core.uow(), _reg_no(user))
    just_applied = next((a for a in apps if a.application_id == applied), None)
    return render(
        request,
        "me_applications.html",
        user=user,
        applications=apps,
        just_applied=just_applied,
        **_words(request),
    )


# ------------------------------------------------------------------------------------------ API

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "bad_input: malformed body"},
    401: {"description": "unauthenticated: no valid session"},
    403: {"description": "forbidden (not a holder) or csrf_failed (X-CSRF-Token missing or wrong)"},
    409: {"description": 'a rule refused it: `{"error": {"code", "message", "rule"}}`'},
}
DOWNLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    400: {"description": "bad_input: malformed body, or a `format` other than `pdf` or `ofd`"},
    409: {
        "description": 'a rule refused it: `{"error": {"code", "message", "rule"}}`; `ofd_unavailable` '
        "for `format=ofd` where no SM2 electronic seal is configured (R-DOC-6)"
    },
    503: {"description": "keys_missing: the seal's key files are missing (the service is misconfigured)"},
}


class DownloadRequest(BaseModel):
    """R-USE-1: confirm the usage window shown by ``GET /api/v1/me`` (``window``)."""

    confirm: StrictBool | None = Field(None, description="Must be true: the holder confirms the window")
    usage_from: date | None = Field(None, description="The window's first day, as confirmed")
    usage_until: date | None = Field(None, description="The window's last day, as confirmed")


class RenewalRequest(BaseModel):
    """The specialties to renew (R-REN-1) and the continuing-education commitment (R-REN-4)."""

    specialties: list[str] = Field(..., max_length=10, description="Specialties of the holder's registration")
    commit_ce: StrictBool = Field(False, description="本人承诺已完成继续教育要求 (R-REN-4); must be true")
    ce_hours: int | None = Field(None, ge=0, le=MAX_CE_HOURS, description="Continuing-education hours, optional")


@router.get("/api/v1/me", tags=["holder"], responses=ERRORS)
def api_me(request: Request, user: Holder) -> JSONResponse:
    """The holder's current data (ID number masked) and the usage window a download would get today
    (``window``), or why no download is possible (``refusal``, R-USE-4)."""
    core = ctx(request).core
    ov = holder_portal.overview(core.uow(), _reg_no(user), today=core.clock.today(), policy=core.policy)
    return JSONResponse(ov.as_dict(request_lang(request)))


@router.get("/api/v1/me/certificates", tags=["holder"], responses=ERRORS)
def api_my_certificates(request: Request, user: Holder) -> JSONResponse:
    """The certificates issued for the holder, newest first, each with its current state
    (``valid``, ``expired``, ``not_yet_valid``, ``superseded``, ``revoked``)."""
    core = ctx(request).core
    rows = holder_portal.my_certificates(core.uow(), _reg_no(user), today=core.clock.today())
    return JSONResponse({"certificates": [r.as_dict() for r in rows]})


@router.post(
    "/api/v1/me/certificates",
    tags=["holder"],
    response_class=Response,
    responses={
        200: {
            "content": {"application/pdf": {}, "application/ofd": {}},
            "description": "The sealed certificate: the PDF (`format=pdf`, the default) or the OFD "
            "sealed with the SM2 electronic seal (`format=ofd`, R-DOC-6), `ecert-<serial>.pdf|ofd`, "
            "its serial in `X-Ecert-Serial`",
        },
        **DOWNLOAD_ERRORS,
    },
)
def api_download(
    request: Request,
    user: HolderWrite,
    body: DownloadRequest,
    file_format: Annotated[
        FileFormat,
        Query(
            alias="format",
            description="The file: `pdf` (PAdES-sealed PDF) or `ofd` (GB/T 33190 OFD with the GB/T 38540 "
            "SM2/SM3 electronic seal, R-DOC-6)",
        ),
    ] = "pdf",
) -> Response:
    """Confirm the usage window and download a newly issued, sealed certificate (R-USE-1, R-USE-2) as
    the PDF or, with ``?format=ofd``, the OFD (R-DOC-6): one issuance either way.
    ``409 confirmation_required`` unless ``confirm`` is true and the window is today's."""
    issued = _download(
        request,
        user,
        confirmed=body.confirm is True,
        usage_from=body.usage_from,
        usage_until=body.usage_until,
        file_format=file_format,
    )
    return _file_response(issued, file_format)


@router.get("/api/v1/me/applications", tags=["holder"], responses=ERRORS)
def api_my_applications(request: Request, user: Holder) -> JSONResponse:
    """The holder's renewal applications, newest first, with their specialties and decisions."""
    apps = holder_portal.my_applications(ctx(request).core.uow(), _reg_no(user))
    return JSONResponse({"applications": [a.as_dict() for a in apps]})


@router.post("/api/v1/me/applications", tags=["holder"], status_code=201, responses=ERRORS)
def api_apply(request: Request, user: HolderWrite, body: RenewalRequest) -> JSONResponse:
    """Apply for renewal (延续注册) of some of the holder's specialties: ``{"application_id", "status"}``."""
    result = _apply(request, user, body.specialties, committed=body.commit_ce, ce_hours=body.ce_hours)
    return JSONResponse(result, status_code=201)
