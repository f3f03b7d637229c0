"""``ecert renewal …``, ``ecert user add`` and ``ecert user reset-2fa`` (docs/cli.md)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import typer

from ecert.bootstrap import App
from ecert.domain.errors import BadInput, problem
from ecert.entrypoints.cli.common import Actor, Invocation, JsonOut, RegNo, actor_name, moment, stamp
from ecert.services import accounts, renewal, second_factor

renewal_cli = typer.Typer(help="延续注册 / renewal registration", no_args_is_help=True)
user_cli = typer.Typer(help="账号 / accounts", no_args_is_help=True)


def _application(inv: Invocation, json_out: bool, use_case: Callable[[App], dict[str, Any]]) -> None:
    """The body ``renewal apply`` and ``renewal decide`` share: the use case, then the application's status."""

    def human(d: dict[str, Any]) -> str:
        application = inv.say("延续注册申请", "Renewal application")
        return f"{application} {d['application_id']}: {inv.term('status.application', d['status'])}"

    inv.perform(use_case, human, json_out)


@renewal_cli.command("apply")
def renewal_apply(
    ctx: typer.Context,
    registration_no: RegNo,
    specialty: list[str] = typer.Option(..., "--specialty", help="Specialty to renew (repeat for several)"),
    commit_ce: bool = typer.Option(
        False, "--commit-ce", help="The holder commits to having met the continuing-education requirement (R-REN-4)"
    ),
    ce_hours: int | None = typer.Option(None, "--ce-hours", help="Continuing-education hours, if known"),
    actor: Actor = None,
    json_out: JsonOut = False,
) -> None:
    """Apply for renewal of one or more specialties (R-REN-1, R-REN-2, R-REN-3, R-REN-4)."""
    _application(
        Invocation.of(ctx),
        json_out,
        lambda a: renewal.apply_renewal(
            a.uow(),
            registration_no,
            specialty,
            committed=commit_ce,
            ce_hours=ce_hours,
            policy=a.policy,
            **stamp(a, actor),
        ),
    )


@renewal_cli.command("decide")
def renewal_decide(
    ctx: typer.Context,
    application_id: int = typer.Argument(..., metavar="APP_ID"),
    approve: bool = typer.Option(False, "--approve"),
    reject: bool = typer.Option(False, "--reject"),
    reason: str | None = typer.Option(None, "--reason"),
    reviewer: str = typer.Option(..., "--reviewer", help="The reviewer's account (R-REN-6: own province only)"),
    json_out: JsonOut = False,
) -> None:
    """Approve or reject a renewal application (R-REN-5, R-REN-6)."""
    inv = Invocation.of(ctx)
    with inv.errors(json_out):
        if approve == reject:
            raise BadInput([problem("请指定 --approve 或 --reject 之一", "Give exactly one of --approve or --reject")])
    _application(
        inv,
        json_out,
        lambda a: renewal.decide_renewal(
            a.uow(), application_id, approve=approve, reason=reason, reviewer=reviewer, policy=a.policy, **moment(a)
        ),
    )


@user_cli.command("add")
def user_add(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME"),
    role: str = typer.Option(..., "--role", help="holder | reviewer | admin | employer"),
    registration_no: str | None = typer.Option(None, "--registration-no"),
    province: str | None = typer.Option(None, "--province", help="浙 or 33"),
    uscc: str | None = typer.Option(None, "--uscc", help="An employer's 统一社会信用代码 (18 characters)"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input"),
    json_out: JsonOut = False,
) -> None:
    """Create an account (password hashed with argon2id)."""
    inv = Invocation.of(ctx)
    with inv.errors(json_out):
        if not password_stdin:
            raise BadInput([problem("请用 --password-stdin 提供密码", "Give the password with --password-stdin")])
        password = sys.stdin.readline().rstrip("\r\n")
        a = inv.app()
        user = accounts.add_user(
            a.uow(),
            name,
            role=role,
            password=password,
            registration_no=registration_no,
            province=province,
            employer_uscc=uscc,
            actor=actor_name(None, a.settings),
            now=a.clock.now(),
        )
        inv.emit(
            {"username": user.username, "role": user.role, "province_code": user.province_code,
             "registration_no": user.registration_no, "employer_uscc": user.employer_uscc},
            f"{inv.say('已创建账号', 'Account created')}: {user.username} ({inv.term('role', user.role)})",
        )  # fmt: skip


@user_cli.command("reset-2fa")
def user_reset_2fa(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="USERNAME"),
    actor: Actor = None,
    json_out: JsonOut = False,
) -> None:
    """Reset a reviewer's or admin's second factor (TOTP and recovery codes): their sessions end and
    their next sign-in enrols again. An audit event (R-ACC-1)."""
    inv = Invocation.of(ctx)
    with inv.errors(json_out):
        a = inv.app()
        was = second_factor.reset(a.uow(), name, actor=actor_name(actor, a.settings), now=a.clock.now())
        said = inv.say("已重置第二重验证,下次登录时重新绑定", "Second factor reset; enrols again at the next sign-in")
        inv.emit({"username": name, "reset": True, "was_enrolled": was}, f"{said}: {name}")
