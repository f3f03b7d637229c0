"""employer accounts and roster reports

Create Date: 2026-12-05

``users.employer_uscc``: an ``employer`` account's 统一社会信用代码 (GB 32100), the one employer whose
roster it may check (R-ACC-1); empty for every other role. ``roster_runs``: one roster report each
(services/roster.py) — who asked, for which employer and date, how far it got (``total``, ``done``
for the progress page), the uploaded file until the report is made, and the three signed report
files (JSON, sealed PDF, CSV) or the refusal. Keyed by a random id (not enumerable). Hand-written.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecert.adapters.db.migrations.shared import instant, primary_key

revision = "0013"
down_revision = "0012"  # after attest's 0012, merged into this branch; main's chain ends at 0009


def upgrade() -> None:
    op.add_column("users", sa.Column("employer_uscc", sa.String(length=18), nullable=True))
    op.create_table(
        "roster_runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("employer_uscc", sa.String(length=18), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("input_name", sa.Text(), nullable=False),
        sa.Column("input_data", sa.LargeBinary(), nullable=True),
        sa.Column("counts", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("report_json", sa.LargeBinary(), nullable=True),
        sa.Column("report_pdf", sa.LargeBinary(), nullable=True),
        sa.Column("report_csv", sa.LargeBinary(), nullable=True),
        instant("created_at"),
        instant("finished_at", nullable=True),
        primary_key("roster_runs"),
    )
    op.create_index(op.f("ix_roster_runs_username"), "roster_runs", ["username"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_roster_runs_username"), table_name="roster_runs")
    op.drop_table("roster_runs")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("employer_uscc")
