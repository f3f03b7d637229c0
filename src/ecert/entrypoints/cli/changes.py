"""``ecert change …``, ``ecert revoke``, ``ecert cancel`` and paper requests (R-CHG-1, R-CHG-2, R-CHG-3, R-LAPSE-1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from ecert.bootstrap import App
from ecert.entrypoints.cli.common import Actor, Invocation, JsonOut, RegNo, signed, stamp
from ecert.services import changes

change_cli = typer.Typer(help="变更注册 / change registration", no_args_is_help=True)

# Options of `change employer` and `change paper`.
NewName = Annotated[str, typer.Option("--name", help="New employer name")]
NewUscc = Annotated[str, typer.Option("--uscc", help="New employer's unified social credit code")]
PaperKind = Annotated[str, typer.Option("--kind", help="reissue | sticker")]
PaperWhy = Annotated[str, typer.Option("--why", help="lost | damaged | data_changed | renewal | employer_change")]


def change_employer_cmd(
    ctx: typer.Context, reg_no: RegNo, name: NewName, uscc: NewUscc, actor: Actor = None, json_out: JsonOut = False
) -> None:
    """Change of employer (变更注册): supersedes earlier certificates (R-CHG-1)."""
    Invocation.of(ctx).perform(
        lambda a: changes.change_employer(a.uow(), reg_no, name=name, uscc=uscc, **signed(a, actor)),
        lambda d: f"已变更聘用企业 / employer changed: {d['employer']['name']}",
        json_out,
    )


def change_employer_name_cmd(
    ctx: typer.Context,
    uscc: str = typer.Option(..., "--uscc", help="The employer's unified social credit code"),
    name: str = typer.Option(..., "--name", help="The employer's new name"),
    actor: Actor = None,
    json_out: JsonOut = False,
) -> None:
    """Employer name change: every registration with that credit code, one set-based step (R-CHG-1)."""
    Invocation.of(ctx).perform(
        lambda a: changes.rename_employer(a.uow(), uscc, name=name, **signed(a, actor)),
        lambda d: f"已更名 / renamed {d['uscc']} → {d['name']}: {d['registrations']} 个注册 / registrations",
        json_out,
    )


def change_personal_cmd(
    ctx: typer.Context,
    registration_no: RegNo,
    name: str | None = typer.Option(None, "--name"),
    gender: str | None = typer.Option(None, "--gender", help="男 or 女"),
    birth_date: str | None = typer.Option(None, "--birth-date", help="YYYY-MM-DD"),
    id_number: str | None = typer.Option(None, "--id-number"),
    actor: Actor = None,
    json_out: JsonOut = False,
) -> None:
    """Correction of personal data, validated like the import; supersedes certificates (R-CHG-1)."""

    def correct(a: App) -> dict[str, Any]:
        who = stamp(a, actor)
        return changes.correct_personal(
            a.uow(), registration_no, name=name, gender=gender, birth_date=birth_date, id_number=id_number, **who
        )

    Invocation.of(ctx).perform(correct, lambda d: f"已更正 / corrected: {', '.join(d['fields']) or '-'}", json_out)


def change_paper_cmd(
    ctx: typer.Context, reg_no: RegNo, kind: PaperKind, why: PaperWhy, actor: Actor = None, json_out: JsonOut = False
) -> None:
    """Paper reissue or anti-counterfeit sticker: refused in rollout regions (R-CHG-2, R-CHG-3)."""
    Invocation.of(ctx).perform(
        lambda a: changes.paper_request(a.uow(), reg_no, kind=kind, why=why, policy=a.policy, **stamp(a, actor)),
        lambda d: f"已受理纸质证书申请 / paper request accepted: {d['kind']} ({d['why']})",
        json_out,
    )


def _status_change(ctx: typer.Context, json_out: bool, use_case: Callable[[App], dict[str, Any]]) -> None:
    """The body ``revoke`` and ``cancel`` share: the use case, then the registration's new status."""
    inv = Invocation.of(ctx)

    def human(d: dict[str, Any]) -> str:
        effective = inv.say(f"自 {d['effective']} 起生效", f"effective {d['effective']}")
        return f"{d['registration_no']}: {inv.term('status.registration', d['status'])} ({effective})"

    inv.perform(use_case, human, json_out)


def revoke_cmd(
    ctx: typer.Context,
    registration_no: RegNo,
    reason: str = typer.Option(..., "--reason", help="Free text; stored, never shown by verification"),
    basis: str = typer.Option(..., "--basis", help="Legal basis, shown by verification"),
    effective: str = typer.Option(..., "--effective", help="YYYY-MM-DD, today or earlier"),
    actor: Actor = None,
    json_out: JsonOut = False,
) -> None:
    """Revoke (撤销) a registration with reason, legal basis and effective date (R-LAPSE-1)."""
    _status_change(
        ctx,
        json_out,
        lambda a: changes.revoke(
            a.uow(), registration_no, reason=reason, basis=basis, effective=effective, **stamp(a, actor)
        ),
    )


def cancel_cmd(
    ctx: typer.Context,
    registration_no: RegNo,
    reason: str = typer.Option(
        ..., "--reason", help="Lapse ground: all specialties lapsed, age limit, holder's request, death …"
    ),
    effective: str = typer.Option(..., "--effective", help="YYYY-MM-DD, today or earlier"),
    basis: str | None = typer.Option(None, "--basis", help="Legal basis (optional), shown by verification"),
    actor: Actor = None,
    json_out: JsonOut = False,
) -> None:
    """Cancel (注销) a registration on lapse grounds: all specialties lapsed, age limit, the holder's
    request, death (R-LAPSE-1)."""
    _status_change(
        ctx,
        json_out,
        lambda a: changes.cancel(
            a.uow(), registration_no, reason=reason, effective=effective, basis=basis, **stamp(a, actor)
        ),
    )


# The group's commands, in the order ``ecert change --help`` lists them.
change_cli.command("employer")(change_employer_cmd)
change_cli.command("employer-name")(change_employer_name_cmd)
change_cli.command("personal")(change_personal_cmd)
change_cli.command("paper")(change_paper_cmd)
