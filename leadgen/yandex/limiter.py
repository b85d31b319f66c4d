"""In-process sliding-window request limiter (per second / minute / hour) over an injected clock and sleep.

limiter = QuotaLimiter.from_settings(settings, clock=clock, sleep=clock.async_sleep)
await limiter.acquire()   # returns when one more request fits in every window
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Self

from leadgen.clock import Clock, utc_now
from leadgen.settings import Settings

AsyncSleep = Callable[[float], Awaitable[None]]
MICROS = 1_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Added to every window: requests admitted exactly `period` apart can arrive closer together when network
# latency varies, and the server counts arrivals.
JITTER_MARGIN = timedelta(milliseconds=20)


@dataclass(frozen=True, slots=True)
class Quota:
    """At most `limit` requests in any window of `period_seconds`."""

    limit: int
    period_seconds: int


def settings_quotas(settings: Settings) -> list[Quota]:
    """The request quotas of the settings: YANDEX_RPS per second, YANDEX_RPM per minute, YANDEX_RPH per hour."""
    return [
        Quota(settings.yandex_rps, 1),
        Quota(settings.yandex_rpm, 60),
        Quota(settings.yandex_rph, 3600),
    ]


class QuotaLimiter:
    """Admit a request only when each window (now - period, now] holds fewer than `limit` earlier admissions.

    So no half-open window [t, t + period) ever contains more than `limit` requests; `margin` widens every
    window a little to absorb latency jitter. Time is integer microseconds of the injected clock; thread- and
    task-safe.
    """

    def __init__(
        self,
        quotas: list[Quota],
        *,
        clock: Clock = utc_now,
        sleep: AsyncSleep = asyncio.sleep,
        margin: timedelta = timedelta(0),
    ) -> None:
        if not quotas:
            raise ValueError("QuotaLimiter needs at least one quota")
        self._quotas = quotas
        self._margin = margin // timedelta(microseconds=1)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._admitted: list[deque[int]] = [deque() for _ in quotas]
        self.waited_seconds = 0.0

    @classmethod
    def from_settings(
        cls, settings: Settings, *, clock: Clock = utc_now, sleep: AsyncSleep = asyncio.sleep
    ) -> Self:
        return cls(settings_quotas(settings), clock=clock, sleep=sleep, margin=JITTER_MARGIN)

    def _now(self) -> int:
        return (self._clock() - EPOCH) // timedelta(microseconds=1)

    def _wait_locked(self, now: int) -> int:
        wait = 0
        for quota, admitted in zip(self._quotas, self._admitted, strict=True):
            period = quota.period_seconds * MICROS + self._margin
            while admitted and admitted[0] <= now - period:
                admitted.popleft()
            if len(admitted) >= quota.limit:
                wait = max(wait, admitted[len(admitted) - quota.limit] + period - now)
        return wait

    def try_acquire(self) -> int:
        """Admit now and return 0, or return the microseconds to wait before trying again."""
        with self._lock:
            now = self._now()
            wait = self._wait_locked(now)
            if wait > 0:
                return wait
            for admitted in self._admitted:
                admitted.append(now)
            return 0

    async def wait_for_capacity(self) -> None:
        """Wait until a request would be admitted, without taking the slot (used before opening a claim)."""
        while True:
            with self._lock:
                wait = self._wait_locked(self._now())
            if wait <= 0:
                return
            self.waited_seconds += wait / MICROS
            await self._sleep(wait / MICROS)

    async def acquire(self) -> None:
        """Wait (through the injected sleep) until a request fits in every window, then admit it."""
        while True:
            wait = self.try_acquire()
            if wait <= 0:
                return
            self.waited_seconds += wait / MICROS
            await self._sleep(wait / MICROS)
