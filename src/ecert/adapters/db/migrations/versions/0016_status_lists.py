"""signed status lists

Create Date: 2026-12-06

``status_lists``: each build of the signed status list (issue 14 item 2, adapters/status_list.py) — when
it was issued, until when it is current, the key that signed it, how many certificates it lists and
covers, and the compact JWS itself. Hand-written.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecert.adapters.db.migrations.shared import create_indexes, create_table_with_id, instant

revision = "0016"
down_revision = "0015"  # after the subscriptions


def upgrade() -> None:
    create_table_with_id(
        "status_lists",
        instant("issued_at"),
        instant("next_update"),
        sa.Column("kid", sa.String(length=8), nullable=False),
        sa.Column("listed", sa.Integer(), nullable=False),
        sa.Column("covered", sa.Integer(), nullable=False),
        sa.Column("jws", sa.Text(), nullable=False),
    )
    create_indexes("status_lists", "issued_at")


def downgrade() -> None:
    op.drop_table("status_lists")
