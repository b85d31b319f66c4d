"""The send window: OUTREACH_SEND_WINDOW on OUTREACH_SEND_WEEKDAYS, open now or when it opens next."""

from __future__ import annotations

from datetime import datetime, timedelta

from leadgen.settings import Settings
from leadgen.windows import DailyWindow

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def send_window_state(settings: Settings, now: datetime) -> tuple[bool, datetime]:
    """(is the send window open at `now`, its next opening) for OUTREACH_SEND_WINDOW on OUTREACH_SEND_WEEKDAYS."""
    window = DailyWindow.parse(settings.outreach_send_window, settings.tz)
    allowed = {WEEKDAYS.index(d.strip().lower()[:3]) for d in settings.outreach_send_weekdays}
    probe = now
    for _ in range(9):
        opens, closes = window.occurrence(probe)
        if opens.astimezone(settings.tz).weekday() in allowed:
            if opens <= now < closes:
                return True, now
            if opens > now:
                return False, opens
        probe = closes
    return False, now + timedelta(days=7)
