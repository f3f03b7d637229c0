"""``ecert subscribe …``: subscriptions and signed notifications (issue 14 item 1), for the authority.

- ``subscribe add --serial S [--registration-no R] --url URL --owner client:NAME|user:NAME`` — subscribe
  on behalf of a relying party; the URL's handshake is made at once (``--no-handshake``: later, with
  ``subscribe verify``). Prints the signing secret (``whsec_…``) once.
- ``subscribe list [--owner O]``, ``subscribe remove ID``, ``subscribe verify ID`` (the handshake again)
- ``subscribe log ID`` — the delivery log: the subscription's events and every try
- ``subscribe redeliver (--event ID | --subscription ID)`` — queue an event again, or every dead one
- ``subscribe deliver`` — send what is due now, in this process (SQLite: the way deliveries run;
  PostgreSQL: the ``deliver`` job of ``jobs worker`` does it)
- ``subscribe client-add NAME`` — register an API client; prints its bearer token once
"""

from __future__ import annotations

from typing import Any

import typer

from ecert.domain.errors import BadInput, problem
from ecert.entrypoints.cli.common import Invocation, JsonOut, actor_name, signed
from ecert.entrypoints.jobs import definitions
from ecert.services import subscriptions as service

subscribe_cli = typer.Typer(help="变更通知订阅 / subscriptions to changes (signed webhooks)", no_args_is_help=True)


def _owner(value: str) -> str:
    kind, _, name = value.partition(":")
    if kind not in ("client", "user") or not name.strip():
        raise BadInput(
            [
                problem(
                    "--owner 应为 client:名称 或 user:用户名",
                    "--owner must be client:NAME or user:USERNAME",
                    column="owner",
                )
            ]
        )
    return f"{kind}:{name.strip()}"


@subscribe_cli.command("add")
def add(
    ctx: typer.Context,
    serial: str = typer.Option(..., "--serial", help="The certificate's serial (16 characters): what was verified"),
    registration_no: str | None = typer.Option(
        None, "--registration-no", help="Watch the whole registration (the serial must be one of its certificates)"
    ),
    url: str = typer.Option(..., "--url", help="Where notifications go (https://)"),
    owner: str = typer.Option(..., "--owner", help="client:NAME (an API client) or user:USERNAME (an employer)"),
    no_handshake: bool = typer.Option(False, "--no-handshake", help="Do not call the URL now (subscribe verify later)"),
    json_out: JsonOut = False,
) -> None:
    """Subscribe a relying party to a certificate or registration; prints the signing secret once."""
    inv = Invocation.of(ctx)
    with inv.errors(json_out):
        who = _owner(owner)
        a = inv.app()
        sender = a.webhook_sender()
        sub = service.subscribe(
            a.uow(), owner=who, serial=serial, registration_no=registration_no, url=url, check_url=sender.check_url,
            now=a.clock.now(),
        )  # fmt: skip
        out: dict[str, Any] = sub.as_dict(with_secret=True)
        if not no_handshake:
            shook = service.handshake(a.uow, sender, sub.id, owner=None)
            out.update(status=shook["status"], handshake=shook["handshake"])
        inv.emit(out, f"{sub.id} {out['status']} secret={sub.secret}")


@subscribe_cli.command("verify")
def verify(
    ctx: typer.Context, subscription_id: str = typer.Argument(..., metavar="ID"), json_out: JsonOut = False
) -> None:
    """Make the URL's handshake again: a right answer makes the subscription active."""
    inv = Invocation.of(ctx)
    with inv.command(json_out) as a:
        d = service.handshake(a.uow, a.webhook_sender(), subscription_id, owner=None)
        inv.emit(d, f"{d['id']} {d['status']} {d['handshake']['error'] or ''}".strip())


@subscribe_cli.command("list")
def list_cmd(
    ctx: typer.Context,
    owner: str | None = typer.Option(None, "--owner", help="Only this owner's"),
    json_out: JsonOut = False,
) -> None:
    """The subscriptions (without their secrets)."""
    inv = Invocation.of(ctx)
    with inv.command(json_out) as a:
        subs = service.list_subscriptions(a.uow(), _owner(owner) if owner else None)
        d = {"subscriptions": [s.as_dict() for s in subs]}
        inv.emit(
            d, "\n".join(f"{s.id} {s.status} {s.owner} {s.registration_no} {s.serial or '*'} {s.url}" for s in subs)
        )


@subscribe_cli.command("remove")
def remove(
    ctx: typer.Context,
    subscription_id: str = typer.Argument(..., metavar="ID"),
    actor: str | None = typer.Option(None, "--actor"),
    json_out: JsonOut = False,
) -> None:
    """Delete a subscription, its pending events and its delivery log."""
    inv = Invocation.of(ctx)
    with inv.command(json_out) as a:
        service.unsubscribe(a.uow(), subscription_id, owner=None, **signed(a, actor))
        inv.emit({"id": subscription_id, "removed": True}, f"{subscription_id} removed")


@subscribe_cli.command("log")
def log(
    ctx: typer.Context,
    subscription_id: str = typer.Argument(..., metavar="ID"),
    limit: int = typer.Option(100, "--limit", min=1, max=10000),
    json_out: JsonOut = False,
) -> None:
    """The delivery log: the subscription's events, newest first, each with every try."""
    inv = Invocation.of(ctx)
    with inv.command(json_out) as a:
        d = service.deliveries(a.uow(), subscription_id, owner=None, limit=limit)
        lines = [
            f"{e['event_id']} {e['type']} {e['status']} tries={e['attempts']} {e['last_error'] or ''}"
            for e in d["events"]
        ]
        inv.emit(d, "\n".join(lines) or "-")


@subscribe_cli.command("redeliver")
def redeliver(
    ctx: typer.Context,
    event: str | None = typer.Option(None, "--event", help="One event (delivered or dead) again"),
    subscription: str | None = typer.Option(None, "--subscription", help="Every dead event of this subscription"),
    actor: str | None = typer.Option(None, "--actor"),
    json_out: JsonOut = False,
) -> None:
    """Queue notifications again, with a fresh count of tries (the authority's redelivery)."""
    inv = Invocation.of(ctx)
    with inv.command(json_out) as a:
        n = service.redeliver(a.uow(), event_id=event, subscription_id=subscription, **signed(a, actor))
        inv.emit({"queued": n}, f"queued {n}")


@subscribe_cli.command("deliver")
def deliver(ctx: typer.Context, json_out: JsonOut = False) -> None:
    """Send the notifications due now, in this process."""
    inv = Invocation.of(ctx)
    with inv.command(json_out) as a:
        d = definitions.deliver(a)
        inv.emit(d, f"sent {d['sent']}, delivered {d['delivered']}, retrying {d['retrying']}, dead {d['dead']}")


@subscribe_cli.command("client-add")
def client_add(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME"),
    actor: str | None = typer.Option(None, "--actor"),
    json_out: JsonOut = False,
) -> None:
    """Register a relying party's API client; prints its bearer token once (only its SHA-256 is kept)."""
    inv = Invocation.of(ctx)
    with inv.command(json_out) as a:
        token = service.register_client(a.uow(), name, actor=actor_name(actor, a.settings), now=a.clock.now())
        inv.emit({"name": name.strip(), "owner": service.client_owner(name.strip()), "token": token}, token)
