"""``ecert`` command line, per ../shared/contract.md (names, flags, JSON keys, exit codes are a contract).

Exit 0 done; exit 1 a rule refused it (``{"error": {"code", "message", "rule"}}``); exit 2 bad input
(``{"error": {"code": "bad_input", "message", "details": [...]}}``). With ``--json`` exactly one JSON
object is printed on stdout, errors included; without it, people get text on stderr.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import typer

from ecert.adapters import keystore
from ecert.adapters.db.engine import upgrade
from ecert.adapters.db.verification_log import log_one
from ecert.domain import provinces
from ecert.domain.errors import BadInput, problem
from ecert.entrypoints.cli_changes import change_cli, changes_commands
from ecert.entrypoints.cli_common import STATE, actor_name, app, command, emit, errors, lang, progress_bar, read_file
from ecert.entrypoints.cli_jobs import jobs_cli
from ecert.entrypoints.cli_reminders import reminders_cli
from ecert.entrypoints.cli_workflows import renewal_cli, user_cli
from ecert.services import batch, issuance, verification
from ecert.services import registry as registry_service
from ecert.services.demo import DEFAULT_SIGNATURES, DEMO_PASSWORD, ensure_demo_accounts, seed_demo
from ecert.services.registry_import import import_registry
from ecert.services.sweep import sweep as run_sweep
from ecert.services.views import history

cli = typer.Typer(
    name="ecert",
    help="ecert — 一级建造师电子注册证书 (electronic registration certificates for first-class constructors).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
holder_cli = typer.Typer(help="持证人 / holders", no_args_is_help=True)
cli.add_typer(holder_cli, name="holder")
cert_cli = typer.Typer(help="电子证书 / e-certificates", no_args_is_help=True)
cli.add_typer(cert_cli, name="cert")
keys_cli = typer.Typer(help="密钥 / keys", no_args_is_help=True)
cli.add_typer(keys_cli, name="keys")
cli.add_typer(renewal_cli, name="renewal")
cli.add_typer(user_cli, name="user")
cli.add_typer(change_cli, name="change")
for change_command in changes_commands:
    cli.command(change_command.name)(change_command.fn)
cli.add_typer(reminders_cli, name="reminders")
cli.add_typer(jobs_cli, name="jobs")


@cli.callback()
def main_options(
    db: str | None = typer.Option(
        None, "--db", help="Database URL (default: env ECERT_DATABASE_URL, else var/ecert.db)"
    ),
    lang_opt: str | None = typer.Option(None, "--lang", help="zh (default) or en; env ECERT_LANG"),
    policy: str | None = typer.Option(None, "--policy", help="Policy override file (TOML); env ECERT_POLICY_FILE"),
) -> None:
    STATE.db, STATE.lang, STATE.policy, STATE.app = db, lang_opt, policy, None


@cli.command()
def init(json_out: bool = typer.Option(False, "--json")) -> None:
    """Create or upgrade the schema."""
    STATE.json = json_out
    with errors():
        before, after = upgrade(app().engine)
        notices = keystore.ensure_keys(app().keys)
        for n in notices:
            typer.echo(n, err=True)
        db = app().engine.url.render_as_string(hide_password=True)
        emit(
            {
                "schema": after,
                "previous": before,
                "database": db,
                "demo_keys": app().keys.is_demo,
                "keys_dir": str(app().keys.keys_dir),
                "notices": notices,
            },
            f"数据库已就绪 / schema ready: {after} ({db})",
        )


@cli.command("import")
def import_cmd(
    file: Path = typer.Argument(..., help="CSV (UTF-8 or GB18030) or XLSX, columns per contract.md"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Registry import: all or nothing; every bad row is named."""
    with command(json_out) as a:
        upgrade(a.engine)
        progress, stop = progress_bar(file.name)
        try:
            result = import_registry(
                a.uow(), file, today=a.clock.today(), now=a.clock.now(), actor="cli", progress=progress
            )
        finally:
            stop()
        d = result.as_dict()
        emit(
            d, f"导入完成 / imported: {d['rows']} 行, 新增 {d['imported']}, 更新 {d['updated']}, 未变 {d['unchanged']}"
        )


