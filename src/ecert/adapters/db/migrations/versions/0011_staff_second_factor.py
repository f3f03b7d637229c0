"""staff second factor

Create Date: 2026-12-06

The authority staff's second factor (issue 17, R-ACC-1): TOTP (RFC 6238). ``users`` gains the
staff member's TOTP secret (Base32; written before enrolment is confirmed, so a secret without
``totp_enrolled_at`` is an enrolment under way), when the enrolment was confirmed, and the last
time step a code was accepted for (a code of that step or an earlier one is a replay and refused).
``staff_recovery_codes``: the single-use recovery codes, SHA-256 of each (random, 50 bits: no
slow hash needed), when used. ``web_sessions.second_factor_enrolled_at``: the enrolment a session
passed the second factor against; a session counts as passed only while it equals the user's
``totp_enrolled_at``, so a reset (or a new enrolment) ends every earlier passage at once.
Hand-written (new columns and one new table).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecert.adapters.db.migrations.shared import create_indexes, create_table_with_id, instant

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
        batch_op.add_column(instant("totp_enrolled_at", nullable=True))
        batch_op.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.add_column(instant("second_factor_enrolled_at", nullable=True))
    create_table_with_id(
        "staff_recovery_codes",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        instant("created_at"),
        instant("used_at", nullable=True),
    )
    create_indexes("staff_recovery_codes", "username")


def downgrade() -> None:
    op.drop_table("staff_recovery_codes")  # and its index
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_column("second_factor_enrolled_at")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_enrolled_at")
        batch_op.drop_column("totp_secret")
