"""jobs: the re-sealing worklist, and procrastinate's queue on PostgreSQL

Create Date: 2026-11-26

``reseal_pending`` (both databases): see services/reseal.py. On PostgreSQL this revision also
creates the job queue's tables, types, functions and triggers with procrastinate's own schema SQL
(the version pinned in pyproject.toml), in the same transaction as the rest of the upgrade; a
database where they exist already (someone ran ``procrastinate schema --apply``) is left as it is.
Upgrading procrastinate to a version with schema changes takes a new revision that runs its
migration scripts (``procrastinate.schema.SchemaManager.get_migrations_path()``). SQLite has no
queue: jobs run in-process there (adapters/queue.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecert.adapters.db.migrations.shared import cascade_to, instant, primary_key, registration_id

revision = "0006"
down_revision = "0005"


def _has_queue(bind: sa.Connection) -> bool:
    return bind.exec_driver_sql("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").scalar_one() is True


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "reseal_pending",
        registration_id(),
        sa.Column("from_key_id", sa.String(length=64), nullable=False),
        sa.Column("plan_id", sa.String(length=32), nullable=False),
        instant("planned_at"),
        cascade_to("reseal_pending"),
        primary_key("reseal_pending", "registration_id"),
    )
    if bind.dialect.name == "postgresql" and not _has_queue(bind):
        from procrastinate.schema import SchemaManager

        # Through the driver, without parameters: psycopg then sends the script as it is (its
        # ``%`` and ``:`` are SQL, not placeholders), on the migration's own connection and transaction.
        bind.connection.driver_connection.execute(SchemaManager.get_schema())  # type: ignore[union-attr]


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql" and _has_queue(bind):
        names = bind.exec_driver_sql(
            "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate%%'"
        ).scalars()
        for fn in list(names):
            op.execute(f"DROP FUNCTION IF EXISTS {fn} CASCADE")
        for table in (
            "procrastinate_events",
            "procrastinate_periodic_defers",
            "procrastinate_jobs",
            "procrastinate_workers",
        ):
            op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
        for typ in ("procrastinate_job_to_defer_v1", "procrastinate_job_event_type", "procrastinate_job_status"):
            op.execute(f"DROP TYPE IF EXISTS {typ} CASCADE")
    op.drop_table("reseal_pending")
