"""``ecert roster verify``: one signed report for an employer's roster (docs/cli.md; issue 13 item 3).

The authority runs it for an employer (``--as``, its 统一社会信用代码); the report is what the
employer's own web page gives: ``roster.json`` (signed, JWS), ``roster.pdf`` (sealed) and
``roster.csv`` in ``--out``. Runs here, now, with a progress bar on a terminal.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ecert.adapters.files import ensure_output_dir, write_output
from ecert.domain.errors import BadInput, problem
from ecert.domain.ids.uscc import check_uscc
from ecert.entrypoints.cli.common import Invocation, JsonOut, actor_name, count_progress, progress_bar
from ecert.entrypoints.jobs.definitions import build_roster_report
from ecert.services import roster as roster_service

roster_cli = typer.Typer(help="名册核查 / roster reports", no_args_is_help=True)

REPORT_FILES = {"json": "roster.json", "pdf": "roster.pdf", "csv": "roster.csv"}


def parse_uscc(value: str) -> str:
    uscc = value.strip().upper()
    why = check_uscc(uscc, "统一社会信用代码", "Credit code")
    if why is not None:
        raise BadInput([problem(*why, column="as")])
    return uscc


@roster_cli.command("verify")
def roster_verify(
    ctx: typer.Context,
    file: Path = typer.Argument(..., metavar="FILE", help="CSV/XLSX of registration numbers, or a zip of certificates"),
    as_uscc: str = typer.Option(..., "--as", help="The employer's 统一社会信用代码"),
    on: str | None = typer.Option(None, "--date", help="YYYY-MM-DD (default: today)"),
    out: Path = typer.Option(..., "--out", help="Directory for roster.json, roster.pdf, roster.csv"),
    json_out: JsonOut = False,
) -> None:
    """Check a roster for one employer on one date: a signed JSON, a sealed PDF table and a CSV."""
    inv = Invocation.of(ctx)
    with inv.errors(json_out):
        uscc, day = parse_uscc(as_uscc), roster_service.parse_on(on)
        ensure_output_dir(out)  # before any work: a bad --out changes nothing
        a = inv.app()
        cfg = a.settings.roster
        roster_file = roster_service.read_roster(file, max_rows=cfg.max_rows, max_bytes=cfg.max_bytes)
        with progress_bar("roster verify") as bar:
            report = build_roster_report(
                a, roster_file, uscc=uscc, on=day, actor=actor_name(None, a.settings), progress=count_progress(bar)
            )
        paths = {kind: out / name for kind, name in REPORT_FILES.items()}
        for kind, path in paths.items():
            write_output(path, report.files[kind], example=REPORT_FILES[kind])
        d = report.summary({k: str(p) for k, p in paths.items()})
        c = d["counts"]
        inv.emit(d, f"{c['rows']} rows, ok {c['ok']}: {', '.join(str(p) for p in paths.values())}")
