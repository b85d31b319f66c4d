"""The night search window: pure checks over an injected `now` (a client-side pricing policy, not an API rule)."""

from __future__ import annotations

from datetime import datetime

from leadgen.errors import NightWindowViolation
from leadgen.settings import Settings
from leadgen.windows import DailyWindow


def night_window(settings: Settings, /) -> DailyWindow:
    """NIGHT_WINDOW in APP_TIMEZONE as a DailyWindow (may cross midnight)."""
    return DailyWindow.parse(settings.night_window, settings.tz)


def is_night(window: DailyWindow, now: datetime, /) -> bool:
    """Is `now` inside the window?"""
    return window.contains(now)


def next_night_start(window: DailyWindow, now: datetime, /) -> datetime:
    """`now` when inside the window, else the next opening (aware UTC)."""
    return window.next_start(now)


def ensure_night(window: DailyWindow, now: datetime, /) -> None:
    """Raise NightWindowViolation (with the next allowed time) when `now` is outside the window."""
    if not window.contains(now):
        allowed = window.next_start(now)
        raise NightWindowViolation(
            f"operations may be created only inside NIGHT_WINDOW {window}; next window opens "
            f"{allowed.astimezone(window.tz).isoformat()}",
            next_allowed=allowed,
        )
