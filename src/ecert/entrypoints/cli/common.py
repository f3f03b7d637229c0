"""Plumbing shared by the ``ecert`` command modules: the invocation (settings, output, error
mapping) the root callback puts on the Typer context, progress bars, the actor (docs/cli.md)."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, NoReturn, TypedDict

import typer
from sqlalchemy.exc import DBAPIError

from ecert.bootstrap import App, bootstrap
from ecert.config import Settings, load_settings, wanted_language
from ecert.domain import messages
from ecert.domain.errors import EcertError
from ecert.services.registry_import import ProgressFn

# The parameters most commands take, declared once (their --help lines are the same everywhere).
RegNo = Annotated[str, typer.Argument(metavar="REG_NO")]
Actor = Annotated[str | None, typer.Option("--actor")]
JsonOut = Annotated[bool, typer.Option("--json")]


@dataclass
class Invocation:
    """One run of ``ecert``: the root options (``--db``, ``--lang``, ``--policy``), whether the
    command prints JSON, and the application, built once on first use. The root callback puts it on
    the Typer context (``ctx.obj``); a command takes it back with :meth:`of`."""

    db: str | None = None
    lang_option: str | None = None
    policy: str | None = None
    json: bool = False
    built: App | None = None

    @classmethod
    def of(cls, ctx: typer.Context) -> Invocation:
        return ctx.ensure_object(cls)

    def app(self) -> App:
        if self.built is None:
            self.built = bootstrap(load_settings(self.db, self.lang_option, self.policy))
        return self.built

    def lang(self) -> str:
        if self.built:
            return self.built.settings.lang
        return wanted_language(self.lang_option)

    def say(self, zh: str, en: str) -> str:
        """Prose of a human line in the chosen language (terms come from :meth:`term`)."""
        return en if self.lang() == "en" else zh

    def term(self, kind: str, code: str | None) -> str:
        """A stored code as its word in the chosen language, from the one catalogue (domain/messages.py).
        ``--json`` keeps the codes; only lines for people use this."""
        return messages.term(kind, code, self.lang())

    def emit(self, obj: dict[str, Any], human: str | None = None) -> None:
        if self.json or human is None:
            typer.echo(json.dumps(obj, ensure_ascii=False, default=str))
        else:
            typer.echo(human)

    def fail(self, err: EcertError) -> NoReturn:
        body = err.as_dict(self.lang())
        if self.json:
            typer.echo(json.dumps(body, ensure_ascii=False))
        else:
            details: list[dict[str, Any]] = body["error"].get("details", [])
            if len(details) == 1 and not details[0].keys() & {"row", "column"}:
                # One problem with nothing to point at (a file that is missing, say): its sentence alone.
                typer.echo(f"ecert: {details[0]['message']} [{details[0].get('code', err.code)}]", err=True)
                raise typer.Exit(err.exit_code)
            typer.echo(f"ecert: {err.message(self.lang())} [{err.code}]", err=True)
            for d in details[:200]:
                where = " ".join(f"{k}={d[k]}" for k in ("row", "column") if k in d)
                typer.echo(f"  {where}: {d['message']}" if where else f"  {d['message']}", err=True)
            extra = len(details) - 200
            if extra > 0:
                typer.echo(f"  … (+{extra}; use --json for all)", err=True)
        raise typer.Exit(err.exit_code)

    @contextmanager
    def command(self, json_out: bool) -> Iterator[App]:
        """The frame of a command: ``--json`` noted, errors printed as the contract says (one JSON
        object or a line for people, exit 1 or 2), and the application built once."""
        with self.errors(json_out):
            yield self.app()

    @contextmanager
    def errors(self, json_out: bool | None = None) -> Iterator[None]:
        """Errors printed as the contract says; ``json_out`` (a command's ``--json``) noted first.
        For commands that check their input before the application is built."""
        if json_out is not None:
            self.json = json_out
        try:
            yield
        except EcertError as err:
            self.fail(err)
        except DBAPIError as exc:
            msg = str(exc.orig) if exc.orig else str(exc)
            if "no such table" in msg or "does not exist" in msg:
                msg += " — ecert init?"
            self.fail(EcertError("database_error", params={"reason": msg.strip().splitlines()[0]}))
        finally:
            if self.built is not None and "engine" in self.built.__dict__:
                self.built.engine.dispose()

    def perform(
        self, use_case: Callable[[App], dict[str, Any]], human: Callable[[dict[str, Any]], str], json_out: bool
    ) -> None:
        """The body most commands share: run the use case on the application, print its answer
        (the dict as JSON with ``--json``, else ``human`` of it)."""
        with self.command(json_out) as a:
            d = use_case(a)
            self.emit(d, human(d))


class Moment(TypedDict):
    """When a use case runs: the clock's date and time, the keywords most use cases take."""

    today: date
    now: datetime


class Signed(TypedDict):
    """Who records a change and when: the keywords of a recording use case that needs no date."""

    actor: str
    now: datetime


class Stamp(Moment, Signed):
    """Who records a change, and the clock's date and time: the keywords most recording use cases take."""


def moment(a: App) -> Moment:
    return {"today": a.clock.today(), "now": a.clock.now()}


def signed(a: App, actor: str | None) -> Signed:
    """``--actor`` (else ``ECERT_ACTOR``, else ``cli:USER``) and the clock's time."""
    return {"actor": actor_name(actor, a.settings), "now": a.clock.now()}


def stamp(a: App, actor: str | None) -> Stamp:
    """``--actor`` (else ``ECERT_ACTOR``, else ``cli:USER``) and the clock's date and time."""
    return {"actor": actor_name(actor, a.settings), "today": a.clock.today(), "now": a.clock.now()}


@contextmanager
def progress_bar(label: str) -> Iterator[ProgressFn | None]:
    """A progress bar on a terminal (stderr) fed ``(rows, done, total)``, nothing when piped; gone
    when the block ends."""
    if not sys.stderr.isatty():
        yield None
        return
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

    try:
        yield update
    finally:
        bar.stop()


def count_progress(bar: ProgressFn | None) -> Callable[[int, int], None] | None:
    """``bar`` fed ``(done, total)``: for work that counts items, not rows."""
    return (lambda done, total: bar(done, done, total)) if bar else None


def actor_name(explicit: str | None, settings: Settings) -> str:
    """``--actor``, else ``ECERT_ACTOR`` (settings), else ``cli:<login name>``."""
    return explicit or settings.actor or f"cli:{getpass.getuser()}"
