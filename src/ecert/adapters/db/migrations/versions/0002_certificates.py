"""certificates

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "certificates",
        sa.Column("serial", sa.String(length=16), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("registration_no", sa.String(length=20), nullable=False),
        sa.Column("data_version", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(length=120), nullable=False),
        sa.Column("usage_from", sa.Date(), nullable=False),
        sa.Column("usage_until", sa.Date(), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("content_digest", sa.String(length=64), nullable=False),
        sa.Column("seal_key_id", sa.String(length=64), nullable=False),
        sa.Column("qr_kid", sa.String(length=8), nullable=False),
        sa.Column("confirmed_by", sa.Text(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_certificates_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_certificates")),
        sa.UniqueConstraint("identifier", name=op.f("uq_certificates_identifier")),
    )
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_certificates_registration_id"), ["registration_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certificates_registration_id"))

    op.drop_table("certificates")
