"""The composition root: the one place that picks concrete adapters from the settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Engine

from ecert.adapters.clock import Clock
from ecert.adapters.db.engine import make_engine
from ecert.config import Settings, load_policy
from ecert.domain.policy import Policy
from ecert.services.unit_of_work import SqlUnitOfWork


@dataclass
class App:
    settings: Settings
    clock: Clock
    policy: Policy
    _engine: Engine | None = field(default=None, repr=False)

    @cached_property
    def engine(self) -> Engine:
        return self._engine or make_engine(self.settings.database_url)

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)


def bootstrap(settings: Settings, engine: Engine | None = None) -> App:
    """Validate the policy at start (a bad policy file fails here, not mid-request)."""
    return App(
        settings=settings,
        clock=Clock(settings.today_override),
        policy=load_policy(settings.policy_file),
        _engine=engine,
    )
