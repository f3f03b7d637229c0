"""``ecert`` command line, per ../shared/contract.md (names, flags, JSON keys, exit codes are a contract).

Exit 0 done; exit 1 a rule refused it (``{"error": {"code", "message", "rule"}}``); exit 2 bad input
(``{"error": {"code": "bad_input", "message", "details": [...]}}``). With ``--json`` exactly one JSON
object is printed on stdout, errors included; without it, people get text on stderr.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import typer
from sqlalchemy.exc import OperationalError

from ecert.adapters.db.engine import upgrade
from ecert.adapters.importing.readers import Table
from ecert.bootstrap import App, bootstrap
from ecert.config import load_settings
from ecert.domain import provinces
from ecert.domain.errors import EcertError
from ecert.services import registry as registry_service
from ecert.services.registry_import import ProgressFn, import_registry, import_table
from ecert.services.sweep import sweep as run_sweep
from ecert.services.synthetic import HEADER, generate_rows

cli = typer.Typer(
    name="ecert",
    help="ecert — 一级建造师电子注册证书 (electronic registration certificates for first-class constructors).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
holder_cli = typer.Typer(help="持证人 / holders", no_args_is_help=True)
cli.add_typer(holder_cli, name="holder")


class State:
    db: str | None = None
    lang: str | None = None
    policy: str | None = None
    json: bool = False
    app: App | None = None


STATE = State()


def app() -> App:
    if STATE.app is None:
        STATE.app = bootstrap(load_settings(STATE.db, STATE.lang, STATE.policy))
    return STATE.app


def lang() -> str:
    return app().settings.lang if STATE.app else ("en" if (STATE.lang or "").startswith("en") else "zh")


def emit(obj: dict[str, Any], human: str | None = None) -> None:
    if STATE.json or human is None:
        typer.echo(json.dumps(obj, ensure_ascii=False, default=str))
    else:
        typer.echo(human)


def fail(err: EcertError) -> NoReturn:
    body = err.as_dict(lang())
    if STATE.json:
        typer.echo(json.dumps(body, ensure_ascii=False))
    else:
        typer.echo(f"ecert: {err.message(lang())} [{err.code}]", err=True)
        for d in body["error"].get("details", [])[:200]:
            where = " ".join(f"{k}={d[k]}" for k in ("row", "column") if k in d)
            typer.echo(f"  {where}: {d['message']}", err=True)
        extra = len(body["error"].get("details", [])) - 200
        if extra > 0:
            typer.echo(f"  … (+{extra}; use --json for all)", err=True)
    raise typer.Exit(err.exit_code)


@contextmanager
def errors() -> Iterator[None]:
    try:
        yield
    except EcertError as err:
        fail(err)
    except OperationalError as exc:
        msg = str(exc.orig) if exc.orig else str(exc)
        fail(EcertError("database_error", params={"reason": msg}))


@cli.callback()
def main_options(
    db: str | None = typer.Option(
        None, "--db", help="Database URL (default: env ECERT_DATABASE_URL, else var/ecert.db)"
    ),
    lang_opt: str | None = typer.Option(None, "--lang", help="zh (default) or en; env ECERT_LANG"),
    policy: str | None = typer.Option(None, "--policy", help="Policy override file (TOML); env ECERT_POLICY_FILE"),
) -> None:
    STATE.db, STATE.lang, STATE.policy, STATE.app = db, lang_opt, policy, None


def _progress(label: str) -> tuple[ProgressFn | None, Callable[[], None]]:
    """A progress bar on a terminal (stderr), nothing when piped."""
    if not sys.stderr.isatty():
        return None, lambda: None
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[rows]:,} rows"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        transient=True,
    )
    task = bar.add_task(label, total=None, rows=0)
    bar.start()

    def update(rows: int, done: int, total: int) -> None:
        bar.update(task, completed=done, total=total or None, rows=rows)

    return update, bar.stop


@cli.command()
def init(json_out: bool = typer.Option(False, "--json")) -> None:
    """Create or upgrade the schema."""
    STATE.json = json_out
    with errors():
        before, after = upgrade(app().engine)
        emit(
            {"schema": after, "previous": before, "database": app().engine.url.render_as_string(hide_password=True)},
            f"数据库已就绪 / schema ready: {after} ({app().engine.url.render_as_string(hide_password=True)})",
        )


@cli.command("import")
def import_cmd(
    file: Path = typer.Argument(..., help="CSV (UTF-8 or GB18030) or XLSX, columns per contract.md"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Registry import: all or nothing; every bad row is named."""
    STATE.json = json_out
    with errors():
        a = app()
        upgrade(a.engine)
        progress, stop = _progress(file.name)
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
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """init + a synthetic DEMO registry (valid ID numbers and credit codes, rare-character names)."""
    STATE.json = json_out
    with errors():
        a = app()
        upgrade(a.engine)
        today = a.clock.today()
        rows = enumerate(generate_rows(holders, today=today, seed=seed), start=2)
        table = Table(header=list(HEADER), rows=rows, encoding="synthetic")
        progress, stop = _progress("demo")
        try:
            result = import_table(
                a.uow(),
                table,
                base=Path.cwd(),
                source=f"demo:{holders}:{seed}",
                digest="",
                today=today,
                now=a.clock.now(),
                actor="demo",
                progress=progress,
            )
        finally:
            stop()
        with a.uow() as uow:
            sample = uow.registry.sample_numbers(8)
            regs, specs = uow.registry.count()
        by_province = Counter(provinces.abbreviation(provinces.code_of_abbreviation(n[0]) or "11") for n in sample)
        out = {
            "demo": True,
            "holders": regs,
            "specialty_registrations": specs,
            "imported": result.imported,
            "updated": result.updated,
            "sample_registration_nos": sample,
            "today": today.isoformat(),
        }
        human = (
            "*** DEMO 演示数据 — synthetic registry, not real people ***\n"
            f"持证人 holders: {regs:,}   注册专业 specialty registrations: {specs:,}   (today {today})\n"
            f"示例注册编号 sample registration numbers ({dict(by_province)}):\n  "
            + "\n  ".join(sample)
            + f"\n试一试 try: ecert holder show {sample[0]} --json"
        )
        emit(out, human)


