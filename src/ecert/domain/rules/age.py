"""Age limit (R-DATE-2): the 65th birthday is the same month and day 65 years on; 29 Feb → 28 Feb."""

from __future__ import annotations

from calendar import isleap
from datetime import date

from ecert.domain.dates import add_years, birthday
from ecert.domain.policy import Policy


def age_limit_date(birth_date: date, policy: Policy) -> date:
    """The day the holder turns ``policy.age_limit_years`` (65 by default) — R-DATE-2."""
    return birthday(birth_date, policy.age_limit_years)


def has_reached_age_limit(birth_date: date, today: date, policy: Policy) -> bool:
    """True from the 65th birthday itself on (R-USE-4, R-REN-5: "on or after")."""
    return today >= age_limit_date(birth_date, policy)


def latest_birth_date_reaching_limit_by(day: date, policy: Policy) -> date:
    """The latest birth date whose 65th birthday (R-DATE-2) falls on or before ``day``.

    Lets a set-based query ask ``birth_date <= cutoff`` instead of doing calendar arithmetic in SQL.
    Someone born on 29 Feb of a leap year turns 65 on 28 Feb, so when ``day`` is 28 Feb of a
    common year and the year 65 years back was a leap year, 29 Feb is included too.
    """
    years = policy.age_limit_years
    cutoff = add_years(day, -years)
    if day.month == 2 and day.day == 28 and not isleap(day.year) and isleap(cutoff.year):
        cutoff = cutoff.replace(day=29)
    return cutoff
