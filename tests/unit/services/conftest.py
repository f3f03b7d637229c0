"""Fixtures of the use-case tests on the in-memory unit of work (tests/fakes.py): accounts and the default
policy. No database: these run in milliseconds."""

from __future__ import annotations

import pytest

from ecert.adapters.db.users import User
from ecert.config import load_policy
from ecert.domain.policy import Policy
from fakes import FakeDatabase, FakeUnitOfWork


@pytest.fixture
def policy() -> Policy:
    return load_policy()


@pytest.fixture
def db() -> FakeDatabase:
    """A registry with reviewers of 浙江 (33) and 北京 (11) and a ministry admin."""
    data = FakeDatabase()
    for user in (
        User("rev_zj", "reviewer", "33", None, "-", False),
        User("rev_bj", "reviewer", "11", None, "-", False),
        User("admin", "admin", None, None, "-", False),
    ):
        data.users[user.username] = user
    return data


@pytest.fixture
def uow(db: FakeDatabase) -> FakeUnitOfWork:
    return FakeUnitOfWork(db)
