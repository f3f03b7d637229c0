"""``ecert change …``, ``ecert revoke``, ``ecert cancel`` and paper requests (R-CHG-1…3, R-LAPSE-1)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import typer

from ecert.entrypoints.cli_common import STATE, actor_name, app, emit, errors
from ecert.services import changes

change_cli = typer.Typer(help="变更注册 / change registration", no_args_is_help=True)


@dataclass(frozen=True)
class TopLevelCommand:
    """A command registered at the top level (``ecert revoke``), kept here with its group."""

    name: str
    fn: Callable[..., Any]


changes_commands: list[TopLevelCommand] = []


@change_cli.command("employer")
def change_employer_cmd(
    registration_no: str = typer.Argument(..., metavar="REG_NO"),
    name: str = typer.Option(..., "--name", help="New employer name"),
    uscc: str = typer.Option(..., "--uscc", help="New employer's unified social credit code"),
    actor: str | None = typer.Option(None, "--actor"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Change of employer (变更注册): supersedes earlier certificates (R-CHG-1)."""
    STATE.json = json_out
    with errors():
        a = app()
        d = changes.change_employer(
            a.uow(), registration_no, name=name, uscc=uscc, actor=actor_name(actor), now=a.clock.now()
        )
        emit(d, f"已变更聘用企业 / employer changed: {d['employer']['name']}")
