"""Calendar arithmetic for the rules (R-DATE-1, R-DATE-2). Pure: dates come in, dates go out."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

# R-DATE-1: every date is a calendar date in China Standard Time. CST has no daylight saving,
# so a fixed offset is exact and needs no tz database.
CST = timezone(timedelta(hours=8), name="CST")


def cst_date(moment: datetime) -> date:
    """The calendar date in CST of an aware instant (R-DATE-1). Naive datetimes are refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetime: an instant needs a timezone to have a CST date")
    return moment.astimezone(CST).date()


def in_cst(moment: datetime) -> datetime:
    """An aware instant as China Standard Time, the way every instant is shown to people and in JSON
    (R-DATE-1): its date is then its CST date. Naive datetimes are refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetime: an instant needs a timezone to be shown in CST")
    return moment.astimezone(CST)


def add_years(d: date, years: int) -> date:
    """Same month and day ``years`` later; 29 February falls back to 28 February (R-DATE-2)."""
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 Feb into a common year
        return d.replace(year=d.year + years, day=28)


def anniversary_after(d: date, years: int) -> date:
    """The day a period of ``years`` full years starting on ``d`` is over: same month and day,
    and for 29 Feb in a common year, 1 March (so the period keeps all its days)."""
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 Feb into a common year
        return d.replace(year=d.year + years, month=3, day=1)


def birthday(birth_date: date, age: int) -> date:
    """The day on which a person born on ``birth_date`` reaches ``age`` (R-DATE-2)."""
    return add_years(birth_date, age)


def age_on(birth_date: date, today: date) -> int:
    """Completed years on ``today``, consistent with :func:`birthday` (29 Feb → 28 Feb)."""
    years = today.year - birth_date.year
    if birthday(birth_date, years) > today:
        years -= 1
    return years
