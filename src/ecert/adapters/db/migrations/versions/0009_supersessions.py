"""supersessions

Create Date: 2026-12-05

``supersessions``: when, why and by whom each change of printed data superseded a registration's
earlier certificates (R-CHG-1), one row per data version reached. Written by the one function that
changes ``registrations.data_version`` (adapters/db/registry.py ``supersede``), in the same
transaction. Versions reached before this migration have no row: when and why they changed was not
recorded. Keyed by (registration, version reached), with no foreign key: an import records up to a
million rows in one statement, and PostgreSQL's per-row reference check doubled that cost.
Hand-written (a new table only).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecert.adapters.db.migrations.shared import instant, primary_key

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.create_table(
        "supersessions",
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("to_version", sa.Integer(), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=False),
        instant("at"),
        sa.Column("cause", sa.String(length=24), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        primary_key("supersessions", "registration_id", "to_version"),
    )


def downgrade() -> None:
    op.drop_table("supersessions")
