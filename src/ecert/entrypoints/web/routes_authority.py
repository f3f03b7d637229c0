"""Authority console (reviewers, admins) and its API. See the issue "web service", part 3.

Pages (zh-CN first, no JavaScript): ``/review`` (pending renewals, decide with a reason, R-REN-6),
``/admin`` (registry search), ``/admin/holders/{reg_no}`` (change employer, revoke, cancel,
R-CHG-1, R-LAPSE-1), ``/admin/import`` (upload with the row-level report), ``/admin/audit`` (the log
and its hash chain, R-ACC-1). API under ``/api/v1``: the same use cases, JSON in and out, errors as
``{"error": {"code", "message", "rule"}}``.

Scoping: a reviewer sees and decides only their province (R-REN-6), checked here before anything
else and again inside ``decide_renewal``; a ministry admin sees all. Holders get 403, anonymous
callers 401 (pages: a redirect to the sign-in page). Every POST carries the session's CSRF token.
Handlers only translate: the rules live in the services.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from ecert.adapters.db import audit as audit_store
from ecert.adapters.db.users import User
from ecert.domain import provinces
from ecert.domain.errors import BadInput, EcertError, NotFound, problem
from ecert.entrypoints.web.deps import check_csrf, ctx, require_user
from ecert.entrypoints.web.errors import form_error, http_status
from ecert.entrypoints.web.i18n import request_lang
from ecert.entrypoints.web.templating import render
from ecert.services import changes, registry_import, renewal
from ecert.services.registry_import import ImportResult
from ecert.services.views import authority

router = APIRouter()
STAFF = ("reviewer", "admin")
COPY_CHUNK = 1 << 20
SAFE_NAME = re.compile(r"[^\w.\-]+")


def _page(request: Request, name: str, user: User, status_code: int = 200, **context: Any) -> Response:
    c = ctx(request).core
    return render(
        request,
        name,
        status_code=status_code,
        user=user,
        today=c.clock.today().isoformat(),
        province_names=[(abbr, nm) for abbr, (_code, nm) in provinces.PROVINCES.items()],
        **context,
    )


# ------------------------------------------------------------------------------------ access


def staff(request: Request) -> User:
    return require_user(request, *STAFF)


def admin(request: Request) -> User:
    return require_user(request, "admin")


def csrf_header(request: Request) -> None:
    """API calls send the session's CSRF token as ``X-CSRF-Token``."""
    check_csrf(request, None)


Staff = Annotated[User, Depends(staff)]
Admin = Annotated[User, Depends(admin)]
Csrf = Annotated[None, Depends(csrf_header)]


def scope_of(user: User) -> str | None:
    """The province a user may see: a reviewer's own (R-REN-6), every province (None) for an admin."""
    return None if user.role == "admin" else user.province_code or "--"


def check_scope(user: User, province_code: str) -> None:
    if user.role != "admin" and user.province_code != province_code:
        raise EcertError("forbidden", rule="R-REN-6")


def _province_filter(user: User, province: str | None) -> str | None:
    """An admin may narrow to one province (``浙`` or ``33``); a reviewer always sees their own."""
    if user.role != "admin":
        return scope_of(user)
    return provinces.normalize_province(province) if province and province.strip() else None


# ------------------------------------------------------------------------------------ JSON bodies

M = TypeVar("M", bound=BaseModel)


def json_body(model: type[M]) -> Callable[[Request], Awaitable[M]]:
    """Parse and validate a JSON body; malformed input is ``bad_input`` (400) naming each field,
    as the contract has it, never FastAPI's own 422 shape."""

    async def parse(request: Request) -> M:
        try:
            raw = await request.json()
        except ValueError:
            raise BadInput([problem("请求体不是有效的 JSON", "The request body is not valid JSON")]) from None
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            probs = []
            for err in exc.errors():
                where = ".".join(str(x) for x in err["loc"]) or None
                probs.append(problem(f"{where}:{err['msg']}", f"{where}: {err['msg']}", column=where))
            raise BadInput(probs) from None

    return parse


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


