"""Prefect global concurrency limits at the leadgen seams: Yandex calls and email sends, fleet-wide."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import httpx
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.responses import GlobalConcurrencyLimitResponse
from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError
from prefect.exceptions import ObjectNotFound

from infra.plan import EMAIL_DAILY, YANDEX_ARRIVAL_JITTER_SECONDS, YANDEX_LIMITS
from leadgen.clock import Clock, utc_now
from leadgen.settings import Settings
from leadgen.yandex.grant import MICROS, Grant, grant_margin
from leadgen.yandex.limiter import AsyncSleep, QuotaLimiter, settings_quotas

# How long one Yandex call may wait for a slot before the task fails (and retries: TimeoutError is transient).
YANDEX_SLOT_TIMEOUT_SECONDS = 120.0
# The shortest wait between two reads of a busy limit (real time: the server frees slots in real time).
POLL_SECONDS = 0.01


class GlobalQuotaLimiter(QuotaLimiter):
    """The client's in-process limiter, then a slot of a grant of `yandex-search` and `yandex-search-hourly`.

    leadgen cannot import Prefect, so the fleet-wide limit enters through the client's `limiter` seam:
    `YandexClient(http, settings, limiter=GlobalQuotaLimiter.from_settings(settings))`. A missing limit (bootstrap
    not run) fails the request instead of silently not limiting.

    It takes the whole `yandex-search` limit (a few seconds' worth) in one request, and only when the limits, read
    without writing, show room: a denied request is a write too, and each write drops the fraction of a slot the
    server had decayed since the last one (with Prefect's own retry after a 423, that and the retry delays cost a
    quarter of the quota). The grant's slots are then spent one every (1 s + YANDEX_ARRIVAL_JITTER_SECONDS) /
    YANDEX_RPS within the deadlines `Grant` sets, which keeps the fleet at YANDEX_RPS or less in every second.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._grant: Grant | None = None
        self._taking: asyncio.Lock | None = None
        self.grants = 0
        self.dropped = 0
        self.grant_seconds = 0.0  # time spent taking grants (reads, waits and the request), for the benchmark

    async def acquire(self) -> None:
        self._taking = self._taking or asyncio.Lock()
        while True:
            grant = self._grant
            wait = grant.wait(self._now()) if grant is not None else None
            if grant is not None and wait == 0:
                wait = self.try_acquire()  # the in-process windows, taken at the moment of sending
                if wait == 0:
                    grant.spend()
                    return
            if wait is not None:
                await self._sleep(wait / MICROS)
                continue
            async with self._taking:  # one grant at a time for the tasks sharing this limiter
                if self._grant is grant:
                    self.dropped += grant.size - grant.used if grant is not None else 0
                    self._grant = await self._take_grant()
                    self.grants += 1
                    self.grant_seconds += (self._grant.received_at - self._grant.asked_at) / MICROS

    async def _take_grant(self) -> Grant:
        """Wait (reading, not writing) until both limits have room for a whole grant, then take it."""
        deadline = time.monotonic() + YANDEX_SLOT_TIMEOUT_SECONDS
        async with get_client() as client:
            while True:
                limits = await read_yandex_limits(client)
                size = limits[0].limit
                wait = max(_seconds_until_room(limit, size) for limit in limits)
                if wait == 0:
                    asked = self._now()
                    try:
                        await client.increment_concurrency_slots(
                            names=YANDEX_LIMITS, slots=size, mode="rate_limit"
                        )
                    except httpx.HTTPStatusError as exc:
                        if exc.response.status_code != 423:  # 423: another worker took it first
                            raise
                    else:
                        return self._grant_of(size, limits[0].slot_decay_per_second, asked)
                if time.monotonic() + wait > deadline:
                    raise TimeoutError(
                        f"no {'/'.join(YANDEX_LIMITS)} slot in {YANDEX_SLOT_TIMEOUT_SECONDS:g} s"
                    )
                await asyncio.sleep(max(wait, POLL_SECONDS) if wait else 0)

    def _grant_of(self, size: int, decay: float, asked: int) -> Grant:
        per_second = next((q.limit for q in self._quotas if q.period_seconds == 1), size)  # YANDEX_RPS
        spacing = round(MICROS * (1.0 + YANDEX_ARRIVAL_JITTER_SECONDS) / per_second)
        return Grant(size, spacing, asked, self._now(), grant_margin(size, decay, spacing))

    @classmethod
    def from_settings(
        cls, settings: Settings, *, clock: Clock = utc_now, sleep: AsyncSleep = asyncio.sleep
    ) -> GlobalQuotaLimiter:
        """The in-process windows of YANDEX_RPS / RPM / RPH, each widened by the arrival jitter the grants allow."""
        margin = timedelta(seconds=YANDEX_ARRIVAL_JITTER_SECONDS)
        return cls(settings_quotas(settings), clock=clock, sleep=sleep, margin=margin)


def _seconds_until_room(limit: GlobalConcurrencyLimitResponse, size: int) -> float:
    """A lower bound of the time until `size` more slots fit (0: they fit now); the server decays whole slots,
    so one more than this bound is the most it can be off by a slot's time."""
    excess = limit.active_slots - (limit.limit - size)
    if excess <= 0:
        return 0.0
    return (excess - 1) / limit.slot_decay_per_second if limit.slot_decay_per_second > 0 else POLL_SECONDS


async def read_yandex_limits(client: PrefectClient) -> list[GlobalConcurrencyLimitResponse]:
    """Both Yandex limits as the server sees them now (decay applied, nothing written), `yandex-search` first."""
    try:
        reads = (client.read_global_concurrency_limit_by_name(name) for name in YANDEX_LIMITS)
        return list(await asyncio.gather(*reads))
    except ObjectNotFound as exc:
        raise ConcurrencySlotAcquisitionError(
            f"Concurrency limits {YANDEX_LIMITS!r} must be created before acquiring slots (leadgen infra bootstrap)"
        ) from exc


def _free(limit: GlobalConcurrencyLimitResponse) -> int:
    return max(0, int(limit.limit - limit.active_slots))


def free_email_slots() -> int:
    """Slots of `email-daily` free right now; 0 when the limit is missing (as above)."""
    try:
        with get_client(sync_client=True) as client:
            return _free(client.read_global_concurrency_limit_by_name(EMAIL_DAILY))
    except ObjectNotFound:
        return 0


def take_email_slots(wanted: int, *, timeout_seconds: float) -> int:
    """Take up to `wanted` `email-daily` slots in one request; the number taken (0: none in time).

    Asks only for the slots free at the moment (at least one, then waiting for it): Prefect counts a denied
    request's slots against later requests, so asking for more than is free would hold back the next sends. For
    one slot there is nothing to read first: one is asked for either way.

    The request goes through the sync API client of the flow run (`flows.runtime.shared_sync_client`), not
    `prefect.concurrency.sync.rate_limit`: that hops to Prefect's event-loop thread, opens a client of its own
    and emits events per slot: 8.7 ms a request against 5.8 ms on an idle machine (docs/performance.md).
    A busy limit answers 423 with a Retry-After, waited until `timeout_seconds` would pass.
    """
    occupy = 1 if wanted <= 1 else max(1, min(wanted, free_email_slots()))
    deadline = time.monotonic() + timeout_seconds
    with get_client(sync_client=True) as client:
        while True:
            try:
                response = client.increment_concurrency_slots(
                    names=[EMAIL_DAILY], slots=occupy, mode="rate_limit"
                )
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code != 423:  # 423: no room yet
                    raise
                wait = max(float(exc.response.headers.get("Retry-After") or POLL_SECONDS), POLL_SECONDS)
                if time.monotonic() + wait > deadline:
                    return 0
                time.sleep(wait)
                continue
            if not response.json():  # the server skips a limit it does not have
                raise ConcurrencySlotAcquisitionError(
                    f"Concurrency limits {[EMAIL_DAILY]!r} must be created before acquiring slots "
                    "(leadgen infra bootstrap)"
                )
            return occupy


def return_email_slots(count: int) -> None:
    """Give back `count` `email-daily` slots taken for a batch but not used for a message (a route outage, the
    cap, nothing left due), so the next run can use them; the server clamps the count at zero."""
    if count <= 0:
        return
    with get_client(sync_client=True) as client:
        # occupancy only feeds the server's average-occupancy statistic; it must be positive
        client.release_concurrency_slots([EMAIL_DAILY], count, occupancy_seconds=1.0)


class EmailPermits:
    """leadgen's send `Permits` (leadgen.outreach.permits) backed by Prefect's fleet-wide `email-daily` limit."""

    def take(self, wanted: int, timeout: float) -> int:
        return take_email_slots(wanted, timeout_seconds=timeout)

    def give_back(self, count: int) -> None:
        return_email_slots(count)
