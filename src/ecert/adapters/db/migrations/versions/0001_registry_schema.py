"""registry schema

Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecert.adapters.db.migrations.shared import (
    cascade_to,
    create_indexes,
    create_table_with_id,
    create_unique_while_pending,
    instant,
    per_specialty,
    primary_key,
    registration_id,
    registration_no,
)

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_table_with_id(
        "audit_events",
        instant("at"),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_events_hash")),
    )
    create_table_with_id(
        "registrations",
        registration_no(nullable=False),
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
        instant("created_at"),
        instant("updated_at"),
        sa.UniqueConstraint("registration_no", name=op.f("uq_registrations_registration_no")),
    )
    create_indexes("registrations", "birth_date", "employer_uscc", "id_number", "province_code")

    op.create_table(
        "holder_images",
        registration_id(),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        instant("updated_at"),
        cascade_to("holder_images"),
        primary_key("holder_images", "registration_id", "kind"),
    )
    create_table_with_id(
        "renewal_applications",
        *per_specialty(),
        sa.Column("applied_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("ce_hours", sa.Integer(), nullable=True),
        sa.Column("committed", sa.Boolean(), nullable=False),
        sa.Column("decided_by", sa.Text(), nullable=True),
        instant("decided_at", nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        instant("created_at"),
        cascade_to("renewal_applications"),
    )
    create_unique_while_pending("renewal_applications", "uq_renewal_pending", "registration_id", "specialty")

    create_table_with_id(
        "specialty_registrations",
        *per_specialty(),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="valid", nullable=False),
        sa.Column("lapse_reason", sa.String(length=16), nullable=True),
        sa.Column("lapse_recorded_on", sa.Date(), nullable=True),
        cascade_to("specialty_registrations"),
        sa.UniqueConstraint("registration_id", "specialty", name="uq_specialty_registrations_reg_specialty"),
    )
    create_indexes("specialty_registrations", "valid_until")


def downgrade() -> None:
    # Dropping a table drops its indexes.
    for table in ("specialty_registrations", "renewal_applications", "holder_images", "registrations", "audit_events"):
        op.drop_table(table)
