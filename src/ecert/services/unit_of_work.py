"""The unit of work the use cases are written against (after cosmicpython's ``AbstractUnitOfWork``):
a transaction and the repositories inside it. Nothing is saved without ``commit()``; leaving the
``with`` block without it rolls back, so a refused request changes nothing.

``bootstrap`` picks the implementation: adapters/db/unit_of_work.py ``SqlUnitOfWork`` (SQLite or
PostgreSQL); the unit tests use an in-memory fake (tests/fakes.py). The repositories'
interfaces are in services/ports.py. Only the read models (services/views/) use the SQL unit of
work's ``connection``.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from ecert.services.ports import (
    AuditTrail,
    Certificates,
    ExternalIdentities,
    History,
    Registrations,
    Reminders,
    Renewals,
    ResealWorklist,
    RosterRuns,
    SecondFactors,
    StatusLists,
    Subscriptions,
    Users,
)


class AbstractUnitOfWork(Protocol):
    @property
    def registry(self) -> Registrations: ...

    @property
    def certificates(self) -> Certificates: ...

    @property
    def users(self) -> Users: ...

    @property
    def second_factors(self) -> SecondFactors: ...

    @property
    def audit(self) -> AuditTrail: ...

    @property
    def identities(self) -> ExternalIdentities: ...

    @property
    def renewals(self) -> Renewals: ...

    @property
    def reminders(self) -> Reminders: ...

    @property
    def reseal(self) -> ResealWorklist: ...

    @property
    def history(self) -> History: ...

    @property
    def rosters(self) -> RosterRuns: ...

    @property
    def subscriptions(self) -> Subscriptions: ...

    @property
    def status_lists(self) -> StatusLists: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...
