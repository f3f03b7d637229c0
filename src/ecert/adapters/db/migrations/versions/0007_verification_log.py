"""verification log

Create Date: 2026-11-26

``verification_events``: every public verification (QR page, API, PDF upload, CLI), written in
batches that are each sealed into the audit hash chain by one ``verification.batch`` event (R-ACC-1;
adapters/db/verification_log.py). Only the primary key is indexed: the table is written at the rate
of the public QR page, and the chain check reads it in id order. Hand-written (a new table only).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecert.adapters.db.migrations.shared import instant, primary_key, registration_no, serial

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.create_table(
        "verification_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        instant("at"),
        sa.Column("channel", sa.String(length=8), nullable=False),
        serial(nullable=True),
        registration_no(nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        primary_key("verification_events"),
    )


def downgrade() -> None:
    op.drop_table("verification_events")