@cli.command()
def demo(
    holders: int = typer.Option(200, "--holders", min=1, max=2_000_000, help="How many synthetic holders"),
    seed: int = typer.Option(2021, "--seed"),
    signatures: int = typer.Option(
        DEFAULT_SIGNATURES, "--signatures", min=0, help="Synthetic signature images for this many holders"
    ),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """init + a synthetic DEMO registry (valid ID numbers and credit codes, rare-character names)."""
    with command(json_out) as a:
        upgrade(a.engine)
        for n in keystore.ensure_keys(a.keys):
            typer.echo(n, err=True)
        today = a.clock.today()
        progress, stop = progress_bar("demo")
        try:
            demo_result = seed_demo(
                a.uow, holders, seed=seed, today=today, now=a.clock.now(), signatures=signatures, progress=progress
            )
        finally:
            stop()
        result = demo_result.imported
        accounts_made = ensure_demo_accounts(a.uow, today=today, now=a.clock.now(), policy=a.policy)
        with a.uow() as uow:
            sample = uow.registry.sample_numbers(8)
            regs, specs = uow.registry.count()
        by_province = Counter(provinces.abbreviation(provinces.code_of_abbreviation(n[0]) or "11") for n in sample)
        out = {
            "demo": True,
            "holders": regs,
            "specialty_registrations": specs,
            "imported": result.imported,
            "signatures_added": demo_result.signatures_added,
            "updated": result.updated,
            "sample_registration_nos": sample,
            "accounts": accounts_made,
            "today": today.isoformat(),
        }
        human = (
            "*** DEMO 演示数据 — synthetic registry, not real people ***\n"
            f"持证人 holders: {regs:,}   注册专业 specialty registrations: {specs:,}   (today {today})\n"
            f"示例注册编号 sample registration numbers ({dict(by_province)}):\n  "
            + "\n  ".join(sample)
            + "\n演示账号 DEMO accounts (password / 密码 "
            + DEMO_PASSWORD
            + "):\n  "
            + "\n  ".join(
                f"{x['username']:<22} {x['role']:<9} {x.get('registration_no') or x.get('province') or ''}"
                for x in accounts_made
            )
            + f"\n试一试 try: ecert holder show {sample[0]} --json"
        )
        emit(out, human)


@holder_cli.command("show")
def holder_show(
    registration_no: str = typer.Argument(..., metavar="REG_NO"),
    with_history: bool = typer.Option(False, "--history", help="Add the audit history of the registration"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """A holder's registration, specialties and their states today; ``--history`` adds the audit events."""
    with command(json_out) as a:
        if with_history:
            view = history.show_holder_with_history(a.uow(), registration_no, today=a.clock.today(), policy=a.policy)
        else:
            view = registry_service.show_holder(a.uow(), registration_no, today=a.clock.today(), policy=a.policy)
        emit(view, json.dumps(view, ensure_ascii=False, indent=2))


@holder_cli.command("set-signature")
def holder_set_signature(
    registration_no: str = typer.Argument(..., metavar="REG_NO"),
    file: Path = typer.Argument(..., metavar="FILE.png"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Store the holder's signature image (PNG/JPEG)."""
    with command(json_out) as a:
        data = read_file(file)
        changed = registry_service.set_signature(a.uow(), registration_no, data, now=a.clock.now(), actor="cli")
        emit({"registration_no": registration_no, "changed": changed}, "签名图像已保存 / signature stored")


@cli.command()
def sweep(json_out: bool = typer.Option(False, "--json")) -> None:
    """Lapse sweep for today (R-LAPSE-1); running it twice changes nothing more."""
    with command(json_out) as a:
        result = run_sweep(a.uow(), today=a.clock.today(), now=a.clock.now(), policy=a.policy)
        d = result.as_dict()
        emit(d, f"失效处理 / sweep {d['today']}: lapsed {d['lapsed']} of {d['checked']} checked")


@cert_cli.command("preview")
def cert_preview(
    registration_no: str = typer.Argument(..., metavar="REG_NO"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """The usage window a download would get today (R-USE-1, R-USE-2), or the refusal."""
    with command(json_out) as a:
        window = issuance.preview(a.uow(), registration_no, today=a.clock.today(), policy=a.policy)
        view = issuance.window_view(window)
        emit(view, f"使用有效期 / usage window: {view['usage_from']} — {view['usage_until']}")


@cert_cli.command("issue")
def cert_issue(
    registration_no: str = typer.Argument(..., metavar="REG_NO"),
    confirm: bool = typer.Option(False, "--confirm", help="I have seen and confirm the usage window (R-USE-1)"),
    out: Path = typer.Option(..., "--out", help="Where to write the sealed PDF"),
    actor: str | None = typer.Option(None, "--actor", help="Who confirms (default env ECERT_ACTOR, else cli:USER)"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Confirm the usage window and issue the sealed certificate PDF."""
    with command(json_out) as a:
        issued = issuance.issue(
            a.uow(),
            registration_no,
            confirm=confirm,
            actor=actor_name(actor),
            today=a.clock.today(),
            now=a.clock.now(),
            policy=a.policy,
            docs=a.documents,
            out=out,
        )
        d = issued.as_dict()
        emit(d, f"已签发 / issued {d['serial']} → {out} (使用有效期 {d['usage_from']} — {d['usage_until']})")


@cert_cli.command("batch")
def cert_batch(
    file: Path = typer.Argument(..., metavar="FILE", help="Registration numbers, one a line"),
    out_dir: Path = typer.Option(..., "--out-dir", help="Where to write the sealed PDFs"),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Processes (default: every core)"),
    actor: str | None = typer.Option(None, "--actor"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Issue certificates for many registrations across all cores (authority drills, re-sealing)."""
    STATE.json = json_out
    with errors():
        try:
            numbers = file.read_text("utf-8").splitlines()
        except OSError as exc:
            raise BadInput([problem(f"无法读取文件:{exc}", f"Cannot read the file: {exc}")]) from exc
        settings = app().settings  # each worker process bootstraps from the same settings
        bar, stop = progress_bar("cert batch")
        try:
            result = batch.issue_batch(
                settings,
                numbers,
                out_dir,
                actor=actor_name(actor),
                workers=workers,
                progress=(lambda done, total: bar(done, done, total)) if bar else None,
            )
        finally:
            stop()
        d = result.as_dict()
        emit(d, f"已签发 / issued {d['issued']}, 拒绝 / refused {sum(d['refused'].values())} {d['refused']}")


def _emit_verdict(result: verification.VerificationResult) -> None:
    # R-ACC-1: the verification is in the audited verification log before the verdict is printed;
    # written at once (its own batch), as the process is about to exit. A database that cannot take
    # it is a database_error, like the registry read before it.
    a = app()
    log_one(a.engine, a.clock.now(), "cli", result.serial, result.registration_no, result.status)
    d = result.as_dict(lang())
    human = f"{d['status']}: " + "; ".join(d["reasons"])
    emit(d, human)


@cli.command("verify")
def verify_cmd(
    file: Path = typer.Argument(..., metavar="FILE.pdf"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Verify a certificate PDF: seal, integrity, QR binding, registry state, usage window."""
    with command(json_out) as a:
        data = read_file(file)
        result = verification.verify_pdf(
            a.uow(),
            data,
            check_signature=a.signature_checker,
            keys=a.qr_public_keys,
            today=a.clock.today(),
            now=a.clock.now(),
            policy=a.policy,
        )
        _emit_verdict(result)


@cli.command("verify-qr")
def verify_qr_cmd(
    text: str = typer.Argument(..., metavar="TEXT", help="What a scanner read from the QR code"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Verify what a scanner read from a certificate's QR code."""
    with command(json_out) as a:
        result = verification.verify_qr(a.uow(), text, keys=a.qr_public_keys, today=a.clock.today(), policy=a.policy)
        _emit_verdict(result)


@keys_cli.command("export-root")
def keys_export_root(out: Path = typer.Option(..., "--out", help="PEM file to write")) -> None:
    """Write the trust root (PEM) relying parties and tools (pdfsig, Acrobat, pyHanko) need."""
    with errors():
        pem = keystore.root_pem(app().keys)
        out.write_bytes(pem)
        typer.echo(f"{out}", err=True)


@cli.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes (sessions live in the database)"),
) -> None:
    """The web service: public QR verification at /v/…, holder portal, authority console, REST API."""
    from ecert.entrypoints.web import server

    with errors():
        a = app()
        upgrade(a.engine)
        for n in keystore.ensure_keys(a.keys):
            typer.echo(n, err=True)
        typer.echo(f"ecert: http://{host}:{port}/  (API: /api/docs, OpenAPI: /openapi.json)", err=True)
    # Settings reach the workers through the environment (uvicorn imports the factory in each).
    if STATE.db:
        os.environ["ECERT_DATABASE_URL"] = STATE.db
    if STATE.lang:
        os.environ["ECERT_LANG"] = STATE.lang
    if STATE.policy:
        os.environ["ECERT_POLICY_FILE"] = STATE.policy
    # One listening socket per worker (SO_REUSEPORT): the kernel spreads connections over them.
    try:
        server.run(host, port, workers)
    except OSError as exc:  # the address is taken or not ours: say so, no traceback
        typer.echo(f"ecert serve: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
