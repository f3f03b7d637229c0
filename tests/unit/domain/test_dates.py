"""R-DATE-1 (CST calendar dates) and R-DATE-2 (anniversaries, 29 February → 28 February)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone, tzinfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecert.domain.dates import CST, add_years, age_on, birthday, cst_date


class _NoOffset(tzinfo):
    """An attached tzinfo that does not know its offset: still not an instant."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None


# --- R-DATE-1 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2021, 6, 30, 16, 30, tzinfo=UTC), date(2021, 7, 1)),
        (datetime(2021, 6, 30, 15, 59, 59, 999999, tzinfo=UTC), date(2021, 6, 30)),
        (datetime(2021, 6, 30, 16, 0, tzinfo=UTC), date(2021, 7, 1)),
        (datetime(2021, 7, 1, 0, 30, tzinfo=CST), date(2021, 7, 1)),
        (datetime(2021, 6, 30, 23, 59, tzinfo=CST), date(2021, 6, 30)),
        # 11:30 in New York (UTC-4 in summer) is 23:30 CST the same day; 12:30 is already the next day.
        (datetime(2021, 6, 30, 11, 30, tzinfo=timezone(timedelta(hours=-4))), date(2021, 6, 30)),
        (datetime(2021, 6, 30, 12, 30, tzinfo=timezone(timedelta(hours=-4))), date(2021, 7, 1)),
        # The year boundary is crossed in CST too.
        (datetime(2021, 12, 31, 16, 0, tzinfo=UTC), date(2022, 1, 1)),
    ],
)
def test_cst_date_is_the_calendar_date_at_utc_plus_8__R_DATE_1(moment: datetime, expected: date) -> None:
    assert cst_date(moment) == expected


def test_cst_is_a_fixed_utc_plus_8_offset__R_DATE_1() -> None:
    assert CST.utcoffset(None) == timedelta(hours=8)


@pytest.mark.parametrize("moment", [datetime(2021, 6, 30, 16, 30), datetime(2021, 6, 30, 16, 30, tzinfo=_NoOffset())])
def test_cst_date_refuses_naive_datetimes__R_DATE_1(moment: datetime) -> None:
    with pytest.raises(ValueError, match="naive"):
        cst_date(moment)


@given(st.datetimes(min_value=datetime(1950, 1, 2), max_value=datetime(2099, 12, 30), timezones=st.timezones()))
def test_cst_date_agrees_with_the_utc_instant_shifted_by_8_hours__R_DATE_1(moment: datetime) -> None:
    assert cst_date(moment) == (moment.astimezone(UTC).replace(tzinfo=None) + timedelta(hours=8)).date()


# --- R-DATE-2 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "expected"),
    [
        (date(1960, 5, 10), date(2025, 5, 10)),
        (date(1960, 2, 29), date(2025, 2, 28)),  # 29 Feb → 28 Feb
        (date(1956, 2, 29), date(2021, 2, 28)),
        (date(1960, 2, 28), date(2025, 2, 28)),
        (date(1960, 3, 1), date(2025, 3, 1)),
        (date(1959, 12, 31), date(2024, 12, 31)),
        (date(1960, 1, 1), date(2025, 1, 1)),
    ],
)
def test_65th_birthday_is_same_month_and_day_29_feb_gives_28_feb__R_DATE_2(birth: date, expected: date) -> None:
    assert birthday(birth, 65) == expected


@pytest.mark.parametrize(
    ("start", "years", "expected"),
    [
        (date(2024, 2, 29), 1, date(2025, 2, 28)),
        (date(2024, 2, 29), 3, date(2027, 2, 28)),
        (date(2024, 2, 29), 4, date(2028, 2, 29)),  # a leap year keeps 29 Feb
        (date(2021, 7, 1), 3, date(2024, 7, 1)),
        (date(2023, 2, 28), 1, date(2024, 2, 28)),  # never moves onto 29 Feb
        (date(2021, 7, 1), 0, date(2021, 7, 1)),
    ],
)
def test_add_years_anniversary_with_29_feb_fallback__R_DATE_2(start: date, years: int, expected: date) -> None:
    assert add_years(start, years) == expected


@pytest.mark.parametrize(
    ("birth", "today", "age"),
    [
        (date(1960, 5, 10), date(2025, 5, 9), 64),
        (date(1960, 5, 10), date(2025, 5, 10), 65),
        (date(1960, 5, 10), date(2025, 5, 11), 65),
        (date(1960, 2, 29), date(2025, 2, 27), 64),
        (date(1960, 2, 29), date(2025, 2, 28), 65),  # R-DATE-2: the birthday is 28 Feb
        (date(1960, 2, 29), date(2025, 3, 1), 65),
        (date(2000, 2, 29), date(2028, 2, 28), 27),  # leap year: the birthday is 29 Feb itself
        (date(2000, 2, 29), date(2028, 2, 29), 28),
        (date(1980, 5, 10), date(1980, 5, 10), 0),
    ],
)
def test_age_on_counts_completed_years__R_DATE_2(birth: date, today: date, age: int) -> None:
    assert age_on(birth, today) == age


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2010, 12, 31)), st.integers(min_value=0, max_value=100))
def test_age_on_is_consistent_with_birthday__R_DATE_2(birth: date, years: int) -> None:
    day = birthday(birth, years)
    assert age_on(birth, day) == years
    assert age_on(birth, day + timedelta(days=1)) == years
    if years > 0:
        assert age_on(birth, day - timedelta(days=1)) == years - 1


@given(
    st.dates(min_value=date(1900, 1, 1), max_value=date(2010, 12, 31)),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2110, 12, 31)),
)
def test_age_on_lies_between_consecutive_birthdays__R_DATE_2(birth: date, today: date) -> None:
    age = age_on(birth, today)
    if today >= birth:
        assert birthday(birth, age) <= today < birthday(birth, age + 1)
