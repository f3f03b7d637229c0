"""subscriptions and the notification outbox

Create Date: 2026-12-06

Issue 14 item 1: relying parties subscribe to a certificate or a registration they verified and are
told, by a signed HTTP request (Standard Webhooks), when it is superseded, revoked, cancelled or
lapses.

``api_clients``: relying parties' programs the authority registered (a bearer token, only its SHA-256
kept). ``subscriptions``: who (``owner``: ``user:NAME`` for an employer account, ``client:NAME`` for an
API client), what (a registration, and a serial when only that certificate is watched, with its data
version), where (``url``), the signing secret (``whsec_…``: the server signs with it, so it is kept as
is, like the TOTP secrets) and the state of the URL's handshake. ``webhook_events``: the outbox, one
row per event and subscription, written in the transaction of the change
(adapters/db/registry.py ``supersede``, the sweep), with its delivery state. ``webhook_attempts``: the
delivery log, one row per request made. Hand-written.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecert.adapters.db.migrations.shared import cascade_to, create_indexes, instant, primary_key, serial

revision = "0015"
down_revision = "0014"  # after the Merkle audit log


def upgrade() -> None:
    op.create_table(
        "api_clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        instant("created_at"),
        sa.Column("disabled", sa.Boolean(), server_default="0", nullable=False),
        primary_key("api_clients"),
        sa.UniqueConstraint("name", name=op.f("uq_api_clients_name")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_api_clients_token_sha256")),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(length=80), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        serial(nullable=True),
        sa.Column("data_version", sa.Integer(), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        instant("created_at"),
        instant("verified_at", nullable=True),
        primary_key("subscriptions"),
        cascade_to("subscriptions"),
    )
    create_indexes("subscriptions", "owner", "registration_id")
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("subscription_id", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("cause", sa.String(length=24), nullable=True),
        sa.Column("registration_no", sa.String(length=20), nullable=False),
        serial(nullable=True),
        sa.Column("effective", sa.Date(), nullable=False),
        sa.Column("basis", sa.Text(), nullable=True),
        instant("occurred_at"),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        instant("next_attempt_at"),
        instant("locked_until", nullable=True),
        instant("delivered_at", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        primary_key("webhook_events"),
    )
    create_indexes("webhook_events", "subscription_id")
    op.create_index(op.f("ix_webhook_events_due"), "webhook_events", ["status", "next_attempt_at"], unique=False)
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("subscription_id", sa.String(length=32), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        instant("at"),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        primary_key("webhook_attempts"),
        cascade_to("webhook_attempts", "event_id", "webhook_events"),
    )
    create_indexes("webhook_attempts", "event_id", "subscription_id")


def downgrade() -> None:
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_events")
    op.drop_table("subscriptions")
    op.drop_table("api_clients")
