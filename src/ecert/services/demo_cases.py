"""The purpose-built DEMO cases: holders a newcomer logs in as to try the holder's and the
authority's work, each brought into its state through the real use cases, relative to today.

=================  =============================================  =====================================
case               state                                          made by
=================  =============================================  =====================================
renewal_pending    建筑工程 inside its renewal window, applied for  ``renewal.apply_renewal`` (R-REN-1)
specialty_expired  公路工程 ended 40 days ago: expired or lapsed    the registry data (R-REN-2, R-REN-3)
revoked            a certificate downloaded, then revoked          ``issuance.issue``, ``changes.revoke``
superseded         a certificate downloaded, then a new employer   ``issuance.issue``, ``changes.change_employer``
age_65             turns 65 within the usage window                the registry data (R-DATE-2, R-USE-2)
rare_name          张𠮷䶮𪚥 (CJK Extension A and B)                 the registry data (R-DOC-1)
=================  =============================================  =====================================

Idempotent: a step runs only when its result is not there yet (no application so far, registration
still active, no superseded certificate), so a second ``ecert demo`` changes nothing, and what people
did with a case since (approved the application, downloaded again) is left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ecert.adapters.db.unit_of_work import SqlUnitOfWork
from ecert.adapters.synthetic_signature import signature_png
from ecert.domain import ids, provinces
from ecert.domain.errors import RuleRefusal
from ecert.domain.holder import holder_view
from ecert.domain.messages import term
from ecert.domain.model import ApplicationStatus, RegistrationStatus
from ecert.domain.names import rare_characters
from ecert.domain.policy import Policy
from ecert.domain.rules.age import age_limit_date
from ecert.domain.rules.renewal import renewed_validity_end
from ecert.services import changes, issuance, renewal
from ecert.services.accounts import add_user
from ecert.services.ports import DocumentServices
from ecert.services.registry import get_registration, set_signature
from ecert.services.synthetic import DEMO_CASES
from ecert.services.views import holder_portal

ACTOR = "demo"
USERNAMES = {
    "renewal_pending": "demo-renewal",
    "specialty_expired": "demo-expired",
    "revoked": "demo-revoked",
    "superseded": "demo-superseded",
    "age_65": "demo-age65",
    "rare_name": "demo-rare",
}
RENEWAL_SPECIALTY = "建筑工程"
EXPIRED_SPECIALTY = "公路工程"
# The superseded case's employer after the change.
NEW_EMPLOYER = ("浙江之江建筑工程有限公司", ids.make_uscc("330106", "MA2B8XH4K"))
REVOKE_REASON = "DEMO 演示:以欺骗手段取得注册"
REVOKE_BASIS = "《中华人民共和国行政许可法》第六十九条"


@dataclass(frozen=True)
class DemoCase:
    """One DEMO case as built: its holder account and the facts its description is made of."""

    case: str
    username: str
    registration_no: str
    name: str
    province: str
    facts: dict[str, Any] = field(default_factory=dict)

    def as_dict(self, password: str, lang: str = "zh") -> dict[str, Any]:
        who, to_try = describe(self, lang)
        return {
            "case": self.case,
            "username": self.username,
            "password": password,
            "role": "holder",
            "registration_no": self.registration_no,
            "name": self.name,
            "province": self.province,
            "who": who,
            "try": to_try,
            **self.facts,
        }


def build_demo_cases(
    make_uow: Callable[[], SqlUnitOfWork],
    numbers: dict[str, str],
    *,
    password: str,
    today: date,
    now: datetime,
    policy: Policy,
    docs: DocumentServices,
) -> list[DemoCase]:
    """Bring each case of ``numbers`` (case -> registration number, imported) into its state."""
    ctx = _Context(make_uow, today, now, policy, docs)
    return [_build(ctx, case, numbers[case], password) for case in DEMO_CASES if case in numbers]


@dataclass(frozen=True, slots=True)
class _Context:
    """What every step of a case works with."""

    make_uow: Callable[[], SqlUnitOfWork]
    today: date
    now: datetime
    policy: Policy
    docs: DocumentServices


def _build(ctx: _Context, case: str, no: str, password: str) -> DemoCase:
    make_uow, now = ctx.make_uow, ctx.now
    username = USERNAMES[case]
    with make_uow() as uow:
        reg = get_registration(uow, no)
        account = uow.users.get(username)
    if account is None:
        add_user(make_uow(), username, role="holder", password=password, registration_no=no, actor=ACTOR, now=now)
    if not reg.has_signature:  # --signatures may have stopped short of the cases
        png = signature_png(reg.person.name, seed=DEMO_CASES.index(case))
        set_signature(make_uow(), no, png, now=now, actor=ACTOR)
    step = {"renewal_pending": _apply, "revoked": _revoke, "superseded": _supersede}.get(case)
    if step is not None:
        step(ctx, no, username)
    with make_uow() as uow:
        reg = get_registration(uow, no)
    return DemoCase(
        case=case,
        username=username,
        registration_no=no,
        name=reg.person.name,
        province=provinces.abbreviation(reg.province_code),
        facts=_facts(ctx, case, no),
    )


# ------------------------------------------------------------------------------------- steps


def _apply(ctx: _Context, no: str, username: str) -> None:
    """R-REN-1: apply for the specialty inside its renewal window — unless any application exists."""
    if holder_portal.my_applications(ctx.make_uow(), no):
        return
    renewal.apply_renewal(
        ctx.make_uow(),
        no,
        [RENEWAL_SPECIALTY],
        committed=True,
        ce_hours=ctx.policy.ce_hours_required,
        actor=username,
        today=ctx.today,
        now=ctx.now,
        policy=ctx.policy,
    )


def _download(ctx: _Context, no: str, username: str) -> bool:
    """The holder downloads a certificate (R-USE-1), if the rules let them today."""
    try:
        issuance.issue(
            ctx.make_uow(),
            no,
            confirm=True,
            actor=username,
            today=ctx.today,
            now=ctx.now,
            policy=ctx.policy,
            docs=ctx.docs,
        )
    except RuleRefusal:  # e.g. before the rollout reached the province: the case is built without one
        return False
    return True


def _revoke(ctx: _Context, no: str, username: str) -> None:
    """R-LAPSE-1: a certificate downloaded, then the registration revoked — unless it is not active."""
    with ctx.make_uow() as uow:
        reg = get_registration(uow, no)
        issued = bool(uow.certificates.for_registration(no))
    if reg.status is not RegistrationStatus.ACTIVE:
        return
    if not issued:
        _download(ctx, no, username)
    changes.revoke(
        ctx.make_uow(),
        no,
        reason=REVOKE_REASON,
        basis=REVOKE_BASIS,
        effective=ctx.today.isoformat(),
        actor=ACTOR,
        today=ctx.today,
        now=ctx.now,
    )


def _supersede(ctx: _Context, no: str, username: str) -> None:
    """R-CHG-1: a certificate downloaded, then the employer changed — unless one is superseded already."""
    states = {c.state for c in holder_portal.my_certificates(ctx.make_uow(), no, today=ctx.today)}
    if "superseded" in states:
        return
    if not states and not _download(ctx, no, username):
        return  # nothing to supersede today
    name, uscc = NEW_EMPLOYER
    changes.change_employer(ctx.make_uow(), no, name=name, uscc=uscc, actor=ACTOR, now=ctx.now)


# ------------------------------------------------------------------------------------- descriptions


def _facts(ctx: _Context, case: str, no: str) -> dict[str, Any]:
    """What a case's description says, read back from the registry (not what the steps meant to do)."""
    make_uow, today, policy, docs = ctx.make_uow, ctx.today, ctx.policy, ctx.docs
    with make_uow() as uow:
        reg = get_registration(uow, no)
        records = uow.certificates.for_registration(no)
    view = holder_view(reg, today, policy)
    states = {s["specialty"]: s for s in view["specialties"]}
    facts: dict[str, Any] = {"status": reg.status.value}
    if case == "renewal_pending":
        apps = holder_portal.my_applications(make_uow(), no)
        spec = states[RENEWAL_SPECIALTY]
        facts.update(specialty=RENEWAL_SPECIALTY, valid_until=spec["valid_until"], state=spec["state"])
        if apps:
            facts.update(application_id=apps[0].application_id, application_status=apps[0].status)
        try:
            facts["approve_until"] = renewed_validity_end(today, reg.person.birth_date, policy).isoformat()
        except RuleRefusal:
            facts["approve_until"] = None
    elif case == "specialty_expired":
        spec = states[EXPIRED_SPECIALTY]
        facts.update(
            specialty=EXPIRED_SPECIALTY,
            valid_until=spec["valid_until"],
            state=spec["state"],
            transitional_deadline=policy.transitional_deadline.isoformat(),
        )
    elif case in ("revoked", "superseded"):
        current = reg.status is RegistrationStatus.ACTIVE
        old = [
            r
            for r in records
            if holder_portal.certificate_state(r, active=current, current_version=reg.data_version, today=today)
            == ("revoked" if case == "revoked" else "superseded")
        ]
        facts["qr"] = issuance.qr_text_of(old[-1], docs.qr) if old else None
        facts["serial"] = old[-1].serial if old else None
        if case == "superseded":
            facts["employer"] = reg.employer.name
    elif case == "age_65":
        facts["age65_date"] = age_limit_date(reg.person.birth_date, policy).isoformat()
        try:
            window = issuance.preview(make_uow(), no, today=today, policy=policy)
            facts["usage_until"] = window.usage_until.isoformat()
        except RuleRefusal as refusal:
            facts["usage_until"] = None
            facts["refusal"] = refusal.code
    elif case == "rare_name":
        facts["rare_characters"] = [chr(int(cp[2:], 16)) for cp in rare_characters(reg.person.name)]
    return facts


