"""Searching in rounds: submit due queries and/or collect finished operations, wait, again, until done.

The one loop over the search queue: the night flow runs both steps all night, `night_search` one round of
submitting, `collect_results` rounds of collecting for a while.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from leadgen.clock import Clock
from leadgen.db import read_scope
from leadgen.settings import Settings
from leadgen.stage_report import ItemError
from leadgen.yandex.client import AsyncSleep, YandexClient
from leadgen.yandex.collect import CollectReport, OnDone, collect_operations
from leadgen.yandex.night import night_window
from leadgen.yandex.pagestore import PageStore
from leadgen.yandex.queue import count_pending_operations, count_queries_due_before
from leadgen.yandex.submit import SubmitReport, submit_due_queries

log = logging.getLogger(__name__)

SUBMIT_COUNTS = ("submitted", "deferred", "failed")
COLLECT_COUNTS = ("polled", "done", "expired", "requeued", "queries_failed", "results")


@dataclass(frozen=True, slots=True)
class RoundsReport:
    """Totals over the rounds; `still_pending` counts operations left after the last; `ended` says why the
    rounds stopped."""

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
    errors: tuple[ItemError, ...] = ()

    def add(
        self, submit: SubmitReport | None, collect: CollectReport | None, *, still_pending: int
    ) -> RoundsReport:
        """These totals plus one round (of either step or both), after which `still_pending` operations are left."""
        changes: dict[str, Any] = {}
        if submit is not None:
            changes |= {k: getattr(self, k) + getattr(submit, k) for k in SUBMIT_COUNTS}
        if collect is not None:
            changes |= {k: getattr(self, k) + getattr(collect, k) for k in COLLECT_COUNTS}
        errors = (*self.errors, *(submit.errors if submit else ()), *(collect.errors if collect else ()))
        return replace(self, rounds=self.rounds + 1, still_pending=still_pending, errors=errors, **changes)


def round_counts(before: RoundsReport, after: RoundsReport) -> dict[str, int]:
    """What one round added: `after`'s counts minus `before`'s, and `still_pending` as it left it."""
    counted = (f.name for f in fields(RoundsReport) if f.name not in ("rounds", "ended", "stopped", "errors"))
    return {k: getattr(after, k) - (0 if k == "still_pending" else getattr(before, k)) for k in counted}


def work_left(engine: Engine, *, before: datetime, batch_tag: str | None = None) -> tuple[int, int]:
    """(operations still pending, pending queries due before `before`): what another round could do (in the
    batch, with `batch_tag`)."""
    with read_scope(engine) as session:
        operations = count_pending_operations(session, batch_tag=batch_tag)
        queries = count_queries_due_before(session, before, batch_tag=batch_tag)
    return operations, queries


Progress = Callable[[RoundsReport], Awaitable[None] | None]
"""Gets the running totals after every round; sync or async."""


async def run_rounds(
    engine: Engine,
    client: YandexClient,
    settings: Settings,
    *,
    now: Clock,
    sleep: AsyncSleep,
    until: datetime,
    submit: bool = True,
    on_done: OnDone | PageStore | None = None,
    step_seconds: float | None = None,
    limit: int = 500,
    progress: Progress | None = None,
    batch_tag: str | None = None,
) -> RoundsReport:
    """Rounds of `submit_due_queries` (when `submit`) and `collect_operations` (when given an `on_done`).

    A round whose step took its whole `limit` is followed at once (more is due now); any other waits
    `step_seconds` (default: the poll interval), cut short at `until`. The first round always runs; the rounds
    end when `until` comes, when the night window closes (submitting), when a round stops on quota, outage or
    auth (the next run carries on), or when nothing is left: no operation pending (collecting) and no pending
    query due before `until` (submitting). Each round is the single-pass stages' work, so a crash loses nothing:
    the next run picks up by status. `batch_tag` limits every round to that batch's queries and operations.
    """
    step = float(step_seconds if step_seconds is not None else settings.yandex_poll_interval_seconds)
    report = RoundsReport()
    while True:
        submitted = collected = None
        if submit:
            submitted = await submit_due_queries(
                engine, client, settings, now=now, limit=limit, batch_tag=batch_tag
            )
        if on_done is not None:
            collected = await collect_operations(
                engine, client, settings, now=now, limit=limit, on_done=on_done, batch_tag=batch_tag
            )
        pending, due = work_left(engine, before=until, batch_tag=batch_tag)
        report = report.add(submitted, collected, still_pending=pending)
        if progress is not None and inspect.isawaitable(shown := progress(report)):
            await shown
        ended = _ending(submitted, collected, pending=pending, due=due)
        if ended is not None:
            return replace(report, ended=ended, stopped=_stopped(submitted, collected))
        if not _full(submitted, collected, limit):
            wait = min(step, (until - now()).total_seconds())
            if wait > 0:
                log.debug("round %d: %d pending, %d due; next in %.0f s", report.rounds, pending, due, wait)
                await sleep(wait)
        if now() >= until:
            return replace(report, ended=f"reached {until.isoformat()}")


def _stopped(submitted: SubmitReport | None, collected: CollectReport | None) -> str | None:
    return (submitted.stopped if submitted else None) or (collected.stopped if collected else None)


def _ending(
    submitted: SubmitReport | None, collected: CollectReport | None, *, pending: int, due: int
) -> str | None:
    """Why the rounds end after this one, or None to go on."""
    stopped = _stopped(submitted, collected)
    if stopped:
        return f"stopped: {stopped}"
    if submitted is not None and not submitted.in_window:
        return "the night window closed"
    if (collected is None or pending == 0) and (submitted is None or due == 0):
        return "nothing left to search tonight"
    return None


def _full(submitted: SubmitReport | None, collected: CollectReport | None, limit: int) -> bool:
    """Did a step take its whole limit (so more is probably due at once)?"""
    took = submitted.submitted + submitted.deferred + submitted.failed if submitted else 0
    return took >= limit or (collected is not None and collected.polled >= limit)


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
    progress: Progress | None = None,
    batch_tag: str | None = None,
) -> RoundsReport:
    """A night of `run_rounds` with both steps: submit and collect until `until` or nothing is left tonight."""
    return await run_rounds(
        engine,
        client,
        settings,
        now=now,
        sleep=sleep,
        until=until,
        submit=True,
        on_done=on_done,
        step_seconds=step_seconds,
        limit=limit,
        progress=progress,
        batch_tag=batch_tag,
    )


def night_end(settings: Settings, now: datetime) -> datetime:
    """When the night window containing `now` (or the next one) closes, aware UTC."""
    return night_window(settings).occurrence(now)[1]
