"""Daily windows: membership and next start, in Moscow and UTC, crossing midnight or not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadgen.windows import DailyWindow

MSK_NIGHT = DailyWindow.parse("00:00-07:59", "Europe/Moscow")
UTC_NIGHT = DailyWindow.parse("20:00-05:59", "UTC")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "inside"),
    [
        (utc(2026, 11, 25, 21, 0), True),  # 00:00 MSK
        (utc(2026, 11, 26, 4, 59, 59), True),  # 07:59:59 MSK
        (utc(2026, 11, 26, 5, 0), False),  # 08:00 MSK
        (utc(2026, 11, 25, 20, 59, 59), False),  # 23:59:59 MSK
    ],
)
def test_moscow_night_membership(now: datetime, inside: bool) -> None:
    assert MSK_NIGHT.contains(now) is inside


def test_next_start_is_now_inside_and_next_opening_outside() -> None:
    inside = utc(2026, 11, 26, 1, 0)
    assert MSK_NIGHT.next_start(inside) == inside
    assert MSK_NIGHT.next_start(utc(2026, 11, 26, 12, 0)) == utc(2026, 11, 26, 21, 0)


@pytest.mark.parametrize(
    ("now", "inside", "next_start"),
    [
        (utc(2026, 11, 26, 19, 59), False, utc(2026, 11, 26, 20, 0)),
        (utc(2026, 11, 26, 23, 30), True, utc(2026, 11, 26, 23, 30)),
        (utc(2026, 11, 27, 3, 0), True, utc(2026, 11, 27, 3, 0)),
        (utc(2026, 11, 27, 6, 0), False, utc(2026, 11, 27, 20, 0)),
    ],
)
def test_window_crossing_midnight(now: datetime, inside: bool, next_start: datetime) -> None:
    assert UTC_NIGHT.contains(now) is inside
    assert UTC_NIGHT.next_start(now) == next_start


def test_occurrence_bounds_cross_midnight() -> None:
    opens, closes = UTC_NIGHT.occurrence(utc(2026, 11, 27, 3, 0))
    assert (opens, closes) == (utc(2026, 11, 26, 20, 0), utc(2026, 11, 27, 6, 0))


def test_naive_datetime_rejected() -> None:
    with pytest.raises(ValueError, match="naive"):
        MSK_NIGHT.contains(datetime(2026, 1, 1))


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)))
def test_next_start_is_inside_and_not_in_past(now: datetime) -> None:
    for window in (MSK_NIGHT, UTC_NIGHT, DailyWindow.parse("09:00-18:00", "Europe/Moscow")):
        start = window.next_start(now)
        assert start >= now
        assert start - now < timedelta(days=1)
        assert window.contains(start)
