"""Per-host politeness: one request in flight per host and a minimum delay between two requests to it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

Sleep = Callable[[float], Awaitable[None]]
Monotonic = Callable[[], float]


class HostGate:
    """Serialises requests per host and spaces them by `delay` seconds (sleep and clock are injected).

    >>> gate = HostGate(delay=1.0, sleep=clock.async_sleep, monotonic=lambda: clock().timestamp())
    >>> async with gate.slot("example.ru"):
    ...     response = await client.get(url)
    """

    def __init__(self, *, delay: float, sleep: Sleep | None = None, monotonic: Monotonic | None = None):
        self.delay = delay
        self._sleep = sleep or asyncio.sleep
        self._monotonic = monotonic or time.monotonic
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}
        self._next_at: dict[str, float] = {}
        self._host_delay: dict[str, float] = {}  # robots.txt Crawl-delay (capped) where it exceeds `delay`

    def set_delay(self, host: str, delay: float) -> None:
        """Space requests to `host` by `delay` seconds instead of the default (e.g. its robots.txt Crawl-delay)."""
        if delay > self.delay:
            self._host_delay[host] = delay
        else:
            self._host_delay.pop(host, None)

    def delay_for(self, host: str) -> float:
        return self._host_delay.get(host, self.delay)

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        lock = self._locks.get(host)
        if lock is None:
            lock = self._locks[host] = asyncio.Lock()
        self._users[host] = self._users.get(host, 0) + 1
        try:
            async with lock:
                wait = self._next_at.get(host, 0.0) - self._monotonic()
                if wait > 0:
                    await self._sleep(wait)
                try:
                    yield
                finally:
                    self._next_at[host] = self._monotonic() + self.delay_for(host)
        finally:
            self._users[host] -= 1
            if not self._users[host]:
                # Forget idle hosts' locks (the delay bookkeeping stays, it is one float per host).
                del self._users[host]
                del self._locks[host]
