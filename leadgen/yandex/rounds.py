"""A whole night of searching in rounds: submit due queries, collect finished operations, wait, until done."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, or_, select

from leadgen.clock import Clock
from leadgen.db.batches import operation_in_batch, query_in_batch
from leadgen.db.engine import session_scope
from leadgen.db.models import OperationStatus, QueryStatus, SerpOperation, SerpQuery
from leadgen.settings import Settings
from leadgen.yandex.client import AsyncSleep, YandexClient
from leadgen.yandex.jobs import (
    CollectReport,
    ItemError,
    OnDone,
    SubmitReport,
    collect_operations,
    submit_due_queries,
)
from leadgen.yandex.night import night_window
from leadgen.yandex.pagestore import PageStore

log = logging.getLogger(__name__)

SUBMIT_COUNTS = ("submitted", "deferred", "failed")
COLLECT_COUNTS = ("polled", "done", "expired", "requeued", "queries_failed", "results")


@dataclass(frozen=True, slots=True)
class NightReport:
    """Totals over a night's rounds; `still_pending` counts operations left after the last; `ended` says why
    the loop stopped."""

    rounds: int = 0
    submitted: int = 0
    deferred: int = 0
    failed: int = 0
    polled: int = 0
    done: int = 0
    expired: int = 0
    requeued: int = 0
    queries_failed: int = 0
    results: int = 0
    still_pending: int = 0
    ended: str = ""
    stopped: str | None = None
    errors: list[ItemError] = field(default_factory=list)

    def add(self, submit: SubmitReport, collect: CollectReport, *, still_pending: int) -> NightReport:
        """These totals plus one round, after which `still_pending` operations are left."""
        changes: dict[str, Any] = {k: getattr(self, k) + getattr(submit, k) for k in SUBMIT_COUNTS}
        changes |= {k: getattr(self, k) + getattr(collect, k) for k in COLLECT_COUNTS}
        errors = [*self.errors, *submit.errors, *collect.errors]
        return replace(self, rounds=self.rounds + 1, still_pending=still_pending, errors=errors, **changes)


def work_left(engine: Engine, *, before: datetime, batch_tag: str | None = None) -> tuple[int, int]:
    """(operations still pending, pending queries due before `before`): what another round could do (in the
    batch, with `batch_tag`)."""
    due = or_(SerpQuery.scheduled_for.is_(None), SerpQuery.scheduled_for < before)
    with session_scope(engine) as session:
        operations = session.scalar(
            select(func.count())
            .select_from(SerpOperation)
            .where(SerpOperation.status == OperationStatus.PENDING, operation_in_batch(batch_tag))
        )
        queries = session.scalar(
            select(func.count())
            .select_from(SerpQuery)
            .where(SerpQuery.status == QueryStatus.PENDING, due, query_in_batch(batch_tag))
        )
    return int(operations or 0), int(queries or 0)


async def run_night(
    engine: Engine,
    client: YandexClient,
    settings: Settings,
    *,
    now: Clock,
    sleep: AsyncSleep,
    until: datetime,
    on_done: OnDone | PageStore,
    step_seconds: float | None = None,
    limit: int = 500,
    progress: Callable[[NightReport], Awaitable[None] | None] | None = None,
    batch_tag: str | None = None,
) -> NightReport:
    """Rounds of `submit_due_queries` + `collect_operations` every `step_seconds` (default: the poll interval).

    Stops when `until` comes, when the night window closes, when a round stops on quota, outage or auth (the
    next run carries on), or when no operation is pending and no pending query falls due before `until`.
    Each round is the single-pass jobs' work, so a crash loses nothing: the next run picks up by status.
    `progress` (sync or async) gets the running totals after every round. `batch_tag` limits every round to
    that batch's queries and operations.
    """
    step = float(step_seconds if step_seconds is not None else settings.yandex_poll_interval_seconds)
    report = NightReport()
    while now() < until:
        submitted = await submit_due_queries(
            engine, client, settings, now=now, limit=limit, batch_tag=batch_tag
        )
        collected = await collect_operations(
            engine, client, settings, now=now, limit=limit, on_done=on_done, batch_tag=batch_tag
        )
        pending, due = work_left(engine, before=until, batch_tag=batch_tag)
        report = report.add(submitted, collected, still_pending=pending)
        if progress is not None and inspect.isawaitable(shown := progress(report)):
            await shown
        stopped = submitted.stopped or collected.stopped
        if stopped:
            return replace(report, ended=f"stopped: {stopped}", stopped=stopped)
        if not submitted.in_window:
            return replace(report, ended="the night window closed")
        if pending == 0 and due == 0:
            return replace(report, ended="nothing left to search tonight")
        wait = min(step, (until - now()).total_seconds())
        if wait > 0:
            log.debug(
                "round %d: %d pending, %d due tonight; next in %.0f s", report.rounds, pending, due, wait
            )
            await sleep(wait)
    return replace(report, ended=f"reached {until.isoformat()}")


def night_end(settings: Settings, now: datetime) -> datetime:
    """When the night window containing `now` (or the next one) closes, aware UTC."""
    return night_window(settings).occurrence(now)[1]
