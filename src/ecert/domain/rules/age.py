"""Age limit (R-DATE-2): the 65th birthday is the same month and day 65 years on; 29 Feb → 28 Feb."""

from __future__ import annotations

from datetime import date

from ecert.domain.dates import birthday
from ecert.domain.policy import Policy


def age_limit_date(birth_date: date, policy: Policy) -> date:
    """The day the holder turns ``policy.age_limit_years`` (65 by default) — R-DATE-2."""
    return birthday(birth_date, policy.age_limit_years)


def has_reached_age_limit(birth_date: date, today: date, policy: Policy) -> bool:
    """True from the 65th birthday itself on (R-USE-4, R-REN-5: "on or after")."""
    return today >= age_limit_date(birth_date, policy)
