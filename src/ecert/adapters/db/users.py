"""Accounts (R-ACC-1): holders, provincial reviewers, ministry admins, employers. Passwords as argon2id hashes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from ecert.adapters.db.tables import users


@dataclass(frozen=True)
class User:
    username: str
    role: str  # holder | reviewer | admin | employer
    province_code: str | None
    registration_no: str | None
    password_hash: str
    disabled: bool
    employer_uscc: str | None = None  # an employer's 统一社会信用代码: the roster it may check (R-ACC-1)


def user_of(row: Any) -> User:
    """The account of a row holding the ``users`` columns."""
    return User(
        row.username, row.role, row.province_code, row.registration_no, row.password_hash, row.disabled,
        row.employer_uscc,
    )  # fmt: skip


class SqlUsers:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, username: str) -> User | None:
        row = self.conn.execute(select(users).where(users.c.username == username)).one_or_none()
        if row is None:
            return None
        return user_of(row)

    def holder_of(self, registration_no: str) -> User | None:
        """The holder account of a registration, if it has one (the oldest, should there be several)."""
        row = self.conn.execute(
            select(users)
            .where(users.c.registration_no == registration_no, users.c.role == "holder")
            .order_by(users.c.id)
            .limit(1)
        ).one_or_none()
        if row is None:
            return None
        return User(row.username, row.role, row.province_code, row.registration_no, row.password_hash, row.disabled)

    def add(self, user: User, now: datetime) -> None:
        self.conn.execute(
            insert(users).values(
                username=user.username,
                role=user.role,
                province_code=user.province_code,
                registration_no=user.registration_no,
                password_hash=user.password_hash,
                disabled=user.disabled,
                employer_uscc=user.employer_uscc,
                created_at=now.astimezone(UTC),
            )
        )
