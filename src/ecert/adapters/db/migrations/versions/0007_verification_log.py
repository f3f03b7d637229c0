"""verification log

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26

``verification_events``: every public verification (QR page, API, PDF upload, CLI), written in
batches that are each sealed into the audit hash chain by one ``verification.batch`` event (R-ACC-1;
adapters/db/verification_log.py). Only the primary key is indexed: the table is written at the rate
of the public QR page, and the chain check reads it in id order. Hand-written (a new table only).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verification_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("serial", sa.String(length=16), nullable=True),
        sa.Column("registration_no", sa.String(length=20), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_events")),
    )


def downgrade() -> None:
    op.drop_table("verification_events")
