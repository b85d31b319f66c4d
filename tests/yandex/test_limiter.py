"""QuotaLimiter: sliding windows on a manual clock; no window of any length ever exceeds its limit."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadgen.clock import ManualClock
from leadgen.yandex import Quota, QuotaLimiter
from tests.yandex.conftest import NIGHT, make_settings

pytestmark = pytest.mark.anyio


def max_in_window(times: list[datetime], seconds: float) -> int:
    """The largest number of timestamps inside any half-open window [t, t + seconds)."""
    stamps = sorted(t.timestamp() for t in times)
    best, lo = 0, 0
    for hi, t in enumerate(stamps):
        while stamps[lo] <= t - seconds:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


async def test_ten_per_second_then_waits(clock: ManualClock) -> None:
    limiter = QuotaLimiter([Quota(10, 1)], clock=clock, sleep=clock.async_sleep)
    admitted = []
    for _ in range(25):
        await limiter.acquire()
        admitted.append(clock())
    assert admitted[9] == admitted[0]  # the first ten pass at once
    assert (admitted[10] - admitted[0]).total_seconds() == 1.0
    assert max_in_window(admitted, 1.0) == 10


async def test_settings_windows_per_minute_and_hour(clock: ManualClock) -> None:
    limiter = QuotaLimiter.from_settings(
        make_settings(yandex_rps=5, yandex_rpm=20, yandex_rph=30), clock=clock, sleep=clock.async_sleep
    )
    admitted = []
    for _ in range(45):
        await limiter.acquire()
        admitted.append(clock())
    assert max_in_window(admitted, 1) <= 5
    assert max_in_window(admitted, 60) <= 20
    assert max_in_window(admitted, 3600) <= 30
    assert (admitted[30] - admitted[0]).total_seconds() >= 3600
    assert limiter.waited_seconds == pytest.approx((admitted[-1] - admitted[0]).total_seconds())


def test_try_acquire_reports_the_wait(clock: ManualClock) -> None:
    limiter = QuotaLimiter([Quota(2, 1)], clock=clock)
    assert limiter.try_acquire() == 0
    clock.advance(0.25)
    assert limiter.try_acquire() == 0
    assert limiter.try_acquire() == 750_000  # microseconds until the first one leaves the window
    clock.advance(0.75)
    assert limiter.try_acquire() == 0


@settings(max_examples=40, deadline=None)
@given(
    limit=st.integers(1, 12),
    gaps=st.lists(st.floats(min_value=0, max_value=0.7, allow_nan=False), min_size=1, max_size=60),
)
def test_no_window_ever_exceeds_the_limit(limit: int, gaps: list[float]) -> None:
    clock = ManualClock(NIGHT)
    limiter = QuotaLimiter([Quota(limit, 1)], clock=clock)
    admitted = []
    for gap in gaps:
        clock.advance(gap)
        while (wait := limiter.try_acquire()) > 0:
            clock.advance(wait / 1_000_000)
        admitted.append(clock())
    assert max_in_window(admitted, 1.0) <= limit


def test_needs_a_quota() -> None:
    with pytest.raises(ValueError, match="at least one"):
        QuotaLimiter([])


async def test_wait_for_capacity_does_not_take_a_slot(clock: ManualClock) -> None:
    limiter = QuotaLimiter([Quota(1, 1)], clock=clock, sleep=clock.async_sleep)
    await limiter.wait_for_capacity()
    await limiter.wait_for_capacity()
    assert clock.sleeps == []
    await limiter.acquire()
    await limiter.wait_for_capacity()
    assert clock.sleeps == [1.0]
    await limiter.acquire()  # the slot is free again: no further wait
    assert clock.sleeps == [1.0]
