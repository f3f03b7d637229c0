"""Changes to a registration (R-CHG-1, R-CHG-2, R-CHG-3, R-LAPSE-1).

Every change of data printed on the certificate supersedes the registration's earlier certificates
in the same transaction (``registry.supersede``, which also records when and why), and
verification shows the registry's current data (R-CHG-3). Every state change appends one audit event with ``before`` and
``after`` (R-ACC-1). A refusal raises before anything is written, and leaving the unit of work
without ``commit()`` rolls back, so a refused request changes nothing.

- :func:`change_employer` — 变更注册, the holder moves to another employer.
- :func:`rename_employer` — one employer's name changes: every registration with its credit code, in
  one set-based ``UPDATE`` and one audit event.
- :func:`correct_personal` — correction of name, gender, birth date or ID number.
- :func:`revoke` / :func:`cancel` — 撤销 / 注销 by the authority (R-LAPSE-1).
- :func:`paper_request` — reissue of a paper certificate or an anti-counterfeit sticker (R-CHG-2).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar

from ecert.adapters.db.registry import Change
from ecert.domain import ids, provinces
from ecert.domain.errors import BadInput, NotFound, Problem, RuleRefusal, problem
from ecert.domain.model import (
    Employer,
    Gender,
    Person,
    Registration,
    RegistrationStatus,
    StatusRecord,
    SupersessionCause,
)
from ecert.domain.names import validate_name
from ecert.domain.policy import Policy
from ecert.domain.rules.scope import in_rollout, paper_certificates_void
from ecert.domain.spreadsheet import formula_message, is_formula
from ecert.services.registry import get_registration
from ecert.services.unit_of_work import AbstractUnitOfWork

MAX_TEXT = 2000  # reason and legal basis of a revocation or cancellation
GENDERS = {g.value: g for g in Gender}
PAPER_KINDS = ("reissue", "sticker")  # 补发/换发纸质证书, 防伪贴
PAPER_WHY = ("lost", "damaged", "data_changed", "renewal", "employer_change")

T = TypeVar("T")


def _employer_name(raw: str, column: str = "name") -> str:
    employer = raw.strip()
    if not employer or len(employer) > 200:
        raise BadInput([problem("聘用企业名称为空或过长", "Employer name is empty or too long", column=column)])
    if is_formula(employer):  # the registry export writes it into a CSV (domain/spreadsheet.py)
        raise BadInput([problem(*formula_message("聘用企业名称", "Employer name"), column=column)])
    return employer


def _collect(fn: Callable[[], T], probs: list[Problem], column: str) -> T | None:
    """Run a validator that raises BadInput; keep its problems (named after the CLI option)."""
    try:
        return fn()
    except BadInput as exc:
        probs.extend(Problem(p.message_zh, p.message_en, column=column) for p in exc.problems)
        return None


def parse_date(value: str, column: str, probs: list[Problem]) -> date | None:
    """``YYYY-MM-DD``, or None with a problem naming ``column`` added to ``probs``."""
    v = value.strip()
    try:
        if len(v) != 10:
            raise ValueError
        return date.fromisoformat(v)
    except ValueError:
        probs.append(
            problem(f"日期格式应为 YYYY-MM-DD,实际为“{v}”", f"Date must be YYYY-MM-DD, got {v!r}", column=column)
        )
        return None


TEXT_LABELS = {"reason": ("理由", "The reason"), "basis": ("法律依据", "The legal basis")}


def _required_text(value: str | None, column: str, probs: list[Problem]) -> str | None:
    zh, en = TEXT_LABELS.get(column, (column, column))
    v = (value or "").strip()
    if not v:
        probs.append(problem(f"{zh}不能为空", f"{en} must not be empty", column=column))
        return None
    if len(v) > MAX_TEXT:
        probs.append(problem(f"{zh}过长(最多 {MAX_TEXT} 字)", f"{en} is too long (at most {MAX_TEXT})", column=column))
        return None
    return v


def _require_active(reg: Registration, rule: str) -> None:
    if reg.status is not RegistrationStatus.ACTIVE:
        raise RuleRefusal("registration_inactive", rule=rule, params={"status": reg.status.value})


def _audit_change(
    uow: AbstractUnitOfWork,
    action: str,
    reg: Registration,
    before: dict[str, Any],
    after: dict[str, Any],
    version: int,
    *,
    actor: str,
    now: datetime,
) -> None:
    """The audit event of a change to a registration: what changed, from what, to what, and the data
    version it made (R-ACC-1)."""
    payload = {"before": before, "after": after, "data_version": version}
    uow.audit.append(at=now, actor=actor, action=action, subject=reg.registration_no, payload=payload)


# ------------------------------------------------------------------------------------- employer


def change_employer(
    uow: AbstractUnitOfWork, registration_no: str, *, name: str, uscc: str, actor: str, now: datetime
) -> dict[str, Any]:
    """变更注册: a new employer (credit code checked, GB 32100). Specialties and their validity stay."""
    employer = _employer_name(name)
    code = ids.parse_uscc(uscc)
    with uow:
        reg = get_registration(uow, registration_no)
        _require_active(reg, "R-CHG-1")
        before = {"name": reg.employer.name, "uscc": reg.employer.uscc}
        after = {"name": employer, "uscc": code}
        changed = before != after
        version = reg.data_version
        if changed:
            new = Employer(name=employer, uscc=code)
            change = Change(SupersessionCause.EMPLOYER_CHANGE, now, actor)
            version = uow.registry.supersede(reg.registration_no, change, employer=new)
            _audit_change(uow, "registration.change_employer", reg, before, after, version, actor=actor, now=now)
        uow.commit()
    return {"registration_no": reg.registration_no, "employer": after, "changed": changed, "data_version": version}


def rename_employer(uow: AbstractUnitOfWork, uscc: str, *, name: str, actor: str, now: datetime) -> dict[str, Any]:
    """An employer's name changes (企业名称变更): every registration with that credit code, whatever its
    status, gets the new name and is superseded in ONE set-based ``UPDATE``, and
    the change is ONE audit event (subject: the credit code) with the names before, the count and
    the registration numbers concerned (so each holder's history can show it). Registrations
    already carrying the new name are left alone; renaming to the current name changes nothing."""
    code = ids.parse_uscc(uscc)
    new = _employer_name(name)
    with uow:
        names = uow.registry.employer_names(code)
        if not names:
            raise NotFound("employer", code)
        numbers = uow.registry.rename_employer(code, new, at=now, actor=actor)
        if numbers:
            payload = {
                "uscc": code,
                "before": {"names": sorted(names - {new})},
                "after": {"name": new},
                "registrations": len(numbers),
                "registration_nos": numbers,
            }
            uow.audit.append(at=now, actor=actor, action="employer.rename", subject=code, payload=payload)
        uow.commit()
    return {"uscc": code, "name": new, "registrations": len(numbers)}


# ------------------------------------------------------------------------------------- personal data


def correct_personal(
    uow: AbstractUnitOfWork,
    registration_no: str,
    *,
    name: str | None = None,
    gender: str | None = None,
    birth_date: str | None = None,
    id_number: str | None = None,
    actor: str,
    today: date,
    now: datetime,
) -> dict[str, Any]:
    """Correction of personal data, validated as the import validates it: the name (rare characters
    accepted and flagged for the renderer), gender 男/女, a birth date in the past, an ID number with
    a valid check digit whose birth date and gender agree with the *resulting* record, and not in
    use by another active registration. Only the fields that change are in the audit event."""
    if name is None and gender is None and birth_date is None and id_number is None:
        raise BadInput(
            [
                problem(
                    "请至少指定 --name、--gender、--birth-date、--id-number 之一",
                    "Give at least one of --name, --gender, --birth-date, --id-number",
                )
            ]
        )
    probs: list[Problem] = []
    new_name = _collect(lambda: validate_name(name), probs, "name") if name is not None else None
    new_gender: Gender | None = None
    if gender is not None:
        new_gender = GENDERS.get(gender.strip())
        if new_gender is None:
            probs.append(
                problem(
                    f"性别应为“男”或“女”,实际为“{gender}”",
                    f"Gender must be 男 (Male) or 女 (Female), got {gender!r}",
                    column="gender",
                )
            )
    new_birth: date | None = None
    if birth_date is not None:
        new_birth = parse_date(birth_date, "birth_date", probs)
        if new_birth is not None and new_birth >= today:
            probs.append(problem("出生日期不能晚于今天", "Birth date is not in the past", column="birth_date"))
    new_idn = _collect(lambda: ids.parse_id_number(id_number), probs, "id_number") if id_number is not None else None
    if probs:
        raise BadInput(probs)
    with uow:
        reg = get_registration(uow, registration_no)
        _require_active(reg, "R-CHG-1")
        p = reg.person
        result_name = new_name if new_name is not None else p.name
        result_gender = new_gender or p.gender
        result_birth = new_birth or p.birth_date
        result_id = new_idn.value if new_idn is not None else p.id_number
        ids.check_id_matches(ids.parse_id_number(result_id), result_birth, result_gender)
        if result_id != p.id_number:
            other = uow.registry.active_registration_of(result_id, besides=reg.registration_no)
            if other is not None:
                raise BadInput(
                    [
                        problem(
                            f"该身份证号已有有效注册 {other}",
                            f"The ID number already has an active registration {other}",
                            column="id_number",
                        )
                    ]
                )
        old = {
            "name": p.name,
            "gender": p.gender.value,
            "birth_date": p.birth_date.isoformat(),
            "id_number": p.id_number,
        }
        new = {
            "name": result_name,
            "gender": result_gender.value,
            "birth_date": result_birth.isoformat(),
            "id_number": result_id,
        }
        fields = [k for k in old if old[k] != new[k]]
        version = reg.data_version
        if fields:
            person = Person(name=result_name, gender=result_gender, birth_date=result_birth, id_number=result_id)
            change = Change(SupersessionCause.PERSONAL_CHANGE, now, actor)
            version = uow.registry.supersede(reg.registration_no, change, person=person)
            changed_before, changed_after = {k: old[k] for k in fields}, {k: new[k] for k in fields}
            _audit_change(
                uow, "registration.correct_personal", reg, changed_before, changed_after, version, actor=actor, now=now
            )
        uow.commit()
    return {
        "registration_no": reg.registration_no,
        "person": new,
        "changed": bool(fields),
        "fields": fields,
        "data_version": version,
    }


# ------------------------------------------------------------------------------------- revoke / cancel


def _end(
    uow: AbstractUnitOfWork,
    registration_no: str,
    status: RegistrationStatus,
    reason: str,
    basis: str | None,
    effective: str,
    actor: str,
    today: date,
    now: datetime,
) -> dict[str, Any]:
    """Revoke or cancel; a revocation must name its legal basis, a cancellation may."""
    probs: list[Problem] = []
    why = _required_text(reason, "reason", probs)
    legal: str | None = None
    if status is RegistrationStatus.REVOKED or (basis is not None and basis.strip()):
        legal = _required_text(basis, "basis", probs)
    eff = parse_date(effective, "effective", probs)
    if eff is not None and eff > today:
        # The status changes at once; nothing would apply a future date later, so it is refused.
        probs.append(
            problem(
                f"生效日期 {eff.isoformat()} 晚于今天 {today.isoformat()}",
                f"The effective date {eff.isoformat()} is after today ({today.isoformat()})",
                column="effective",
            )
        )
    if probs:
        raise BadInput(probs)
    assert why is not None and eff is not None
    with uow:
        reg = get_registration(uow, registration_no)
        _require_active(reg, "R-LAPSE-1")
        prev = uow.registry.status_record(reg.registration_no)
        assert prev is not None  # read with the registration above, in this transaction
        before = {
            "status": reg.status.value,
            "reason": prev.reason,
            "basis": prev.basis,
            "effective": prev.effective.isoformat() if prev.effective else None,
        }
        # Conditional on the registration still being active: of two concurrent requests only one
        # changes it; the other is refused with the status it finds.
        version = uow.registry.end(reg.registration_no, StatusRecord(status, why, legal, eff), at=now, actor=actor)
        if version is None:
            current = uow.registry.status_record(reg.registration_no)
            assert current is not None
            raise RuleRefusal("registration_inactive", rule="R-LAPSE-1", params={"status": current.status.value})
        after = {"status": status.value, "reason": why, "basis": legal, "effective": eff.isoformat()}
        action = f"registration.{'revoke' if status is RegistrationStatus.REVOKED else 'cancel'}"
        _audit_change(uow, action, reg, before, after, version, actor=actor, now=now)
        uow.commit()
    return {"registration_no": reg.registration_no, **after}


def revoke(
    uow: AbstractUnitOfWork,
    registration_no: str,
    *,
    reason: str,
    basis: str,
    effective: str,
    actor: str,
    today: date,
    now: datetime,
) -> dict[str, Any]:
    """撤销 (R-LAPSE-1): the registration is revoked, e.g. because it was obtained by deception or
    granted unlawfully. Reason, legal basis and effective date are required; the effective date may
    be in the past but not after today. Only an active registration can be revoked. Verification
    then says ``revoked`` and shows the legal basis and the effective date, never the free-text
    reason (it may contain personal details); downloads are refused (R-USE-4)."""
    return _end(uow, registration_no, RegistrationStatus.REVOKED, reason, basis, effective, actor, today, now)


def cancel(
    uow: AbstractUnitOfWork,
    registration_no: str,
    *,
    reason: str,
    effective: str,
    basis: str | None = None,
    actor: str,
    today: date,
    now: datetime,
) -> dict[str, Any]:
    """注销 (R-LAPSE-1) on lapse grounds: every specialty has lapsed (no renewal, R-REN-3), the holder
    reached the age limit, the holder asked for it, or the holder died (also: registration revoked
    or certificate withdrawn elsewhere). The reason is free text and required; the legal basis is
    optional; the effective date may be in the past but not after today. Only from ``active``.
    Verification then says ``revoked`` (status ``cancelled`` in ``current.revocation``)."""
    return _end(uow, registration_no, RegistrationStatus.CANCELLED, reason, basis, effective, actor, today, now)


# ------------------------------------------------------------------------------------- paper


def paper_request(
    uow: AbstractUnitOfWork,
    registration_no: str,
    *,
    kind: str,
    why: str,
    actor: str,
    today: date,
    now: datetime,
    policy: Policy,
) -> dict[str, Any]:
    """A request for a paper reissue (lost, damaged, changed data) or an anti-counterfeit sticker
    (renewal, employer change). In a region in rollout today it is refused with
    ``paper_not_reissued`` (R-CHG-2): the e-certificate prevails (R-CHG-3); likewise everywhere once
    paper certificates are void (R-SCOPE-2). Otherwise it is accepted and recorded as an audit
    event ``paper.request``; producing the paper is outside this system."""
    probs: list[Problem] = []
    k, w = kind.strip(), why.strip()
    if k not in PAPER_KINDS:
        probs.append(
            problem(f"--kind 应为 {'|'.join(PAPER_KINDS)}", f"--kind must be {'|'.join(PAPER_KINDS)}", column="kind")
        )
    if w not in PAPER_WHY:
        probs.append(problem(f"--why 应为 {'|'.join(PAPER_WHY)}", f"--why must be {'|'.join(PAPER_WHY)}", column="why"))
    if probs:
        raise BadInput(probs)
    with uow:
        reg = get_registration(uow, registration_no)
        _require_active(reg, "R-CHG-2")
        params = {"province": provinces.abbreviation(reg.province_code), "today": today.isoformat(), "kind": k}
        if in_rollout(reg.province_code, today, policy):
            raise RuleRefusal("paper_not_reissued", rule="R-CHG-2", params=params)
        if paper_certificates_void(today, policy):
            raise RuleRefusal("paper_not_reissued", rule="R-SCOPE-2", params=params)
        payload = {"kind": k, "why": w, "province": reg.province_code, "accepted": True}
        uow.audit.append(at=now, actor=actor, action="paper.request", subject=reg.registration_no, payload=payload)
        uow.commit()
    return {"registration_no": reg.registration_no, "kind": k, "why": w, "accepted": True}
