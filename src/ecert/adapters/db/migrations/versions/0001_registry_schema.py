"""registry schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_events_hash")),
    )
    op.create_table(
        "registrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration_no", sa.String(length=20), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_rare_chars", sa.Text(), nullable=True),
        sa.Column("gender", sa.String(length=1), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=False),
        sa.Column("employer_name", sa.Text(), nullable=False),
        sa.Column("employer_uscc", sa.String(length=18), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("status_basis", sa.Text(), nullable=True),
        sa.Column("status_effective", sa.Date(), nullable=True),
        sa.Column("ce_hours", sa.Integer(), nullable=True),
        sa.Column("data_version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registrations")),
        sa.UniqueConstraint("registration_no", name=op.f("uq_registrations_registration_no")),
    )
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registrations_birth_date"), ["birth_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_registrations_employer_uscc"), ["employer_uscc"], unique=False)
        batch_op.create_index(batch_op.f("ix_registrations_id_number"), ["id_number"], unique=False)
        batch_op.create_index(batch_op.f("ix_registrations_province_code"), ["province_code"], unique=False)

    op.create_table(
        "holder_images",
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_holder_images_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("registration_id", "kind", name=op.f("pk_holder_images")),
    )
    op.create_table(
        "renewal_applications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("specialty", sa.String(length=16), nullable=False),
        sa.Column("applied_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("ce_hours", sa.Integer(), nullable=True),
        sa.Column("committed", sa.Boolean(), nullable=False),
        sa.Column("decided_by", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_renewal_applications_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_renewal_applications")),
    )
    with op.batch_alter_table("renewal_applications", schema=None) as batch_op:
        batch_op.create_index(
            "uq_renewal_pending",
            ["registration_id", "specialty"],
            unique=True,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )

    op.create_table(
        "specialty_registrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("specialty", sa.String(length=16), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="valid", nullable=False),
        sa.Column("lapse_reason", sa.String(length=16), nullable=True),
        sa.Column("lapse_recorded_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_specialty_registrations_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_specialty_registrations")),
        sa.UniqueConstraint("registration_id", "specialty", name="uq_specialty_registrations_reg_specialty"),
    )
    with op.batch_alter_table("specialty_registrations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_specialty_registrations_valid_until"), ["valid_until"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("specialty_registrations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_specialty_registrations_valid_until"))

    op.drop_table("specialty_registrations")
    with op.batch_alter_table("renewal_applications", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_renewal_pending",
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )

    op.drop_table("renewal_applications")
    op.drop_table("holder_images")
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registrations_province_code"))
        batch_op.drop_index(batch_op.f("ix_registrations_id_number"))
        batch_op.drop_index(batch_op.f("ix_registrations_employer_uscc"))
        batch_op.drop_index(batch_op.f("ix_registrations_birth_date"))

    op.drop_table("registrations")
    op.drop_table("audit_events")