def describe(c: DemoCase, lang: str = "zh") -> tuple[str, str]:
    """(who, what to try) for the table ``ecert demo`` prints, in ``lang``."""
    f, en = c.facts, lang == "en"
    if c.case == "renewal_pending":
        pending = f.get("application_status") == ApplicationStatus.PENDING
        if en:
            who = f"{f['specialty']} valid until {f['valid_until']}, inside the renewal window (R-REN-1)"
            who += f"; renewal application #{f['application_id']} pending" if pending else ""
            to_try = (
                f"/me/applications; as demo-reviewer, approve it at /review → valid until {f['approve_until']}, "
                "earlier downloads superseded (R-REN-6)"
                if pending
                else "/me/renewal: apply for the renewal"
            )
        else:
            who = f"{f['specialty']}有效期至 {f['valid_until']},在延续注册期内(R-REN-1)"
            who += f",延续申请 #{f['application_id']} {term('status.application', 'pending', 'zh')}" if pending else ""
            to_try = (
                f"/me/applications 查看申请;以 demo-reviewer 登录 /review 批准 → 有效期延至 {f['approve_until']},"
                "此前下载的证书显示“已被更新”(R-REN-6)"
                if pending
                else "/me/renewal 申请延续注册"
            )
    elif c.case == "specialty_expired":
        lapsed = f["state"] == "lapsed"
        if en:
            deadline = f["transitional_deadline"]
            who = f"{f['specialty']} ended {f['valid_until']} with no renewal: " + (
                "lapsed (R-REN-3)" if lapsed else f"expired, may still apply until {deadline} (R-REN-2)"
            )
            to_try = (
                f"/me: the lapsed specialty is not printed; /me/renewal cannot renew it (specialty_lapsed); "
                f"until {f['transitional_deadline']} it could have applied (R-REN-2)"
                if lapsed
                else "/me/renewal: apply for the expired specialty (transitional rule R-REN-2)"
            )
        else:
            who = f"{f['specialty']}已于 {f['valid_until']} 到期且未申请延续:" + (
                "已失效(R-REN-3)" if lapsed else f"过渡期内,{f['transitional_deadline']} 前仍可申请(R-REN-2)"
            )
            to_try = (
                f"/me:失效专业不打印在证书上;/me/renewal 不能为其申请延续(specialty_lapsed);"
                f"过渡期({f['transitional_deadline']} 前)本可申请(R-REN-2)"
                if lapsed
                else "/me/renewal 为已到期专业申请延续(过渡规则 R-REN-2)"
            )
    elif c.case == "revoked":
        downloaded = f.get("serial") is not None
        if en:
            who = "registration revoked (R-LAPSE-1)" + (" after a download" if downloaded else "")
            to_try = "/me: download refused (registration_inactive)" + (
                "; the old certificate's QR link → Revoked" if downloaded else ""
            )
        else:
            who = ("下载证书后" if downloaded else "") + "注册被撤销(R-LAPSE-1)"
            to_try = "/me:下载被拒(registration_inactive)" + (";打开旧证书的二维码链接 → 已撤销" if downloaded else "")
    elif c.case == "superseded":
        if f.get("serial") is None:  # no certificate could be issued today, so none to supersede
            who = "no certificate to supersede yet" if en else "尚无可被更新的证书"
            to_try = (
                "run ecert demo again on a day a certificate can be issued"
                if en
                else "在可以签发证书的日期再次运行 ecert demo"
            )
        elif en:
            who = f"employer changed to {f['employer']} after a download (R-CHG-1)"
            to_try = "the old certificate's QR link → Superseded, with the current data; /me: download the new one"
        else:
            who = f"下载证书后变更聘用企业为{f['employer']}(R-CHG-1)"
            to_try = "打开旧证书的二维码链接 → 已被更新,并显示当前信息;/me 下载新证书"
    elif c.case == "age_65":
        until = f.get("usage_until")
        if en:
            who = f"turns 65 on {f['age65_date']} (R-DATE-2)"
            to_try = (
                f"/me: the usage window ends on {until}, the 65th birthday, not 180 days on (R-USE-2); "
                "from that day downloads are refused (age_limit)"
                if until
                else f"/me: download refused ({f.get('refusal')})"
            )
        else:
            who = f"{f['age65_date']} 年满 65 周岁(R-DATE-2)"
            to_try = (
                f"/me:使用有效期止于 65 周岁生日 {until},而非 180 天后(R-USE-2);当天起不能下载(age_limit)"
                if until
                else f"/me:下载被拒({f.get('refusal')})"
            )
    else:  # rare_name
        chars = " ".join(f"{ch} U+{ord(ch):04X}" for ch in f["rare_characters"])
        if en:
            who = f"a name with rare characters ({chars}: CJK Extension A and B)"
            to_try = "/me: download; the rare characters are printed in the Hanazono font and copy out as text"
        else:
            who = f"姓名含生僻字({chars}:CJK 扩展 A、B 区)"
            to_try = "/me 下载:生僻字以花园明朝(Hanazono)字体打印,可从 PDF 复制为文字"
    return who, to_try