@holder_cli.command("show")
def holder_show(
    registration_no: str = typer.Argument(..., metavar="REG_NO"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """A holder's registration, specialties and their states today."""
    STATE.json = json_out
    with errors():
        a = app()
        view = registry_service.show_holder(a.uow(), registration_no, today=a.clock.today(), policy=a.policy)
        emit(view, json.dumps(view, ensure_ascii=False, indent=2))


@holder_cli.command("set-signature")
def holder_set_signature(
    registration_no: str = typer.Argument(..., metavar="REG_NO"),
    file: Path = typer.Argument(..., metavar="FILE.png"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Store the holder's signature image (PNG/JPEG)."""
    STATE.json = json_out
    with errors():
        a = app()
        try:
            data = file.read_bytes()
        except OSError as exc:
            from ecert.domain.errors import BadInput, problem

            raise BadInput([problem(f"无法读取文件:{exc}", f"Cannot read the file: {exc}")]) from exc
        changed = registry_service.set_signature(a.uow(), registration_no, data, now=a.clock.now(), actor="cli")
        emit({"registration_no": registration_no, "changed": changed}, "签名图像已保存 / signature stored")


@cli.command()
def sweep(json_out: bool = typer.Option(False, "--json")) -> None:
    """Lapse sweep for today (R-LAPSE-1); running it twice changes nothing more."""
    STATE.json = json_out
    with errors():
        a = app()
        result = run_sweep(a.uow(), today=a.clock.today(), now=a.clock.now(), policy=a.policy)
        d = result.as_dict()
        emit(d, f"失效处理 / sweep {d['today']}: lapsed {d['lapsed']} of {d['checked']} checked")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
