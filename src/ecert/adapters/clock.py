"""The clock (R-DATE-1): today's date in China Standard Time; an explicit override for drills.

What an overridden today means — one answer, used everywhere: with ``ECERT_TODAY=D`` the clock's
China-time **date** is D and its **time of day** is the real China time of day. So ``today()`` is D
at every hour, and ``now()`` is an instant whose CST date is D (order and durations within a day stay
real). Instants are stored in UTC (``adapters.db.tables.UtcDateTime``) and shown in CST
(``domain.dates.in_cst``); the date of an instant is always its CST date (``domain.dates.cst_date``),
never the date of its UTC form, which between 00:00 and 08:00 CST is the day before. A drill that runs
past real midnight starts again at 00:00 of D: under an override the date never moves.
``tests/conftest.py`` runs the ``wall_clock`` tests at 00:30, 07:59, 08:00 and 23:59 CST to prove it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from ecert.domain.dates import CST


@dataclass(frozen=True)
class Clock:
    """``today()`` is the CST date of the system clock unless ``fixed_today`` is set (ECERT_TODAY)."""

    fixed_today: date | None = None

    def today(self) -> date:
        if self.fixed_today is not None:
            return self.fixed_today
        return datetime.now(CST).date()

    def now(self) -> datetime:
        """An aware instant (CST) for records: audit, decisions, deliveries. With an override: the
        override's date at the real CST time of day (see the module docstring)."""
        real = datetime.now(CST)
        if self.fixed_today is None:
            return real
        return real.replace(year=self.fixed_today.year, month=self.fixed_today.month, day=self.fixed_today.day)
