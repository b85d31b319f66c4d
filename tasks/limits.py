"""Prefect global concurrency limits at the leadgen seams: Yandex calls and email sends, fleet-wide."""

from __future__ import annotations

from prefect.concurrency.asyncio import rate_limit as arate_limit
from prefect.concurrency.sync import rate_limit

from infra.plan import EMAIL_DAILY, YANDEX_LIMITS
from leadgen.yandex.limiter import QuotaLimiter

# How long one Yandex call may wait for a slot before the task fails (and retries: TimeoutError is transient).
YANDEX_SLOT_TIMEOUT_SECONDS = 120.0


class GlobalQuotaLimiter(QuotaLimiter):
    """The client's in-process limiter, then one slot of `yandex-search` and `yandex-search-hourly`.

    leadgen cannot import Prefect, so the fleet-wide limit enters through the client's `limiter` seam:
    `YandexClient(http, settings, limiter=GlobalQuotaLimiter.from_settings(settings))`. `strict=True`:
    a missing limit (bootstrap not run) fails the task instead of silently not limiting.
    """

    async def acquire(self) -> None:
        await super().acquire()
        await arate_limit(YANDEX_LIMITS, strict=True, timeout_seconds=YANDEX_SLOT_TIMEOUT_SECONDS)


def take_email_slot(*, timeout_seconds: float | None) -> bool:
    """Take one `email-daily` slot; False when none came within the timeout (the run then stops)."""
    try:
        rate_limit(EMAIL_DAILY, strict=True, timeout_seconds=timeout_seconds)
    except TimeoutError:
        return False
    return True
