"""``ecert`` command line, per docs/cli.md (names, flags, JSON keys, exit codes are a contract).

Exit 0 done; exit 1 a rule refused it (``{"error": {"code", "message", "rule"}}``); exit 2 bad input
(``{"error": {"code": "bad_input", "message", "details": [...]}}``). With ``--json`` exactly one JSON
object is printed on stdout, errors included; without it, people get text on stderr.
"""

from __future__ import annotations

# ruff: noqa: E402 (the warning filter below comes before the imports that would warn)
import warnings

# A library's deprecation notice (cryptography 50 warns that DSA is deprecated when pyHanko imports it)
# is for ecert's developers, not for the people at the terminal: the command line prints one sentence
# per error (docs/cli.md). Set before pyHanko is imported by the modules below.
warnings.filterwarnings("ignore", message=r"DSA is deprecated", module=r"pyhanko\.")

import typer

from ecert.adapters import keystore
from ecert.adapters.db.engine import upgrade
from ecert.config import pass_to_workers
from ecert.entrypoints.cli import attest, certs, changes, registry
from ecert.entrypoints.cli.audit import audit_cli
from ecert.entrypoints.cli.common import Invocation
from ecert.entrypoints.cli.jobs import jobs_cli
from ecert.entrypoints.cli.reminders import reminders_cli
from ecert.entrypoints.cli.roster import roster_cli
from ecert.entrypoints.cli.subscribe import subscribe_cli
from ecert.entrypoints.cli.workflows import renewal_cli, user_cli

cli = typer.Typer(
    name="ecert",
    help="ecert — 一级建造师电子注册证书 (electronic registration certificates for first-class constructors).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Top-level commands, in the order ``ecert --help`` lists them (docs/cli.md).
cli.command("revoke")(changes.revoke_cmd)
cli.command("cancel")(changes.cancel_cmd)
cli.command()(registry.init)
cli.command("import")(registry.import_cmd)
cli.command()(registry.demo)
cli.command()(registry.sweep)
cli.command("verify")(certs.verify_cmd)
cli.command("verify-qr")(certs.verify_qr_cmd)
cli.command("attest")(attest.attest_cmd)
# Groups, after the commands.
cli.add_typer(registry.holder_cli, name="holder")
cli.add_typer(certs.cert_cli, name="cert")
certs.keys_cli.command("export")(attest.keys_export)
cli.add_typer(certs.keys_cli, name="keys")
cli.add_typer(renewal_cli, name="renewal")
cli.add_typer(user_cli, name="user")
cli.add_typer(changes.change_cli, name="change")
cli.add_typer(reminders_cli, name="reminders")
cli.add_typer(jobs_cli, name="jobs")
cli.add_typer(roster_cli, name="roster")
cli.add_typer(subscribe_cli, name="subscribe")
cli.add_typer(audit_cli, name="audit")


@cli.callback()
def main_options(
    ctx: typer.Context,
    db: str | None = typer.Option(
        None, "--db", help="Database URL (default: env ECERT_DATABASE_URL, else var/ecert.db)"
    ),
    lang_opt: str | None = typer.Option(None, "--lang", help="zh (default) or en; env ECERT_LANG"),
    policy: str | None = typer.Option(None, "--policy", help="Policy override file (TOML); env ECERT_POLICY_FILE"),
) -> None:
    # --json is noted by each command; a command without one prints for people.
    ctx.obj = Invocation(db=db, lang_option=lang_opt, policy=policy)


@cli.command()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes (sessions live in the database)"),
) -> None:
    """The web service: public QR verification at /v/…, holder portal, authority console, REST API."""
    from ecert.entrypoints.web import server

    inv = Invocation.of(ctx)
    with inv.errors():
        a = inv.app()
        upgrade(a.engine)
        notices = keystore.ensure_keys(a.keys)
        # With DEMO keys, one line says so instead of the banner `ecert init` and `ecert demo` print.
        for n in notices[1:] if a.keys.is_demo else notices:
            typer.echo(n, err=True)
        demo_keys = "  *** DEMO KEYS — NOT FOR PRODUCTION ***" if a.keys.is_demo else ""
        typer.echo(f"ecert: http://{host}:{port}/  (API: /api/docs, OpenAPI: /openapi.json){demo_keys}", err=True)
    # Settings reach the workers through the environment (uvicorn imports the factory in each).
    pass_to_workers(inv.db, inv.lang_option, inv.policy)
    # One listening socket per worker (SO_REUSEPORT): the kernel spreads connections over them.
    try:
        server.run(host, port, workers, trusted_proxies=a.settings.web.trusted_proxies)
    except OSError as exc:  # the address is taken or not ours: say so, no traceback
        typer.echo(f"ecert serve: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None


def main() -> None:
    cli()
