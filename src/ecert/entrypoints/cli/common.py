"""Plumbing shared by the ``ecert`` command modules: settings, output, error mapping (docs/cli.md)."""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from sqlalchemy.exc import DBAPIError

from ecert.bootstrap import App, bootstrap
from ecert.config import load_settings
from ecert.domain import messages
from ecert.domain.errors import EcertError
from ecert.services.registry_import import ProgressFn


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
    if STATE.app:
        return app().settings.lang
    wanted = STATE.lang or os.environ.get("ECERT_LANG") or ""
    return "en" if wanted.lower().startswith("en") else "zh"


def say(zh: str, en: str) -> str:
    """Prose of a human line in the chosen language (terms come from :func:`term`)."""
    return en if lang() == "en" else zh


def term(kind: str, code: str | None) -> str:
    """A stored code as its word in the chosen language, from the one catalogue (domain/messages.py).
    ``--json`` keeps the codes; only lines for people use this."""
    return messages.term(kind, code, lang())


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
        details: list[dict[str, Any]] = body["error"].get("details", [])
        if len(details) == 1 and not details[0].keys() & {"row", "column"}:
            # One problem with nothing to point at (a file that is missing, say): its sentence alone.
            typer.echo(f"ecert: {details[0]['message']} [{details[0].get('code', err.code)}]", err=True)
            raise typer.Exit(err.exit_code)
        typer.echo(f"ecert: {err.message(lang())} [{err.code}]", err=True)
        for d in details[:200]:
            where = " ".join(f"{k}={d[k]}" for k in ("row", "column") if k in d)
            typer.echo(f"  {where}: {d['message']}" if where else f"  {d['message']}", err=True)
        extra = len(details) - 200
        if extra > 0:
            typer.echo(f"  … (+{extra}; use --json for all)", err=True)
    raise typer.Exit(err.exit_code)


@contextmanager
def command(json_out: bool) -> Iterator[App]:
    """The frame of a command: ``--json`` noted, errors printed as the contract says (one JSON object
    or a line for people, exit 1 or 2), and the application built once."""
    STATE.json = json_out
    with errors():
        yield app()


@contextmanager
def errors() -> Iterator[None]:
    try:
        yield
    except EcertError as err:
        fail(err)
    except DBAPIError as exc:
        msg = str(exc.orig) if exc.orig else str(exc)
        if "no such table" in msg or "does not exist" in msg:
            msg += " — ecert init?"
        fail(EcertError("database_error", params={"reason": msg.strip().splitlines()[0]}))
    finally:
        if STATE.app is not None and "engine" in STATE.app.__dict__:
            STATE.app.engine.dispose()


def progress_bar(label: str) -> tuple[ProgressFn | None, Callable[[], None]]:
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


def actor_name(explicit: str | None) -> str:
    return explicit or os.environ.get("ECERT_ACTOR") or f"cli:{getpass.getuser()}"