class DecisionBody(BaseModel):
    """``renewal decide``: approve, or reject with a reason (R-REN-6)."""

    model_config = ConfigDict(extra="forbid")
    approve: StrictBool
    reason: str | None = Field(default=None, max_length=2000)


class EmployerBody(BaseModel):
    """变更注册: the new employer's name and unified social credit code (GB 32100)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=200)
    uscc: str = Field(max_length=40)


class RevocationBody(BaseModel):
    """撤销 (R-LAPSE-1): reason, legal basis and effective date (YYYY-MM-DD, not after today)."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=2000)
    basis: str = Field(max_length=2000)
    effective: str = Field(max_length=10)


class CancellationBody(BaseModel):
    """注销 (R-LAPSE-1): reason and effective date; the legal basis is optional."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=2000)
    basis: str | None = Field(default=None, max_length=2000)
    effective: str = Field(max_length=10)


# A JSON body, parsed and checked by :func:`json_body` (bad_input naming each field).
DecisionIn = Annotated[DecisionBody, Depends(json_body(DecisionBody))]
EmployerIn = Annotated[EmployerBody, Depends(json_body(EmployerBody))]
RevocationIn = Annotated[RevocationBody, Depends(json_body(RevocationBody))]
CancellationIn = Annotated[CancellationBody, Depends(json_body(CancellationBody))]


class DecisionForm(BaseModel):
    """The review page's decision form (R-REN-6); ``province`` and ``page`` bring the reviewer back."""

    decision: str = ""
    reason: str = ""
    csrf: str = ""
    province: str = ""
    page: int = 1


class EmployerForm(BaseModel):
    """The holder page's 变更注册 form."""

    name: str = ""
    uscc: str = ""
    csrf: str = ""


class EndingForm(BaseModel):
    """The holder page's 撤销 and 注销 forms (R-LAPSE-1): the same fields, checked by the use case."""

    reason: str = ""
    basis: str = ""
    effective: str = ""
    csrf: str = ""


# ------------------------------------------------------------------------------------ use cases


def _decide(request: Request, user: User, application_id: int, approve: bool, reason: str | None) -> dict[str, Any]:
    core = ctx(request).core
    check_scope(user, authority.application_province(core.uow(), application_id))  # R-REN-6, before anything
    return renewal.decide_renewal(
        core.uow(),
        application_id,
        approve=approve,
        reason=reason,
        reviewer=user.username,
        today=core.clock.today(),
        now=core.clock.now(),
        policy=core.policy,
    )


def _pending(request: Request, user: User, province: str | None, page: int) -> authority.Page:
    core = ctx(request).core
    return authority.pending_applications(
        core.uow(),
        province_code=_province_filter(user, province),
        today=core.clock.today(),
        policy=core.policy,
        page=page,
    )


def _employer(request: Request, user: User, reg_no: str, name: str, uscc: str) -> dict[str, Any]:
    core = ctx(request).core
    return changes.change_employer(core.uow(), reg_no, name=name, uscc=uscc, actor=user.username, now=core.clock.now())


def _end(
    request: Request, user: User, reg_no: str, kind: str, reason: str, basis: str | None, effective: str
) -> dict[str, Any]:
    core = ctx(request).core
    common: dict[str, Any] = {
        "reason": reason,
        "effective": effective,
        "actor": user.username,
        "today": core.clock.today(),
        "now": core.clock.now(),
    }
    if kind == "revoke":
        return changes.revoke(core.uow(), reg_no, basis=basis or "", **common)
    return changes.cancel(core.uow(), reg_no, basis=basis, **common)


def _safe_filename(name: str | None) -> str:
    base = SAFE_NAME.sub("_", Path(name or "").name).strip("._")[:100]
    return base or "upload.csv"


