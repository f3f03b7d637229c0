"""``ecert init``, ``import``, ``demo``, ``sweep`` and ``holder …``: the registry and its holders (docs/cli.md)."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import segno
import typer

from ecert.adapters import keystore
from ecert.adapters.db.engine import upgrade
from ecert.adapters.files import read_input
from ecert.domain.images import MAX_IMAGE_BYTES
from ecert.entrypoints.cli.common import Invocation, JsonOut, RegNo, moment, progress_bar
from ecert.services import registry as registry_service
from ecert.services.demo import DEFAULT_SIGNATURES, DEMO_PASSWORD, ensure_demo_accounts, seed_demo
from ecert.services.demo_cases import DemoCase, build_demo_cases, describe, describe_account
from ecert.services.registry_import import import_registry
from ecert.services.sweep import sweep as run_sweep
from ecert.services.synthetic import CASE_PROVINCE, DEMO_CASES, case_registration_no
from ecert.services.views import history

holder_cli = typer.Typer(help="持证人 / holders", no_args_is_help=True)


def init(ctx: typer.Context, json_out: JsonOut = False) -> None:
    """Create or upgrade the schema."""
    inv = Invocation.of(ctx)
    with inv.command(json_out) as a:
        before, after = upgrade(a.engine)
        notices = keystore.ensure_keys(a.keys)
        for n in notices:
            typer.echo(n, err=True)
        db = a.engine.url.render_as_string(hide_password=True)
        inv.emit(
            {
                "schema": after,
                "previous": before,
                "database": db,
                "demo_keys": a.keys.is_demo,
                "keys_dir": str(a.keys.keys_dir),
                "notices": notices,
            },
            f"数据库已就绪 / schema ready: {after} ({db})",
        )


ImportFile = Annotated[
    Path, typer.Argument(help='CSV (UTF-8 or GB18030) or XLSX; columns: docs/cli.md "Import columns"')
]


def import_cmd(ctx: typer.Context, file: ImportFile, json_out: JsonOut = False) -> None:
    """Registry import: all or nothing; every bad row is named."""
    inv = Invocation.of(ctx)
    with inv.command(json_out) as a:
        upgrade(a.engine)
        with progress_bar(file.name) as progress:
            result = import_registry(a.uow(), file, actor="cli", progress=progress, **moment(a))
        d = result.as_dict()
        inv.emit(
            d, f"导入完成 / imported: {d['rows']} 行, 新增 {d['imported']}, 更新 {d['updated']}, 未变 {d['unchanged']}"
        )


def demo(
    ctx: typer.Context,
    holders: int = typer.Option(200, "--holders", min=1, max=2_000_000, help="How many synthetic holders"),
    seed: int = typer.Option(2021, "--seed"),
    signatures: int = typer.Option(
        DEFAULT_SIGNATURES, "--signatures", min=0, help="Synthetic signature images for this many holders"
    ),
    json_out: JsonOut = False,
) -> None:
    """init + a synthetic DEMO registry (valid ID numbers and credit codes, rare-character names) with
    purpose-built cases to log in as: renewal pending, specialty expired, revoked, superseded, 65, rare name."""
    inv = Invocation.of(ctx)
    with inv.command(json_out) as a:
        upgrade(a.engine)
        notices = keystore.ensure_keys(a.keys)
        # The DEMO keys warning (the first notice) is in the one banner of the text output.
        for n in notices[1:] if a.keys.is_demo and not json_out else notices:
            typer.echo(n, err=True)
        today = a.clock.today()
        with progress_bar("demo") as progress:
            demo_result = seed_demo(
                a.uow,
                holders,
                seed=seed,
                today=today,
                now=a.clock.now(),
                signatures=signatures,
                progress=progress,
                cases=True,
            )
        result = demo_result.imported
        cases = build_demo_cases(
            a.uow,
            demo_result.cases,
            password=DEMO_PASSWORD,
            today=today,
            now=a.clock.now(),
            policy=a.policy,
            docs=a.documents,
        )
        case_nos = {case_registration_no(c) for c in DEMO_CASES}
        accounts_made = ensure_demo_accounts(
            a.uow,
            today=today,
            now=a.clock.now(),
            policy=a.policy,
            province=CASE_PROVINCE if cases else None,
            exclude=case_nos,
        )
        with a.uow() as uow:
            sample = [n for n in uow.registry.sample_numbers(8 + len(case_nos)) if n not in case_nos][:8]
            regs, specs = uow.registry.count()
        out = {
            "demo": True,
            "demo_keys": a.keys.is_demo,
            "holders": regs,
            "specialty_registrations": specs,
            "imported": result.imported,
            "signatures_added": demo_result.signatures_added,
            "updated": result.updated,
            "sample_registration_nos": sample,
            "accounts": accounts_made,
            "cases": [c.as_dict(DEMO_PASSWORD, inv.lang()) for c in cases],
            "qr_base_url": a.keys.base_url,
            "today": today.isoformat(),
        }
        inv.emit(
            out, _demo_text(out, cases, keys_dir=str(a.keys.keys_dir) if a.keys.is_demo else None, lang=inv.lang())
        )


def _demo_text(out: dict[str, Any], cases: list[DemoCase], *, keys_dir: str | None, lang: str) -> str:
    """What ``ecert demo`` prints for people: one DEMO banner, the registry, the accounts to log in as."""
    by_province = Counter(n[0] for n in out["sample_registration_nos"])
    keys = f"; DEMO 密钥,不可用于生产 keys, not for production ({keys_dir})" if keys_dir else ""
    lines = [
        f"*** DEMO 演示数据,非真实人员 synthetic registry, not real people{keys} ***",
        f"持证人 holders: {out['holders']:,}   注册专业 specialty registrations: {out['specialty_registrations']:,}"
        f"   (today {out['today']})",
        "示例注册编号 sample registration numbers ("
        + ", ".join(f"{p} {k}" for p, k in by_province.most_common())
        + "):",
        *(f"  {n}" for n in out["sample_registration_nos"]),
        f"二维码链接 QR codes lead to: {out['qr_base_url'].rstrip('/')}/V/…  (ECERT_BASE_URL)",
        "演示账号 DEMO accounts — 账号 account / 密码 password / 身份 who / → 试一试 what to try:",
    ]
    pending = any(c.facts.get("application_status") == "pending" for c in cases)
    rows: list[tuple[str, str, str, str, str | None]] = []
    holders = [acc for acc in out["accounts"] if acc["role"] == "holder"]
    authority = [acc for acc in out["accounts"] if acc["role"] != "holder"]
    for acc in holders:  # the ordinary holder first, then the cases, then the authority
        rows.append((acc["username"], acc["password"], *describe_account(acc, lang), None))
    for c in cases:
        who, to_try = describe(c, lang)
        rows.append((c.username, DEMO_PASSWORD, f"{c.registration_no} {c.name}: {who}", to_try, c.facts.get("qr")))
    for acc in authority:
        sees_case = pending and acc.get("province", CASE_PROVINCE) == CASE_PROVINCE  # an admin sees every province
        rows.append((acc["username"], acc["password"], *describe_account(acc, lang, pending_case=sees_case), None))
    pad = " " * 39  # under "who"
    for user, password, who, to_try, qr in rows:
        lines.append(f"  {user:<17}{password:<20}{who}")
        lines.append(f"{pad}→ {to_try}")
        if qr:
            lines.append(f"{pad}  {qr}")
    for acc in authority:
        if acc.get("otpauth_uri"):
            lines.extend(_totp_lines(acc))
    if out["sample_registration_nos"]:
        lines.append(f"试一试 try: ecert holder show {out['sample_registration_nos'][0]} --json")
    return "\n".join(lines)


def _totp_lines(account: dict[str, str]) -> list[str]:
    """A DEMO staff account's second factor: the QR code to scan with an authenticator app, and its secret."""
    qr = io.StringIO()
    segno.make(account["otpauth_uri"], error="m").terminal(out=qr, compact=True)
    return [
        f"{account['username']} 的动态验证码(演示)DEMO authenticator (TOTP) of {account['username']}: "
        "用身份验证器应用扫描 scan with an authenticator app, 或输入密钥 or type the key:",
        f"  {account['totp_secret']}",
        *qr.getvalue().rstrip("\n").split("\n"),
    ]


