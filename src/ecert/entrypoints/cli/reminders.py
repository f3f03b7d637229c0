"""``ecert reminders …``: the renewal reminder outbox (issue "Renewal, changes, revocation and lapse")."""

from __future__ import annotations

import typer

from ecert.adapters.email import MailConfigError, SmtpMailer
from ecert.bootstrap import make_mailer
from ecert.config import Settings
from ecert.domain.errors import BadInput, problem
from ecert.entrypoints.cli.common import Actor, Invocation, JsonOut, actor_name, stamp
from ecert.services import reminders

reminders_cli = typer.Typer(help="续期提醒 / renewal reminders", no_args_is_help=True)


@reminders_cli.command("queue")
def reminders_queue(
    ctx: typer.Context,
    days: int = typer.Option(
        30, "--days", help=f"Queue windows opening within this many days (0–{reminders.MAX_DAYS})"
    ),
    actor: Actor = None,
    json_out: JsonOut = False,
) -> None:
    """Queue one reminder per renewal window opening soon (R-REN-1); running it again queues nothing new."""
    Invocation.of(ctx).perform(
        lambda a: reminders.queue_reminders(a.uow(), days=days, policy=a.policy, **stamp(a, actor)),
        lambda d: f"已加入提醒 {d['queued']} 条(共 {d['checked']} 个注册专业在期内)/ queued {d['queued']}",
        json_out,
    )


def _mailer(settings: Settings) -> SmtpMailer:
    try:
        return make_mailer(settings)
    except MailConfigError as exc:
        if exc.problem == "missing":
            zh, en = f"未设置环境变量 {exc.variable}", f"Environment variable {exc.variable} is not set"
        else:
            zh = f"环境变量 {exc.variable} 的值无效:“{exc.value}”"
            en = f"Environment variable {exc.variable} has an invalid value: {exc.value!r}"
        raise BadInput([problem(zh, en, column=exc.variable)]) from exc


@reminders_cli.command("send")
def reminders_send(
    ctx: typer.Context,
    limit: int = typer.Option(1000, "--limit", help="Send at most this many messages"),
    actor: Actor = None,
    json_out: JsonOut = False,
) -> None:
    """Send queued reminders by SMTP (ECERT_SMTP_HOST, ECERT_SMTP_PORT, ECERT_SMTP_FROM, ECERT_SMTP_STARTTLS,
    ECERT_SMTP_USER, ECERT_SMTP_PASSWORD). A reminder is marked sent only once the server accepted it."""
    inv = Invocation.of(ctx)
    with inv.errors(json_out):
        a = inv.app()
        mailer = _mailer(a.settings)
        with mailer:
            d = reminders.send_reminders(
                a.uow, mailer, now=a.clock.now(), policy=a.policy, limit=limit, actor=actor_name(actor, a.settings)
            )
        human = f"已发送 {d['sent']} 条,失败 {d['failed']} 条,无邮箱 {d['skipped_no_email']} 条 / sent {d['sent']}"
        inv.emit(d, human)


@reminders_cli.command("list")
def reminders_list(
    ctx: typer.Context,
    pending: bool = typer.Option(False, "--pending", help="Only reminders not sent yet"),
    json_out: JsonOut = False,
) -> None:
    """The reminder outbox."""
    inv = Invocation.of(ctx)
    with inv.command(json_out) as a:
        rows = reminders.list_reminders(a.uow(), pending=pending)
        lines = [
            f"{x['registration_no']}  {x['specialty']}  {x['valid_until']}  opens {x['window_opens']}  "
            f"{x['email'] or '-'}  {x['sent_at'] or inv.term('status.reminder', 'unsent')}  attempts={x['attempts']}"
            for x in rows
        ]
        inv.emit({"reminders": rows, "count": len(rows)}, "\n".join(lines) or "(无 / none)")
