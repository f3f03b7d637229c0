"""``ecert cert …``, ``verify``, ``verify-qr`` and ``keys …``: issuing and verifying certificates (docs/cli.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ecert.adapters import keystore, offline_kit
from ecert.adapters.db.verification_log import log_one
from ecert.adapters.files import check_output_file, ensure_output_dir, read_input, read_text, write_output
from ecert.domain.dates import in_cst
from ecert.domain.errors import BadInput, problem
from ecert.domain.status_list import OfflineVerdict
from ecert.domain.verification import MAX_CERTIFICATE_FILE, VerificationResult
from ecert.entrypoints.cli.common import (
    Actor,
    Invocation,
    JsonOut,
    RegNo,
    actor_name,
    count_progress,
    moment,
    progress_bar,
    stamp,
)
from ecert.services import batch, issuance, verification

# ``--format``: which files one issuance gives (R-DOC-6); ``both`` writes FILE.pdf and FILE.ofd. A plain
# string checked here, not a Typer choice: an unknown format is ``bad_input`` (exit 2) printed as the one
# JSON object of ``--json`` (docs/cli.md "Global"), as ``jobs enqueue export --format`` does.
FORMAT_CHOICES: dict[str, tuple[str, ...]] = {"pdf": ("pdf",), "ofd": ("ofd",), "both": ("pdf", "ofd")}
Format = Annotated[str, typer.Option("--format", help="pdf (default), ofd (GB/T 33190 with the SM2/SM3 seal) or both")]


def _formats(value: str) -> tuple[str, ...]:
    formats = FORMAT_CHOICES.get(value)
    if formats is None:
        raise BadInput(
            [problem(f"未知的文件格式:{value}(可选 pdf、ofd、both)", f"Unknown file format: {value} (pdf, ofd or both)",
                     column="format")]
        )  # fmt: skip
    return formats


cert_cli = typer.Typer(help="电子证书 / e-certificates", no_args_is_help=True)
keys_cli = typer.Typer(help="密钥 / keys", no_args_is_help=True)


@cert_cli.command("preview")
def cert_preview(
    ctx: typer.Context,
    registration_no: RegNo,
    json_out: JsonOut = False,
) -> None:
    """The usage window a download would get today (R-USE-1, R-USE-2), or the refusal."""
    Invocation.of(ctx).perform(
        lambda a: issuance.window_view(
            issuance.preview(a.uow(), registration_no, today=a.clock.today(), policy=a.policy)
        ),
        lambda view: f"使用有效期 / usage window: {view['usage_from']} — {view['usage_until']}",
        json_out,
    )


@cert_cli.command("issue")
def cert_issue(
    ctx: typer.Context,
    registration_no: RegNo,
    confirm: bool = typer.Option(False, "--confirm", help="I have seen and confirm the usage window (R-USE-1)"),
    out: Path = typer.Option(..., "--out", help="Where to write the sealed file (FILE.pdf; FILE.ofd for --format ofd)"),
    file_format: Format = "pdf",
    actor: str | None = typer.Option(None, "--actor", help="Who confirms (default env ECERT_ACTOR, else cli:USER)"),
    json_out: JsonOut = False,
) -> None:
    """Confirm the usage window and issue the sealed certificate: PDF, OFD (R-DOC-6) or both from one issuance."""
    inv = Invocation.of(ctx)
    with inv.command(json_out) as a:
        formats = _formats(file_format)
        files = {f: out if len(formats) == 1 else out.with_suffix(f".{f}") for f in formats}
        for path in files.values():
            check_output_file(path)  # before anything is recorded: a bad --out changes nothing
        issued = issuance.issue(
            a.uow(), registration_no, confirm=confirm, policy=a.policy, docs=a.documents, out=files.get("pdf"),
            ofd_out=files.get("ofd"), formats=formats, **stamp(a, actor),
        )  # fmt: skip
        d = {**issued.as_dict(), "files": {f: str(p) for f, p in files.items()}}
        where = ", ".join(str(p) for p in files.values())
        inv.emit(d, f"已签发 / issued {d['serial']} → {where} (使用有效期 {d['usage_from']} — {d['usage_until']})")


@cert_cli.command("batch")
def cert_batch(
    ctx: typer.Context,
    file: Path = typer.Argument(..., metavar="FILE", help="Registration numbers, one a line (UTF-8 or GB18030)"),
    out_dir: Path = typer.Option(..., "--out-dir", help="Where to write the sealed files"),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Processes (default: every core)"),
    file_format: Format = "pdf",
    actor: Actor = None,
    json_out: JsonOut = False,
) -> None:
    """Issue certificates for many registrations across all cores (authority drills, re-sealing)."""
    inv = Invocation.of(ctx)
    with inv.errors(json_out):
        formats = _formats(file_format)
        numbers = read_text(file, max_bytes=inv.app().settings.web.import_max_bytes).splitlines()
        app = inv.app()
        if "ofd" in formats:
            # Once, before any worker starts: where no SM2 seal is configured the batch is refused, not
            # each registration in it. (Not app.documents: that would open the PDF seal key — a PKCS#11
            # session — in the parent of the forked workers.)
            keystore.sm2_seal_config(app.keys)
        ensure_output_dir(out_dir)
        settings = app.settings  # each worker process bootstraps from the same settings
        with progress_bar("cert batch") as bar:
            result = batch.issue_batch(
                settings,
                numbers,
                out_dir,
                actor=actor_name(actor, settings),
                workers=workers,
                progress=count_progress(bar),
                formats=formats,
            )
        d = result.as_dict()
        inv.emit(d, f"已签发 / issued {d['issued']}, 拒绝 / refused {sum(d['refused'].values())} {d['refused']}")


def _emit_verdict(inv: Invocation, result: VerificationResult) -> None:
    # R-ACC-1: the verification is in the audited verification log before the verdict is printed;
    # written at once (its own batch), as the process is about to exit. A database that cannot take
    # it is a database_error, like the registry read before it.
    a = inv.app()
    log_one(a.engine, a.clock.now(), "cli", result.serial, result.registration_no, result.status)
    d = result.as_dict(inv.lang())
    human = f"{inv.term('status.certificate', d['status'])}: " + "; ".join(d["reasons"])
    checks = [f"{'✓' if ok else '✗'} {inv.term('check', name)}" for name, ok in d["checks"].items() if ok is not None]
    inv.emit(d, "\n".join([human, *(f"  {c}" for c in checks)]))


Offline = Annotated[bool, typer.Option("--offline", help="No database: keys, roots and status list from --bundle")]
Bundle = Annotated[
    Path | None, typer.Option("--bundle", metavar="DIR", help="The offline kit (ecert keys export-bundle)")
]


def _offline_kit(offline: bool, bundle: Path | None) -> offline_kit.OfflineKit | None:
    """The kit of ``--offline --bundle DIR`` (None: verify online); either without the other is bad input."""
    if not offline and bundle is None:
        return None
    if not (offline and bundle is not None):
        zh, en = "--offline 与 --bundle DIR 须同时给出", "Give --offline together with --bundle DIR"
        raise BadInput([problem(zh, en, column="bundle" if offline else "offline")])
    return offline_kit.load(bundle)


def _emit_offline(inv: Invocation, verdict: OfflineVerdict) -> None:
    # No verification log offline (there is no database); the verdict says what it did not check.
    d = verdict.as_dict(inv.lang())
    human = f"{inv.term('status.certificate', d['status'])}: " + "; ".join(d["reasons"])
    inv.emit(d, human)


def verify_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE.pdf|FILE.ofd")],
    offline: Offline = False,
    bundle: Bundle = None,
    json_out: JsonOut = False,
) -> None:
    """Verify a certificate PDF or OFD: seal, integrity, QR binding, registry state, usage window."""
    inv = Invocation.of(ctx)
    with inv.command(json_out) as a:
        kit = _offline_kit(offline, bundle)
        data = read_input(file, max_bytes=MAX_CERTIFICATE_FILE)
        if kit is not None:
            from ecert.adapters.sealing import OfdChecker, PdfSignatureChecker

            ofd = verification.is_ofd(data)
            verdict = verification.verify_pdf_offline(
                data, check_signature=PdfSignatureChecker(kit.seal_roots),
                check_ofd=OfdChecker(kit.sm2_roots) if ofd else None, keys=kit.keys, lookup=kit.answer,
                unreached=kit.list_answer(), **moment(a),
            )  # fmt: skip
            _emit_offline(inv, verdict)
            return
        # The SM2 roots load only for an OFD, as on the web: an SM2 setting never affects a PDF's check.
        result = verification.verify_pdf(
            a.uow(), data, check_signature=a.signature_checker, keys=a.qr_public_keys, policy=a.policy,
            check_ofd=a.ofd_checker if verification.is_ofd(data) else None, **moment(a),
        )  # fmt: skip
        _emit_verdict(inv, result)


def verify_qr_cmd(
    ctx: typer.Context,
    text: str = typer.Argument(..., metavar="TEXT", help="What a scanner read from the QR code"),
    offline: Offline = False,
    bundle: Bundle = None,
    json_out: JsonOut = False,
) -> None:
    """Verify what a scanner read from a certificate's QR code."""
    inv = Invocation.of(ctx)
    with inv.command(json_out) as a:
        kit = _offline_kit(offline, bundle)
        if kit is not None:
            verdict = verification.verify_qr_offline(
                text, keys=kit.keys, lookup=kit.answer, unreached=kit.list_answer(), **moment(a)
            )
            _emit_offline(inv, verdict)
            return
        result = verification.verify_qr(a.uow(), text, keys=a.qr_public_keys, today=a.clock.today(), policy=a.policy)
        _emit_verdict(inv, result)


