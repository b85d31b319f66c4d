"""Scheduling inside night windows: Moscow and UTC windows, windows crossing midnight, overflow, hourly quota."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from leadgen.planning import effective_step, schedule_slots
from leadgen.windows import DailyWindow

MSK = ZoneInfo("Europe/Moscow")
S10 = timedelta(seconds=10)


def msk(*args: int) -> datetime:
    return datetime(*args, tzinfo=MSK).astimezone(UTC)


def test_daytime_plan_goes_to_the_coming_night_moscow() -> None:
    window = DailyWindow.parse("00:00-07:59", "Europe/Moscow")
    slots = schedule_slots(3, now=msk(2026, 11, 26, 14, 30), window=window, step=S10)
    assert slots == [msk(2026, 11, 27, 0, 0, 0), msk(2026, 11, 27, 0, 0, 10), msk(2026, 11, 27, 0, 0, 20)]
    assert all(s.tzinfo is UTC for s in slots)


def test_inside_the_window_starts_now() -> None:
    window = DailyWindow.parse("00:00-07:59", "Europe/Moscow")
    now = msk(2026, 11, 27, 3, 15, 7)
    assert schedule_slots(1, now=now, window=window, step=S10) == [now]


def test_utc_window_crossing_midnight() -> None:
    window = DailyWindow.parse("20:00-05:59", "UTC")
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    slots = schedule_slots(2, now=now, window=window, step=timedelta(hours=5))
    assert slots == [datetime(2026, 11, 26, 20, 0, tzinfo=UTC), datetime(2026, 11, 27, 1, 0, tzinfo=UTC)]
    # after midnight, still inside the window that opened yesterday
    now = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)
    assert schedule_slots(1, now=now, window=window, step=S10) == [now]


def test_full_window_overflows_into_the_next_night() -> None:
    window = DailyWindow.parse("00:00-00:59", "Europe/Moscow")  # one hour = 360 slots of 10 s
    slots = schedule_slots(362, now=msk(2026, 11, 26, 12, 0), window=window, step=S10)
    assert slots[359] == msk(2026, 11, 27, 0, 59, 50)
    assert slots[360] == msk(2026, 11, 28, 0, 0, 0)
    assert slots[361] == msk(2026, 11, 28, 0, 0, 10)
    for slot in slots:
        assert window.contains(slot)


def test_overflow_across_midnight_window_utc() -> None:
    window = DailyWindow.parse("23:00-00:59", "UTC")
    slots = schedule_slots(
        3, now=datetime(2026, 11, 26, 12, 0, tzinfo=UTC), window=window, step=timedelta(hours=1)
    )
    assert slots == [
        datetime(2026, 11, 26, 23, 0, tzinfo=UTC),
        datetime(2026, 11, 27, 0, 0, tzinfo=UTC),
        datetime(2026, 11, 27, 23, 0, tzinfo=UTC),
    ]


def test_after_queues_behind_existing_slots() -> None:
    window = DailyWindow.parse("00:00-07:59", "Europe/Moscow")
    after = msk(2026, 11, 27, 7, 59, 55)
    slots = schedule_slots(2, now=msk(2026, 11, 26, 14, 0), window=window, step=S10, after=after)
    assert slots == [msk(2026, 11, 28, 0, 0, 0), msk(2026, 11, 28, 0, 0, 10)]


@pytest.mark.parametrize(
    ("spacing", "rph", "seconds"),
    [(10, 35000, 10.0), (0, 3600, 1.0), (10, 100, 36.0), (0, 35000, 3600 / 35000)],
)
def test_hourly_quota_widens_the_step(spacing: int, rph: int, seconds: float) -> None:
    assert effective_step(spacing, rph) == timedelta(seconds=seconds)


def test_no_hour_exceeds_the_quota() -> None:
    window = DailyWindow.parse("00:00-07:59", "Europe/Moscow")
    step = effective_step(0, 100)
    slots = schedule_slots(1000, now=msk(2026, 11, 26, 12, 0), window=window, step=step)
    per_hour: dict[datetime, int] = {}
    for slot in slots:
        hour = slot.replace(minute=0, second=0, microsecond=0)
        per_hour[hour] = per_hour.get(hour, 0) + 1
    assert max(per_hour.values()) <= 100
    assert slots[-1].astimezone(MSK).date().isoformat() == "2026-11-28"  # 800 fit the first night


def test_naive_now_is_refused() -> None:
    window = DailyWindow.parse("00:00-07:59", "UTC")
    with pytest.raises(ValueError):
        schedule_slots(1, now=datetime(2026, 1, 1), window=window, step=S10)
