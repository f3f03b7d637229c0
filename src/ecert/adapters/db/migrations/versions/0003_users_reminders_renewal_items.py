"""users reminders renewal items

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=True),
        sa.Column("registration_no", sa.String(length=20), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("specialty", sa.String(length=16), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("window_opens", sa.Date(), nullable=False),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("queued_on", sa.Date(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_reminders_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminders")),
        sa.UniqueConstraint("registration_id", "specialty", "valid_until", name="uq_reminders_window"),
    )
    op.create_table(
        "renewal_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("specialty", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("previous_valid_until", sa.Date(), nullable=False),
        sa.Column("new_valid_until", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["renewal_applications.id"],
            name=op.f("fk_renewal_items_application_id_renewal_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_renewal_items_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_renewal_items")),
    )
    with op.batch_alter_table("renewal_items", schema=None) as batch_op:
        batch_op.create_index("ix_renewal_items_application", ["application_id"], unique=False)
        batch_op.create_index(
            "uq_renewal_item_pending",
            ["registration_id", "specialty"],
            unique=True,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )

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

    with op.batch_alter_table("renewal_items", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_renewal_item_pending",
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )
        batch_op.drop_index("ix_renewal_items_application")

    op.drop_table("renewal_items")
    op.drop_table("reminders")
    op.drop_table("users")
