"""users reminders renewal items

Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecert.adapters.db.migrations.shared import (
    cascade_to,
    create_table_with_id,
    create_unique_while_pending,
    instant,
    per_specialty,
    registration_id,
    registration_no,
    specialty,
)

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    create_table_with_id(
        "users",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=True),
        registration_no(nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default="0", nullable=False),
        instant("created_at"),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    create_table_with_id(
        "reminders",
        *per_specialty(),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("window_opens", sa.Date(), nullable=False),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("queued_on", sa.Date(), nullable=False),
        instant("sent_at", nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        cascade_to("reminders"),
        sa.UniqueConstraint("registration_id", "specialty", "valid_until", name="uq_reminders_window"),
    )
    create_table_with_id(
        "renewal_items",
        sa.Column("application_id", sa.Integer(), nullable=False),
        registration_id(),
        specialty(),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("previous_valid_until", sa.Date(), nullable=False),
        sa.Column("new_valid_until", sa.Date(), nullable=True),
        cascade_to("renewal_items", "application_id", "renewal_applications"),
        cascade_to("renewal_items"),
    )
    op.create_index("ix_renewal_items_application", "renewal_items", ["application_id"], unique=False)
    create_unique_while_pending("renewal_items", "uq_renewal_item_pending", "registration_id", "specialty")

    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", sa.Text(), nullable=True))

    with op.batch_alter_table("renewal_applications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("applied_by", sa.Text(), nullable=True))
        batch_op.drop_index(batch_op.f("uq_renewal_pending"), sqlite_where=sa.text("status = 'pending'"))
        batch_op.create_index(batch_op.f("ix_renewal_applications_registration_id"), ["registration_id"], unique=False)
        batch_op.drop_column("specialty")


def downgrade() -> None:
    with op.batch_alter_table("renewal_applications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("specialty", sa.VARCHAR(length=16), nullable=False))
        batch_op.drop_index(batch_op.f("ix_renewal_applications_registration_id"))
        batch_op.create_index(
            batch_op.f("uq_renewal_pending"),
            ["registration_id", "specialty"],
            unique=True,
            sqlite_where=sa.text("status = 'pending'"),
        )
        batch_op.drop_column("applied_by")

    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_column("email")

    # Dropping a table drops its indexes.
    for table in ("renewal_items", "reminders", "users"):
        op.drop_table(table)