@holder_cli.command("show")
def holder_show(
    ctx: typer.Context,
    registration_no: RegNo,
    with_history: bool = typer.Option(False, "--history", help="Add the audit history of the registration"),
    json_out: JsonOut = False,
) -> None:
    """A holder's registration, specialties and their states today; ``--history`` adds the audit events."""
    inv = Invocation.of(ctx)
    with inv.command(json_out) as a:
        if with_history:
            view = history.show_holder_with_history(a.uow(), registration_no, today=a.clock.today(), policy=a.policy)
        else:
            view = registry_service.show_holder(a.uow(), registration_no, today=a.clock.today(), policy=a.policy)
        inv.emit(view, _holder_text(inv, view))


def _holder_text(inv: Invocation, view: dict[str, Any]) -> str:
    """``holder show`` for people: the same fields as the JSON, states in words (the catalogue's)."""
    facts = [
        (inv.say("省份", "Province"), view["province"]),
        (inv.say("注册状态", "Status"), inv.term("status.registration", view["status"])),
        (inv.say("电子证书启用", "In rollout"), inv.term("answer", "yes" if view["in_rollout"] else "no")),
        (inv.say("年满65周岁", "Turns 65"), view["age65_date"]),
    ]
    lines = [f"{view['registration_no']}  {view['name']}", "   ".join(f"{k}: {v}" for k, v in facts)]
    if view.get("employer"):
        lines.append(f"{inv.say('聘用企业', 'Employer')}: {view['employer']['name']} ({view['employer']['uscc']})")
    lines.append(f"{inv.say('注册专业', 'Specialties')}:")
    until = inv.say("有效期至", "valid until")
    lines += [
        f"  {s['specialty']}  {until} {s['valid_until']}  {inv.term('status.specialty', s['state'])}"
        for s in view["specialties"]
    ]
    if "history" in view:
        lines.append(f"{inv.say('历史', 'History')}:")
        for e in view["history"]:
            lines.append(f"  {e['at']}  {e['actor']}  {e['action']}  {e.get('subject') or ''}".rstrip())
            if e.get("before") is not None or e.get("after") is not None:
                change = f"{_compact(e.get('before'))} → {_compact(e.get('after'))}"
                lines.append(f"    {change}")
    return "\n".join(lines)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


@holder_cli.command("set-signature")
def holder_set_signature(
    ctx: typer.Context,
    registration_no: RegNo,
    file: Path = typer.Argument(..., metavar="FILE.png"),
    json_out: JsonOut = False,
) -> None:
    """Store the holder's signature image (PNG/JPEG)."""
    inv = Invocation.of(ctx)
    with inv.command(json_out) as a:
        data = read_input(file, max_bytes=MAX_IMAGE_BYTES)
        changed = registry_service.set_signature(a.uow(), registration_no, data, now=a.clock.now(), actor="cli")
        inv.emit({"registration_no": registration_no, "changed": changed}, "签名图像已保存 / signature stored")


def sweep(ctx: typer.Context, json_out: JsonOut = False) -> None:
    """Lapse sweep for today (R-LAPSE-1); running it twice changes nothing more."""
    Invocation.of(ctx).perform(
        lambda a: run_sweep(a.uow(), policy=a.policy, **moment(a)).as_dict(),
        lambda d: f"失效处理 / sweep {d['today']}: lapsed {d['lapsed']} of {d['checked']} checked",
        json_out,
    )
