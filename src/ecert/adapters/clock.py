"""The clock (R-DATE-1): today's date in China Standard Time; an explicit override for drills."""

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
        """An aware instant for records (audit, decisions). With an override, the override's date at
        the current CST time of day, so drills on past dates record consistent timestamps."""
        real = datetime.now(CST)
        if self.fixed_today is None:
            return real
        return real.replace(year=self.fixed_today.year, month=self.fixed_today.month, day=self.fixed_today.day)
