"""Daily local-time windows (night search window, send window): membership and next start over an injected clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from leadgen.settings import parse_window


@dataclass(frozen=True, slots=True)
class DailyWindow:
    """A window `start..end` repeated every day in `tz`; `end` is an inclusive minute, and it may cross midnight.

    `00:00-07:59` covers 00:00:00 to 07:59:59.999999; `20:00-05:59` covers 20:00 to 05:59:59 of the next day.
    """

    start: time
    end: time
    tz: ZoneInfo

    @classmethod
    def parse(cls, spec: str, tz: str | ZoneInfo) -> DailyWindow:
        start, end = parse_window(spec)
        return cls(start, end, tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz))

    @property
    def crosses_midnight(self) -> bool:
        return self.end < self.start

    def _bounds_for(self, day: date) -> tuple[datetime, datetime]:
        """Aware local (start, exclusive end) of the window that opens on `day`."""
        opens = datetime.combine(day, self.start, tzinfo=self.tz)
        end_day = day + timedelta(days=1) if self.crosses_midnight else day
        closes = datetime.combine(end_day, self.end, tzinfo=self.tz) + timedelta(minutes=1)
        return opens, closes

    def occurrence(self, now: datetime) -> tuple[datetime, datetime]:
        """The window containing `now`, or else the next one, as aware UTC (start, exclusive end)."""
        local = _aware(now).astimezone(self.tz)
        for offset in (-1, 0, 1, 2):
            opens, closes = self._bounds_for(local.date() + timedelta(days=offset))
            if local < closes:
                return opens.astimezone(UTC), closes.astimezone(UTC)
        raise AssertionError("unreachable: a daily window opens within two days")

    def contains(self, now: datetime) -> bool:
        """Is `now` inside the window?"""
        opens, closes = self.occurrence(now)
        return opens <= _aware(now) < closes

    def next_start(self, now: datetime) -> datetime:
        """`now` itself when inside the window, else the next opening (aware UTC)."""
        opens, _ = self.occurrence(now)
        return max(opens, _aware(now).astimezone(UTC))

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M} {self.tz.key}"


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: pass an aware datetime")
    return moment
