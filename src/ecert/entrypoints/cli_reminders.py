"""``ecert reminders …``: the renewal reminder outbox (issue "Renewal, changes, revocation and lapse")."""

from __future__ import annotations

import typer

reminders_cli = typer.Typer(help="续期提醒 / renewal reminders", no_args_is_help=True)
