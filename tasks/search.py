"""Yandex tasks: create deferred operations for due queries, and poll them (ingesting finished SERPs)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from uuid import UUID

import httpx
from prefect import task
from prefect.artifacts import aupdate_progress_artifact
from prefect.cache_policies import NO_CACHE
from prefect.utilities.asyncutils import run_coro_as_sync
from sqlalchemy import func, select

from leadgen.db.batches import operation_in_batch
from leadgen.db.engine import session_scope
from leadgen.db.models import OperationStatus, SerpOperation
from leadgen.serp import make_on_done
from leadgen.settings import Settings
from leadgen.yandex import YandexClient
from leadgen.yandex.jobs import collect_operations, submit_due_queries
from leadgen.yandex.rounds import NightReport, run_night
from tasks import runtime
from tasks.limits import GlobalQuotaLimiter
from tasks.policy import retry_options
from tasks.runtime import jsonable, load_settings, open_engine


def yandex_client(settings: Settings) -> YandexClient:
    """A client whose every request also takes a slot of the global Yandex rate limits."""
    http = httpx.AsyncClient(timeout=httpx.Timeout(settings.yandex_timeout_seconds), trust_env=False)
    clock, sleep = runtime.current_clock(), runtime.async_sleep
    limiter = GlobalQuotaLimiter.from_settings(settings, clock=clock, sleep=sleep)
    return YandexClient(http, settings, clock=clock, sleep=sleep, limiter=limiter, owns_http=True)


@task(name="submit-queries", cache_policy=NO_CACHE, **retry_options())
def submit_queries(limit: int, batch_tag: str | None = None) -> dict[str, Any]:
    """Create operations for up to `limit` due queries; outside the night window it makes no call."""
    settings = load_settings()

    async def run() -> Any:
        async with yandex_client(settings) as client:
            with open_engine(settings) as engine:
                return await submit_due_queries(
                    engine, client, settings, now=runtime.current_clock(), limit=limit, batch_tag=batch_tag
                )

    return dict(jsonable(run_coro_as_sync(run())))


@task(name="collect-operations", cache_policy=NO_CACHE, **retry_options())
def collect_operations_task(limit: int, batch_tag: str | None = None) -> dict[str, Any]:
    """Poll up to `limit` due operations (of the batch, if given); finished ones are ingested in the same
    transaction."""
    settings = load_settings()

    async def run() -> Any:
        async with yandex_client(settings) as client:
            with open_engine(settings) as engine:
                return await collect_operations(
                    engine,
                    client,
                    settings,
                    now=runtime.current_clock(),
                    limit=limit,
                    on_done=make_on_done(settings, now=runtime.current_clock()),
                    batch_tag=batch_tag,
                )

    return dict(jsonable(run_coro_as_sync(run())))


@task(name="count-pending-operations", cache_policy=NO_CACHE, **retry_options())
def pending_operations_task(batch_tag: str | None = None) -> int:
    """Operations (of the batch, if given) still waiting for Yandex, so a collecting flow knows whether to keep
    polling."""
    settings = load_settings()
    stmt = (
        select(func.count())
        .select_from(SerpOperation)
        .where(SerpOperation.status == OperationStatus.PENDING, operation_in_batch(batch_tag))
    )
    with open_engine(settings) as engine, session_scope(engine) as session:
        return int(session.scalar(stmt) or 0)


# A night's progress bar moves at most this often (real seconds): one API call per update.
PROGRESS_EVERY_SECONDS = 30.0


@task(name="night-searches", cache_policy=NO_CACHE, **retry_options())
async def night_searches(
    until: datetime, step_seconds: float | None = None, limit: int = 500, progress_id: UUID | None = None
) -> dict[str, Any]:
    """Rounds of submit + collect (ingesting finished SERPs) until `until` or nothing is left tonight."""
    settings = load_settings()
    start = runtime.now()
    shown = time.monotonic()  # the flow created the bar at 0 %; the first update comes a period later

    async def show(report: NightReport) -> None:
        nonlocal shown
        if progress_id is None or time.monotonic() - shown < PROGRESS_EVERY_SECONDS:
            return
        shown = time.monotonic()
        span = max((until - start).total_seconds(), 1.0)
        percent = min(100.0, 100.0 * (runtime.now() - start).total_seconds() / span)
        await aupdate_progress_artifact(artifact_id=progress_id, progress=percent)

    async with yandex_client(settings) as client:
        with open_engine(settings) as engine:
            report = await run_night(
                engine,
                client,
                settings,
                now=runtime.current_clock(),
                sleep=runtime.async_sleep,
                until=until,
                on_done=make_on_done(settings, now=runtime.current_clock()),
                step_seconds=step_seconds,
                limit=limit,
                progress=show,
            )
    return dict(jsonable(report))
