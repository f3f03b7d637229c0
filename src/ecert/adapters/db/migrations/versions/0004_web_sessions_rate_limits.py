"""web sessions rate limits

Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecert.adapters.db.migrations.shared import create_indexes, instant, primary_key

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(length=200), nullable=False),
        instant("window_start"),
        sa.Column("count", sa.Integer(), nullable=False),
        primary_key("rate_limits", "key"),
    )
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        instant("created_at"),
        instant("expires_at"),
        primary_key("web_sessions", "token_hash"),
    )
    create_indexes("web_sessions", "username")


def downgrade() -> None:
    op.drop_table("web_sessions")  # and its index
    op.drop_table("rate_limits")
