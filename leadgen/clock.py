"""Injected time: the `Clock` callable type, the real clock and a manual clock for tests and simulations."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]
"""A zero-argument callable returning an aware UTC datetime."""


def utc_now() -> datetime:
    """The real clock: aware UTC now."""
    return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told; `sleep` advances it instead of waiting (thread-safe)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware start time")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float = 0.0, **kwargs: float) -> datetime:
        """Move forward by `seconds` (and/or timedelta keyword arguments); returns the new time."""
        with self._lock:
            self._now += timedelta(seconds=seconds, **kwargs)
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment.astimezone(UTC)

    def sleep(self, seconds: float) -> None:
        """Drop-in for time.sleep: records the request and advances the clock."""
        self.sleeps.append(seconds)
        self.advance(max(seconds, 0.0))

    async def async_sleep(self, seconds: float) -> None:
        """Drop-in for asyncio.sleep."""
        self.sleep(seconds)


def as_clock(now: Clock | datetime, /) -> Clock:
    """`now` itself when it is a clock; a clock that stays at `now` when it is a datetime."""
    if isinstance(now, datetime):
        fixed = now
        return lambda: fixed
    return now
