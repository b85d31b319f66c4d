"""Yandex tasks: rounds of creating deferred operations for due queries and polling them (ingesting finished SERPs)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from prefect import task
from prefect.artifacts import aupdate_progress_artifact
from prefect.cache_policies import NO_CACHE
from prefect.utilities.asyncutils import run_coro_as_sync

from leadgen.serp.collect import make_collector
from leadgen.settings import Settings
from leadgen.stage_report import report_dict
from leadgen.yandex import YandexClient
from leadgen.yandex.rounds import RoundsReport, round_counts, run_rounds
from tasks import runtime
from tasks.limits import GlobalQuotaLimiter
from tasks.policy import retry_options
from tasks.runtime import jsonable, load_settings, open_engine

# A progress bar moves at most this often (real seconds): one API call per update.
PROGRESS_EVERY_SECONDS = 30.0


def yandex_client(settings: Settings) -> YandexClient:
    """A client whose every request also takes a slot of the global Yandex rate limits."""
    http = httpx.AsyncClient(timeout=httpx.Timeout(settings.yandex_timeout_seconds), trust_env=False)
    clock, sleep = runtime.current_clock(), runtime.async_sleep
    limiter = GlobalQuotaLimiter.from_settings(settings, clock=clock, sleep=sleep)
    return YandexClient(http, settings, clock=clock, sleep=sleep, limiter=limiter, owns_http=True)


class RoundWatch:
    """The rounds' progress callback: a table row per round, and the progress bar (when given) set to
    `fraction(totals)` at most every PROGRESS_EVERY_SECONDS."""

    def __init__(self, progress_id: UUID | None, fraction: Callable[[RoundsReport], float]) -> None:
        self.progress_id, self.fraction = progress_id, fraction
        self.rows: list[dict[str, Any]] = []
        self.last = RoundsReport()
        # the flow created the bar at 0 %; the first update comes a period later
        self.shown = time.monotonic()

    async def __call__(self, report: RoundsReport) -> None:
        self.rows.append({"round": report.rounds, **round_counts(self.last, report)})
        self.last = report
        if self.progress_id is None or time.monotonic() - self.shown < PROGRESS_EVERY_SECONDS:
            return
        self.shown = time.monotonic()
        percent = min(100.0, 100.0 * self.fraction(report))
        await aupdate_progress_artifact(artifact_id=self.progress_id, progress=percent)


async def search_rounds(
    *, until: datetime, submit: bool, collect: bool, limit: int, watch: RoundWatch, **options: Any
) -> dict[str, Any]:
    """`run_rounds` with this run's settings, clock, client and engine; the report as a dict, with `table`."""
    settings = load_settings()
    async with yandex_client(settings) as client:
        with open_engine(settings) as engine:
            report = await run_rounds(
                engine,
                client,
                settings,
                now=runtime.current_clock(),
                sleep=runtime.async_sleep,
                until=until,
                submit=submit,
                on_done=make_collector(settings, engine, now=runtime.current_clock()) if collect else None,
                limit=limit,
                progress=watch,
                **options,
            )
    return dict(jsonable(report_dict(report))) | {"table": watch.rows}


@task(name="submit-queries", cache_policy=NO_CACHE, **retry_options())
def submit_queries(limit: int, batch_tag: str | None = None) -> dict[str, Any]:
    """One round of creating operations for up to `limit` due queries; outside the night window it makes no
    call."""
    watch = RoundWatch(None, lambda report: 0.0)
    rounds = search_rounds(
        until=runtime.now(), submit=True, collect=False, limit=limit, watch=watch, batch_tag=batch_tag
    )
    return run_coro_as_sync(rounds)


@task(name="collect-operations", cache_policy=NO_CACHE, **retry_options())
def collect_operations_task(
    limit: int, batch_tag: str | None = None, wait_seconds: float = 0.0, progress_id: UUID | None = None
) -> dict[str, Any]:
    """Rounds of polling up to `limit` due operations (of the batch, if given), ingesting finished ones, until
    none is pending or `wait_seconds` have passed (one round with 0)."""
    watch = RoundWatch(progress_id, lambda r: r.done / max(r.done + r.still_pending, 1))
    until = runtime.now() + timedelta(seconds=wait_seconds)
    rounds = search_rounds(
        until=until, submit=False, collect=True, limit=limit, watch=watch, batch_tag=batch_tag
    )
    return run_coro_as_sync(rounds)


@task(name="night-searches", cache_policy=NO_CACHE, **retry_options())
async def night_searches(
    until: datetime, step_seconds: float | None = None, limit: int = 500, progress_id: UUID | None = None
) -> dict[str, Any]:
    """Rounds of submit + collect (ingesting finished SERPs) until `until` or nothing is left tonight."""
    start = runtime.now()
    span = max((until - start).total_seconds(), 1.0)
    watch = RoundWatch(progress_id, lambda _: (runtime.now() - start).total_seconds() / span)
    return await search_rounds(
        until=until, submit=True, collect=True, limit=limit, watch=watch, step_seconds=step_seconds
    )