def _import_upload(request: Request, user: User, upload: UploadFile | None) -> ImportResult:
    """Save the upload in a private temporary directory and import it, all or nothing. Image columns
    must be empty: an uploaded file travels without its images (see ``registry_import.image_reference_problems``)."""
    if upload is None or not upload.filename:
        raise BadInput([problem("请选择要导入的文件", "Choose a file to import", column="file")])
    core = ctx(request).core
    with tempfile.TemporaryDirectory(prefix="ecert-import-") as tmp:
        path = Path(tmp) / _safe_filename(upload.filename)
        size = 0
        with path.open("wb") as out:
            while chunk := upload.file.read(COPY_CHUNK):
                size += len(chunk)
                if size > core.settings.web.import_max_bytes:
                    limit = core.settings.web.import_max_mb
                    raise BadInput(
                        [problem(f"文件超过 {limit} MB", f"The file is larger than {limit} MB", column="file")]
                    )
                out.write(chunk)
        image_probs = registry_import.image_reference_problems(path)
        if image_probs:
            raise BadInput(image_probs)
        return registry_import.import_registry(
            core.uow(), path, today=core.clock.today(), now=core.clock.now(), actor=user.username
        )


# ------------------------------------------------------------------------------------ review pages


def _review_page(
    request: Request,
    user: User,
    *,
    province: str | None,
    page: int,
    status_code: int = 200,
    decided: int | None = None,
    **context: Any,
) -> Response:
    core = ctx(request).core
    filt = _province_filter(user, province)
    data = _pending(request, user, province, page)
    outcome = None
    if decided is not None:
        try:
            found = authority.application_outcome(core.uow(), decided)
            check_scope(user, found["province_code"])
            outcome = found
        except EcertError:
            outcome = None  # a stale or foreign link shows no note
    scope_name = provinces.name(filt) if filt in provinces.CODE_TO_ABBR else None
    return _page(
        request,
        "review.html",
        user,
        status_code=status_code,
        apps=data.items,
        pager=data,
        province=provinces.abbreviation(filt) if filt and user.role == "admin" else "",
        scope_name=scope_name,
        outcome=outcome,
        **context,
    )


def _review_refused(
    request: Request, user: User, exc: EcertError, *, province: str | None, page: int, **context: Any
) -> Response:
    """The review list again, with the refusal that brought the reviewer back to it."""
    status = http_status(exc)
    return _review_page(
        request, user, province=province, page=page, status_code=status, **context, **form_error(request, exc)
    )


@router.get("/review", include_in_schema=False)
def review(request: Request, province: str = "", page: int = 1, decided: int | None = None) -> Response:
    user = staff(request)
    try:
        return _review_page(request, user, province=province, page=page, decided=decided)
    except BadInput as exc:  # an unknown province in the filter
        return _review_refused(request, user, exc, province=None, page=1)


@router.post("/review/{application_id}", include_in_schema=False)
def review_decide(request: Request, application_id: int, form: Annotated[DecisionForm, Form()]) -> Response:
    user = staff(request)
    check_csrf(request, form.csrf)
    try:
        if form.decision not in ("approve", "reject"):
            raise BadInput([problem("请选择批准或驳回", "Choose approve or reject", column="decision")])
        _decide(request, user, application_id, form.decision == "approve", form.reason)
    except EcertError as exc:
        return _review_refused(
            request, user, exc, province=form.province, page=form.page, failed_id=application_id, reason=form.reason
        )
    query = {"decided": str(application_id)}
    if form.province:
        query["province"] = form.province
    return RedirectResponse(f"/review?{urlencode(query)}", status_code=303)


# ------------------------------------------------------------------------------------ admin pages


@router.get("/admin", include_in_schema=False)
def admin_search(request: Request, q: str = "", page: int = 1) -> Response:
    user = admin(request)
    core = ctx(request).core
    result = authority.search_registry(core.uow(), q, today=core.clock.today(), policy=core.policy, page=page)
    return _page(request, "admin.html", user, q=q.strip(), holders=result.items, pager=result)