def describe_account(account: dict[str, str], lang: str = "zh", *, pending_case: bool = False) -> tuple[str, str]:
    """(who, what to try) for a role account of ``ensure_demo_accounts`` (holder, reviewer, admin)."""
    en = lang == "en"
    role = account["role"]
    if role == "holder":
        if en:
            return (
                f"{account.get('registration_no')}: can download today",
                "/me: confirm the usage window and download (R-USE-1); scan the certificate's QR code",
            )
        return (
            f"{account.get('registration_no')}:今天可下载证书",
            "/me 确认使用有效期后下载(R-USE-1);扫描证书上的二维码",
        )
    if role == "reviewer":
        province = account.get("province", "")
        if en:
            review = "the renewal application of demo-renewal" if pending_case else "the pending renewal applications"
            return f"reviewer, {province}", f"/review: approve or reject {review} (R-REN-6)"
        review = " demo-renewal 的延续申请" if pending_case else "本省待审核的延续申请"
        return f"{term('role', 'reviewer', 'zh')},{province}", f"/review:批准或驳回{review}(R-REN-6)"
    if en:
        return "ministry admin, nationwide", "/admin: search the registry, change employer, revoke, import, audit log"
    return "部级管理员,全国", "/admin:查询登记库、变更聘用企业、撤销、导入、审计日志"
