"""Prefect global concurrency limits at the leadgen seams: Yandex calls and email sends, fleet-wide."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.responses import GlobalConcurrencyLimitResponse
from prefect.concurrency.asyncio import rate_limit as arate_limit
from prefect.concurrency.sync import rate_limit
from prefect.exceptions import ObjectNotFound

from infra.plan import EMAIL_DAILY, YANDEX_LIMITS
from leadgen.yandex.limiter import QuotaLimiter

# How long one Yandex call may wait for a slot before the task fails (and retries: TimeoutError is transient).
YANDEX_SLOT_TIMEOUT_SECONDS = 120.0
# Slots taken ahead are used within this many real seconds or dropped: the server frees slots in real time, and
# a stale slot must not add to a later second's requests.
PREFETCH_TTL_SECONDS = 1.0


class GlobalQuotaLimiter(QuotaLimiter):
    """The client's in-process limiter, then a slot of `yandex-search` and `yandex-search-hourly`.

    leadgen cannot import Prefect, so the fleet-wide limit enters through the client's `limiter` seam:
    `YandexClient(http, settings, limiter=GlobalQuotaLimiter.from_settings(settings))`. `strict=True`:
    a missing limit (bootstrap not run) fails the task instead of silently not limiting.

    With `prefetch` > 1 (`yandex_client` uses YANDEX_RPS, a second's worth) it reads how many slots are free and
    takes up to `prefetch` of them in one round trip, handing them out within PREFETCH_TTL_SECONDS, so a burst
    of requests costs three API calls instead of one each. It never asks for more than are free: Prefect
    counts a denied request's slots against the requests after it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.prefetch = 1
        self._held = 0
        self._taken_at = 0.0

    async def acquire(self) -> None:
        await super().acquire()
        if self._held > 0 and time.monotonic() - self._taken_at <= PREFETCH_TTL_SECONDS:
            self._held -= 1
            return
        occupy = max(1, min(self.prefetch, await free_yandex_slots())) if self.prefetch > 1 else 1
        await arate_limit(
            YANDEX_LIMITS, occupy=occupy, strict=True, timeout_seconds=YANDEX_SLOT_TIMEOUT_SECONDS
        )
        self._held, self._taken_at = occupy - 1, time.monotonic()


def _free(limit: GlobalConcurrencyLimitResponse) -> int:
    return max(0, int(limit.limit - limit.active_slots))


async def free_yandex_slots() -> int:
    """Slots free right now in both Yandex limits, read at once (the server applies the decay when reading);
    0 when a limit is missing, so the strict slot request that follows fails with Prefect's own message."""
    try:
        async with get_client() as client:
            reads = (client.read_global_concurrency_limit_by_name(name) for name in YANDEX_LIMITS)
            limits = await asyncio.gather(*reads)
    except ObjectNotFound:
        return 0
    return min(_free(limit) for limit in limits)


def free_email_slots() -> int:
    """Slots of `email-daily` free right now; 0 when the limit is missing (as above)."""
    try:
        with get_client(sync_client=True) as client:
            return _free(client.read_global_concurrency_limit_by_name(EMAIL_DAILY))
    except ObjectNotFound:
        return 0


def take_email_slots(wanted: int, *, timeout_seconds: float) -> int:
    """Take up to `wanted` `email-daily` slots in one round trip; the number taken (0: none in time).

    Asks only for the slots free at the moment (at least one, then waiting for it): Prefect counts a denied
    request's slots against later requests, so asking for more than is free would hold back the next sends.
    """
    occupy = max(1, min(wanted, free_email_slots()))
    try:
        rate_limit(EMAIL_DAILY, occupy=occupy, strict=True, timeout_seconds=timeout_seconds)
    except TimeoutError:
        return 0
    return occupy


def return_email_slots(count: int) -> None:
    """Give back `count` `email-daily` slots taken for a batch but not used for a message (a route outage, the
    cap, nothing left due), so the next run can use them; the server clamps the count at zero."""
    if count <= 0:
        return
    with get_client(sync_client=True) as client:
        # occupancy only feeds the server's average-occupancy statistic; it must be positive
        client.release_concurrency_slots([EMAIL_DAILY], count, occupancy_seconds=1.0)
