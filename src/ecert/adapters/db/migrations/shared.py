"""The shapes the revisions under ``versions/`` share: tables keyed by a surrogate id, the columns
several tables hold, instants, cascading references, plain and partial indexes, the PostgreSQL-only
steps. Names follow tables.NAMING, passed through
``op.f`` (already final: the naming convention is not applied again).

A revision must create the same schema for as long as it exists, whatever the code becomes later:
change nothing here that a revision uses; add a new helper instead."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem


def id_column() -> sa.Column[Any]:
    """The surrogate key ``id`` (:func:`create_table_with_id` puts it first and makes it the key)."""
    return sa.Column("id", sa.Integer(), nullable=False)


def registration_id() -> sa.Column[Any]:
    """The owning registration (its reference: :func:`cascade_to`)."""
    return sa.Column("registration_id", sa.Integer(), nullable=False)


def registration_no(*, nullable: bool) -> sa.Column[Any]:
    """A registration's number (20 characters); each use says whether it may be missing."""
    return sa.Column("registration_no", sa.String(length=20), nullable=nullable)


def serial(*, nullable: bool) -> sa.Column[Any]:
    """A certificate's serial (16 characters); each use says whether it may be missing."""
    return sa.Column("serial", sa.String(length=16), nullable=nullable)


def specialty() -> sa.Column[Any]:
    return sa.Column("specialty", sa.String(length=16), nullable=False)


def per_specialty() -> list[sa.Column[Any]]:
    """The owner and specialty of a row about one specialty of one registration."""
    return [registration_id(), specialty()]


def instant(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    """A point in time, with its zone (tables.UtcDateTime)."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def primary_key(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    """The primary key of ``table``: ``columns``, or ``id`` when none are named."""
    return sa.PrimaryKeyConstraint(*(columns or ("id",)), name=op.f(f"pk_{table}"))


def cascade_to(table: str, column: str = "registration_id", referred: str = "registrations") -> sa.ForeignKeyConstraint:
    """``table.column`` references ``referred.id``; its rows go when the referred row goes."""
    return sa.ForeignKeyConstraint(
        [column], [f"{referred}.id"], name=op.f(f"fk_{table}_{column}_{referred}"), ondelete="CASCADE"
    )


def create_table_with_id(name: str, *items: SchemaItem) -> None:
    """Create table ``name`` keyed by a surrogate ``id``: an INTEGER column before ``items``, and its primary
    key (whose place among the constraints does not matter: CREATE TABLE lists the primary key first)."""
    op.create_table(name, id_column(), *items, primary_key(name))


def create_indexes(table: str, *columns: str) -> None:
    """A plain index on each of ``columns``, named ``ix_<table>_<column>``. Dropping the table drops them."""
    for column in columns:
        op.create_index(op.f(f"ix_{table}_{column}"), table, [column], unique=False)


def create_unique_while_pending(table: str, name: str, *columns: str) -> None:
    """A partial unique index: at most one row with ``status = 'pending'`` for each value of ``columns``."""
    pending = "status = 'pending'"
    op.create_index(
        name, table, list(columns), unique=True, sqlite_where=sa.text(pending), postgresql_where=sa.text(pending)
    )


def on_postgresql() -> bool:
    """Whether the migration runs on PostgreSQL (some steps have no SQLite counterpart)."""
    return op.get_bind().dialect.name == "postgresql"