def _holder_page(request: Request, user: User, reg_no: str, status_code: int = 200, **context: Any) -> Response:
    core = ctx(request).core
    holder = authority.holder_detail(core.uow(), reg_no, today=core.clock.today(), policy=core.policy)
    return _page(request, "admin_holder.html", user, status_code=status_code, h=holder, **context)


@router.get("/admin/holders/{reg_no}", include_in_schema=False)
def admin_holder(request: Request, reg_no: str, done: str = "") -> Response:
    user = admin(request)
    return _holder_page(request, user, reg_no, done=done if done in ("employer", "revoke", "cancel") else "")


def _holder_action(
    request: Request,
    reg_no: str,
    action: str,
    form: EmployerForm | EndingForm,
    run: Callable[[User], Any],
) -> Response:
    """An admin's change from the holder page (CSRF checked): on success back to the holder with a
    note, on a refusal the page again with the message and every problem beside the form, under
    the error's status."""
    user = admin(request)
    check_csrf(request, form.csrf)
    try:
        run(user)
    except EcertError as exc:
        if exc.code == "not_found":
            raise
        return _holder_page(
            request,
            user,
            reg_no,
            status_code=http_status(exc),
            failed=action,
            form=form.model_dump(exclude={"csrf"}),
            **form_error(request, exc),
        )
    return RedirectResponse(f"/admin/holders/{quote(reg_no.strip())}?done={action}", status_code=303)


@router.post("/admin/holders/{reg_no}/employer", include_in_schema=False)
def admin_change_employer(request: Request, reg_no: str, form: Annotated[EmployerForm, Form()]) -> Response:
    return _holder_action(
        request, reg_no, "employer", form, lambda user: _employer(request, user, reg_no, form.name, form.uscc)
    )


def _ending(request: Request, reg_no: str, kind: str, form: EndingForm) -> Response:
    """撤销 (``revoke``) or 注销 (``cancel``) from the holder page (R-LAPSE-1): one body for both forms."""
    return _holder_action(
        request,
        reg_no,
        kind,
        form,
        lambda user: _end(request, user, reg_no, kind, form.reason, form.basis or None, form.effective),
    )


@router.post("/admin/holders/{reg_no}/revocation", include_in_schema=False)
def admin_revoke(request: Request, reg_no: str, form: Annotated[EndingForm, Form()]) -> Response:
    return _ending(request, reg_no, "revoke", form)


@router.post("/admin/holders/{reg_no}/cancellation", include_in_schema=False)
def admin_cancel(request: Request, reg_no: str, form: Annotated[EndingForm, Form()]) -> Response:
    return _ending(request, reg_no, "cancel", form)


@router.get("/admin/import", include_in_schema=False)
def admin_import_form(request: Request) -> Response:
    return _page(request, "admin_import.html", admin(request))


