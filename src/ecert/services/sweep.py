"""The scheduled lapse sweep (R-LAPSE-1, R-REN-3): set-based and idempotent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ecert.domain.policy import Policy
from ecert.domain.rules.age import latest_birth_date_reaching_limit_by
from ecert.services.unit_of_work import AbstractUnitOfWork


@dataclass(frozen=True)
class SweepResult:
    lapsed: int
    lapsed_age: int
    lapsed_no_renewal: int
    checked: int
    today: date

    def as_dict(self) -> dict[str, object]:
        return {
            "lapsed": self.lapsed,
            "checked": self.checked,
            "by_reason": {"age_limit": self.lapsed_age, "no_renewal": self.lapsed_no_renewal},
            "today": self.today.isoformat(),
        }


def sweep(uow: AbstractUnitOfWork, *, today: date, now: datetime, policy: Policy, actor: str = "system") -> SweepResult:
    """Lapse what rules.lapse.lapse_due says has lapsed by ``today``. Running it twice lapses nothing more.

    Past the 65th birthday means the 65th birthday is on or before yesterday (validity is capped at
    the birthday itself, R-REN-5), hence the cutoff for ``today - 1``.
    """
    cutoff = latest_birth_date_reaching_limit_by(today - timedelta(days=1), policy)
    with uow:
        aged, ended, checked = uow.registry.sweep(
            today=today, age_birth_cutoff=cutoff, lapse_start=policy.lapse_start, now=now
        )
        result = SweepResult(aged + ended, aged, ended, checked, today)
        if result.lapsed:
            uow.audit.append(at=now, actor=actor, action="registry.sweep", subject=None, payload=result.as_dict())
        uow.commit()
    return result
