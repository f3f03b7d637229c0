"""``ecert change …``, ``ecert revoke``, ``ecert cancel`` and paper requests (R-CHG-1…3, R-LAPSE-1)."""

from __future__ import annotations

from typing import Any

import typer

from ecert.entrypoints.cli.common import actor_name, command, emit, say, term
from ecert.services import changes

change_cli = typer.Typer(help="变更注册 / change registration", no_args_is_help=True)


@change_cli.command("employer")
def change_employer_cmd(
    registration_no: str = typer.Argument(..., metavar="REG_NO"),
    name: str = typer.Option(..., "--name", help="New employer name"),
    uscc: str = typer.Option(..., "--uscc", help="New employer's unified social credit code"),
    actor: str | None = typer.Option(None, "--actor"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Change of employer (变更注册): supersedes earlier certificates (R-CHG-1)."""
    with command(json_out) as a:
        d = changes.change_employer(
            a.uow(), registration_no, name=name, uscc=uscc, actor=actor_name(actor), now=a.clock.now()
        )
        emit(d, f"已变更聘用企业 / employer changed: {d['employer']['name']}")


@change_cli.command("employer-name")
def change_employer_name_cmd(
    uscc: str = typer.Option(..., "--uscc", help="The employer's unified social credit code"),
    name: str = typer.Option(..., "--name", help="The employer's new name"),
    actor: str | None = typer.Option(None, "--actor"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Employer name change: every registration with that credit code, one set-based step (R-CHG-1)."""
    with command(json_out) as a:
        d = changes.rename_employer(a.uow(), uscc, name=name, actor=actor_name(actor), now=a.clock.now())
        emit(d, f"已更名 / renamed {d['uscc']} → {d['name']}: {d['registrations']} 个注册 / registrations")


@change_cli.command("personal")
def change_personal_cmd(
    registration_no: str = typer.Argument(..., metavar="REG_NO"),
    name: str | None = typer.Option(None, "--name"),
    gender: str | None = typer.Option(None, "--gender", help="男 or 女"),
    birth_date: str | None = typer.Option(None, "--birth-date", help="YYYY-MM-DD"),
    id_number: str | None = typer.Option(None, "--id-number"),
    actor: str | None = typer.Option(None, "--actor"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Correction of personal data, validated like the import; supersedes certificates (R-CHG-1)."""
    with command(json_out) as a:
        d = changes.correct_personal(
            a.uow(),
            registration_no,
            name=name,
            gender=gender,
            birth_date=birth_date,
            id_number=id_number,
            actor=actor_name(actor),
            today=a.clock.today(),
            now=a.clock.now(),
        )
        emit(d, f"已更正 / corrected: {', '.join(d['fields']) or '-'}")


@change_cli.command("paper")
def change_paper_cmd(
    registration_no: str = typer.Argument(..., metavar="REG_NO"),
    kind: str = typer.Option(..., "--kind", help="reissue | sticker"),
    why: str = typer.Option(..., "--why", help="lost | damaged | data_changed | renewal | employer_change"),
    actor: str | None = typer.Option(None, "--actor"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Paper reissue or anti-counterfeit sticker: refused in rollout regions (R-CHG-2, R-CHG-3)."""
    with command(json_out) as a:
        d = changes.paper_request(
            a.uow(),
            registration_no,
            kind=kind,
            why=why,
            actor=actor_name(actor),
            today=a.clock.today(),
            now=a.clock.now(),
            policy=a.policy,
        )
        emit(d, f"已受理纸质证书申请 / paper request accepted: {d['kind']} ({d['why']})")


def _status_human(d: dict[str, Any]) -> str:
    effective = say(f"自 {d['effective']} 起生效", f"effective {d['effective']}")
    return f"{d['registration_no']}: {term('status.registration', d['status'])} ({effective})"


def revoke_cmd(
    registration_no: str = typer.Argument(..., metavar="REG_NO"),
    reason: str = typer.Option(..., "--reason", help="Free text; stored, never shown by verification"),
    basis: str = typer.Option(..., "--basis", help="Legal basis, shown by verification"),
    effective: str = typer.Option(..., "--effective", help="YYYY-MM-DD, today or earlier"),
    actor: str | None = typer.Option(None, "--actor"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Revoke (撤销) a registration with reason, legal basis and effective date (R-LAPSE-1)."""
    with command(json_out) as a:
        d = changes.revoke(
            a.uow(),
            registration_no,
            reason=reason,
            basis=basis,
            effective=effective,
            actor=actor_name(actor),
            today=a.clock.today(),
            now=a.clock.now(),
        )
        emit(d, _status_human(d))


def cancel_cmd(
    registration_no: str = typer.Argument(..., metavar="REG_NO"),
    reason: str = typer.Option(
        ..., "--reason", help="Lapse ground: all specialties lapsed, age limit, holder's request, death …"
    ),
    effective: str = typer.Option(..., "--effective", help="YYYY-MM-DD, today or earlier"),
    basis: str | None = typer.Option(None, "--basis", help="Legal basis (optional), shown by verification"),
    actor: str | None = typer.Option(None, "--actor"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Cancel (注销) a registration on lapse grounds: all specialties lapsed, age limit, the holder's
    request, death (R-LAPSE-1)."""
    with command(json_out) as a:
        d = changes.cancel(
            a.uow(),
            registration_no,
            reason=reason,
            effective=effective,
            basis=basis,
            actor=actor_name(actor),
            today=a.clock.today(),
            now=a.clock.now(),
        )
        emit(d, _status_human(d))