@router.post("/admin/import", include_in_schema=False)
def admin_import(
    request: Request,
    file: Annotated[UploadFile | None, File()] = None,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    user = admin(request)
    check_csrf(request, csrf)
    filename = file.filename if file is not None else ""
    try:
        result = _import_upload(request, user, file)
    except BadInput as exc:
        return _page(
            request,
            "admin_import.html",
            user,
            status_code=http_status(exc),
            filename=filename,
            **form_error(request, exc),
        )
    return _page(request, "admin_import.html", user, filename=filename, result=result.as_dict())


EventId = Annotated[int | None, Query(ge=0, le=2**63 - 1)]  # a database id: larger is bad input, not a 500
AUDIT_SUMMARY_CHARS = 300  # the one-line preview of an event's details (the cell cuts it to its width)
AUDIT_DETAILS_CHARS = 20_000  # the expanded details; the API has every byte


@router.get("/admin/audit", include_in_schema=False)
def admin_audit(request: Request, before_id: EventId = None, after_id: EventId = None) -> Response:
    """The chain check's result first, then the events newest first, 50 a page (``before_id``: older,
    ``after_id``: newer); each event's details fold out, pretty-printed."""
    user = admin(request)
    core = ctx(request).core
    page = authority.audit_browse(core.uow(), before_id=before_id, after_id=after_id)
    for e in page["events"]:
        e["payload_line"] = json.dumps(e["payload"], ensure_ascii=False, sort_keys=True)[:AUDIT_SUMMARY_CHARS]
        pretty = json.dumps(e["payload"], ensure_ascii=False, sort_keys=True, indent=2)
        e["payload_pretty"] = pretty[:AUDIT_DETAILS_CHARS] + ("\n…" if len(pretty) > AUDIT_DETAILS_CHARS else "")
    chain = _audit_check(core, request_lang(request))
    paged = before_id is not None or after_id is not None
    return _page(request, "admin_audit.html", user, chain=chain, paged=paged, **page)


# ------------------------------------------------------------------------------------ API


@router.get("/api/v1/review/applications", tags=["authority"])
def api_applications(
    request: Request, user: Staff, province: str | None = None, page: Annotated[int, Query(ge=1)] = 1
) -> JSONResponse:
    """Pending renewal applications: a reviewer's province (R-REN-6); an admin's all, or ``province``."""
    return JSONResponse(_pending(request, user, province, page).as_dict("applications"))


@router.post(
    "/api/v1/review/applications/{application_id}/decision",
    tags=["authority"],
    openapi_extra=_schema(DecisionBody),
)
def api_decide(request: Request, application_id: int, user: Staff, _csrf: Csrf, body: DecisionIn) -> JSONResponse:
    """``renewal decide``: ``{"application_id", "status", "specialties": [{"specialty", "valid_until"}]}``."""
    return JSONResponse(_decide(request, user, application_id, body.approve, body.reason))


@router.get("/api/v1/registry", tags=["authority"])
def api_search(request: Request, user: Admin, q: str = "", page: Annotated[int, Query(ge=1)] = 1) -> JSONResponse:
    """Registry search by registration number, name or ID number (exact or prefix), 50 a page."""
    core = ctx(request).core
    result = authority.search_registry(core.uow(), q, today=core.clock.today(), policy=core.policy, page=page)
    return JSONResponse(result.as_dict("holders"))


@router.get("/api/v1/registry/{reg_no}", tags=["authority"])
def api_holder(request: Request, reg_no: str, user: Staff) -> JSONResponse:
    """A holder's record (``holder show`` and more); reviewers only for their province (R-REN-6)."""
    core = ctx(request).core
    check_scope(user, authority.registration_province(core.uow(), reg_no))
    return JSONResponse(authority.holder_detail(core.uow(), reg_no, today=core.clock.today(), policy=core.policy))


@router.post("/api/v1/registry/{reg_no}/employer", tags=["authority"], openapi_extra=_schema(EmployerBody))
def api_change_employer(request: Request, reg_no: str, user: Admin, _csrf: Csrf, body: EmployerIn) -> JSONResponse:
    """``change employer`` (变更注册, R-CHG-1): supersedes earlier certificates."""
    return JSONResponse(_employer(request, user, reg_no, body.name, body.uscc))


@router.post("/api/v1/registry/{reg_no}/revocation", tags=["authority"], openapi_extra=_schema(RevocationBody))
def api_revoke(request: Request, reg_no: str, user: Admin, _csrf: Csrf, body: RevocationIn) -> JSONResponse:
    """``revoke`` (撤销, R-LAPSE-1)."""
    return JSONResponse(_end(request, user, reg_no, "revoke", body.reason, body.basis, body.effective))


@router.post("/api/v1/registry/{reg_no}/cancellation", tags=["authority"], openapi_extra=_schema(CancellationBody))
def api_cancel(request: Request, reg_no: str, user: Admin, _csrf: Csrf, body: CancellationIn) -> JSONResponse:
    """注销 (R-LAPSE-1)."""
    return JSONResponse(_end(request, user, reg_no, "cancel", body.reason, body.basis, body.effective))


@router.post("/api/v1/registry/import", tags=["authority"])
def api_import(
    request: Request, user: Admin, _csrf: Csrf, file: Annotated[UploadFile | None, File()] = None
) -> JSONResponse:
    """``import``: CSV (UTF-8 or GB18030) or XLSX, all or nothing: ``{"imported", "updated", "rows"}``;
    a bad file is 400 with ``details`` naming every bad row, column and reason."""
    return JSONResponse(_import_upload(request, user, file).as_dict())


@router.get("/api/v1/audit", tags=["authority"])
def api_audit(
    request: Request,
    user: Admin,
    limit: Annotated[int, Query(ge=1, le=authority.MAX_AUDIT_PAGE)] = authority.AUDIT_PAGE_SIZE,
    before_id: int | None = None,
    verify: bool = False,
) -> JSONResponse:
    """The latest audit events, newest first; ``next_before_id`` pages back. ``verify=true`` also
    checks the whole log as ``ecert audit verify`` does (R-ACC-1; the same answer): ``chain: {"intact",
    "size", "checkpoint", "problems": [{"code", "message"}], "first_broken_id",
    "first_unlogged_verification_id", "events", "verifications", "unsequenced"}``."""
    core = ctx(request).core
    body = authority.audit_page(core.uow(), limit=limit, before_id=before_id)
    if verify:
        body["chain"] = _audit_check(core, request_lang(request))
    return JSONResponse(body)


def _audit_check(core: Any, lang: str) -> dict[str, Any]:
    """What is committed sequenced first, then the check with the audit key: ``ecert audit verify``'s answer."""
    core.sequence_audit(full=True)
    return authority.audit_chain(core.uow(), key=core.audit_key, lang=lang)


@router.get("/api/v1/audit/checkpoint", tags=["audit"])
def api_audit_checkpoint(request: Request, format: str = "json") -> Response:
    """The audit log's latest signed checkpoint (R-ACC-1), public: ``{"size", "root_hash", "time",
    "key_id", "note", "verifier_key"}``; ``format=text``: the signed note alone (C2SP tlog-checkpoint),
    as ``ecert audit checkpoint`` writes it. Keep copies: ``ecert audit verify --from-checkpoint``
    proves the log still extends each."""
    core = ctx(request).core
    with core.uow() as uow:
        cp = audit_store.latest_checkpoint(uow.connection, core.audit_key)
    if cp is None:
        raise NotFound("audit_checkpoint", "-")
    if format == "text":
        return Response(cp["note"], media_type="text/plain; charset=utf-8")
    return JSONResponse(cp)


@router.get("/api/v1/audit/consistency", tags=["audit"])
def api_audit_consistency(
    request: Request,
    first: Annotated[int, Query(ge=0, le=2**62)],
    second: Annotated[int | None, Query(ge=0, le=2**62)] = None,
) -> JSONResponse:
    """Public: the consistency proof (RFC 9162 §2.1.4) from the tree of size ``first`` (a checkpoint
    you kept) to the checkpoint of size ``second`` (default the latest): ``{"first", "second",
    "root_hash", "proof": [hex], "checkpoint"}``."""
    core = ctx(request).core
    with core.uow() as uow:
        out = audit_store.consistency(uow.connection, first, second)
    if out is None:
        raise NotFound("audit_checkpoint", str(second if second is not None else first))
    return JSONResponse(out)


@router.get("/api/v1/audit/proof/{event_id}", tags=["audit"])
def api_audit_proof(
    request: Request, event_id: Annotated[int, PathParam(ge=0, le=2**31 - 1)], user: Admin
) -> JSONResponse:
    """The inclusion proof (RFC 9162 §2.1.3) of audit event ``event_id`` in the latest checkpoint's
    tree: ``{"event_id", "leaf_index", "leaf_hash", "tree_size", "root_hash", "proof": [hex], "checkpoint"}``;
    the leaf hash is sha256(0x00 || the event's canonical JSON). 404 for an event not (yet) in the tree."""
    core = ctx(request).core
    with core.uow() as uow:
        out = audit_store.inclusion(uow.connection, event_id)
    if out is None:
        raise NotFound("audit_event", str(event_id))
    return JSONResponse(out)