@keys_cli.command("export-bundle")
def keys_export_bundle(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", metavar="DIR", help="Directory to write the offline kit into"),
    json_out: JsonOut = False,
) -> None:
    """Write the offline verification kit: jwks.json, the seal roots (PEM; SM2 too), a fresh signed status list."""
    inv = Invocation.of(ctx)
    with inv.command(json_out) as a:
        from ecert.adapters.signing.jws import jwks
        from ecert.services import status_list

        ensure_output_dir(out)
        files: dict[str, bytes] = {
            offline_kit.JWKS: (json.dumps(jwks(a.qr_public_keys), ensure_ascii=False, indent=2) + "\n").encode(),
            offline_kit.SEAL_ROOTS: keystore.root_pem(a.keys),
        }
        sm2_roots = keystore.sm2_trust_roots(a.keys)
        if sm2_roots:
            files[offline_kit.SM2_ROOTS] = keystore.sm2_roots_pem(sm2_roots)
        built = status_list.build(a.uow(), signer=a.attestation_signer, now=a.clock.now())
        files[offline_kit.STATUS_LIST] = built.jws.encode("ascii")
        for name, body in files.items():
            write_output(out / name, body, example=name)
        d = {
            "dir": str(out),
            "files": sorted(files),
            "status_list": {
                "issued_at": in_cst(built.issued_at).isoformat(), "next_update": in_cst(built.next_update).isoformat(),
                "listed": built.listed, "covered": built.covered, "kid": built.kid,
            },
        }  # fmt: skip
        inv.emit(d, f"{out}: " + ", ".join(sorted(files)))


@keys_cli.command("export-root")
def keys_export_root(ctx: typer.Context, out: Path = typer.Option(..., "--out", help="PEM file to write")) -> None:
    """Write the trust root (PEM) relying parties and tools (pdfsig, Acrobat, pyHanko) need."""
    inv = Invocation.of(ctx)
    with inv.errors():
        check_output_file(out, example="root.pem")
        pem = keystore.root_pem(inv.app().keys)
        write_output(out, pem, example="root.pem")
        typer.echo(f"{out}", err=True)
