"""certificates

Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecert.adapters.db.migrations.shared import (
    cascade_to,
    create_indexes,
    instant,
    primary_key,
    registration_id,
    registration_no,
    serial,
)

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "certificates",
        serial(nullable=False),
        registration_id(),
        registration_no(nullable=False),
        sa.Column("data_version", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(length=120), nullable=False),
        sa.Column("usage_from", sa.Date(), nullable=False),
        sa.Column("usage_until", sa.Date(), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("content_digest", sa.String(length=64), nullable=False),
        sa.Column("seal_key_id", sa.String(length=64), nullable=False),
        sa.Column("qr_kid", sa.String(length=8), nullable=False),
        sa.Column("confirmed_by", sa.Text(), nullable=False),
        instant("confirmed_at"),
        instant("issued_at"),
        cascade_to("certificates"),
        primary_key("certificates", "serial"),
        sa.UniqueConstraint("identifier", name=op.f("uq_certificates_identifier")),
    )
    create_indexes("certificates", "registration_id")


def downgrade() -> None:
    op.drop_table("certificates")  # and its index
