"""``ecert cert …``, ``verify``, ``verify-qr`` and ``keys …``: issuing and verifying certificates (docs/cli.md)."""

from __future__ import annotations

from pathlib import Path

import typer

from ecert.adapters import keystore
from ecert.adapters.db.verification_log import log_one
from ecert.adapters.files import check_output_file, ensure_output_dir, read_input, read_text, write_output
from ecert.entrypoints.cli.common import STATE, actor_name, app, command, emit, errors, lang, progress_bar, term
from ecert.services import batch, issuance, verification

cert_cli = typer.Typer(help="电子证书 / e-certificates", no_args_is_help=True)
keys_cli = typer.Typer(help="密钥 / keys", no_args_is_help=True)


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
        check_output_file(out)  # before anything is recorded: a bad --out changes nothing
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
    file: Path = typer.Argument(..., metavar="FILE", help="Registration numbers, one a line (UTF-8 or GB18030)"),
    out_dir: Path = typer.Option(..., "--out-dir", help="Where to write the sealed PDFs"),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Processes (default: every core)"),
    actor: str | None = typer.Option(None, "--actor"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Issue certificates for many registrations across all cores (authority drills, re-sealing)."""
    STATE.json = json_out
    with errors():
        numbers = read_text(file).splitlines()
        ensure_output_dir(out_dir)
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
    human = f"{term('status.certificate', d['status'])}: " + "; ".join(d["reasons"])
    checks = [f"{'✓' if ok else '✗'} {term('check', name)}" for name, ok in d["checks"].items() if ok is not None]
    emit(d, "\n".join([human, *(f"  {c}" for c in checks)]))


def verify_cmd(
    file: Path = typer.Argument(..., metavar="FILE.pdf"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Verify a certificate PDF: seal, integrity, QR binding, registry state, usage window."""
    with command(json_out) as a:
        data = read_input(file)
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
        check_output_file(out, example="root.pem")
        pem = keystore.root_pem(app().keys)
        write_output(out, pem, example="root.pem")
        typer.echo(f"{out}", err=True)
