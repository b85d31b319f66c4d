"""Night-window scheduling: `count` slots from the nearest window, `spacing` apart, spilling into later nights."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from leadgen.settings import Settings
from leadgen.windows import DailyWindow


def effective_step(spacing_seconds: float, per_hour: int) -> timedelta:
    """The gap between two slots: the configured spacing, widened so no hour holds more than `per_hour` slots."""
    floor = 3600.0 / per_hour if per_hour > 0 else 0.0
    return timedelta(seconds=max(float(spacing_seconds), floor))


def schedule_slots(
    count: int,
    *,
    now: datetime,
    window: DailyWindow,
    step: timedelta,
    after: datetime | None = None,
) -> list[datetime]:
    """`count` aware-UTC times inside night windows: from the nearest window (or `after` + step, whichever is
    later), `step` apart; a slot that would fall at or past the window's end moves to the next window's start."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    cursor = window.next_start(now)
    if after is not None and after + step > cursor:
        cursor = window.next_start(after + step)
    slots: list[datetime] = []
    opens, closes = window.occurrence(cursor)
    for _ in range(count):
        if cursor >= closes:
            opens, closes = window.occurrence(closes)
            cursor = opens
        slots.append(cursor.astimezone(UTC))
        cursor = cursor + step if step > timedelta(0) else cursor
    return slots


def scheduler_for(settings: Settings) -> tuple[DailyWindow, timedelta]:
    """The night window and slot step configured in settings."""
    window = DailyWindow.parse(settings.night_window, settings.tz)
    return window, effective_step(settings.planning_spacing_seconds, settings.yandex_rph)
