"""The collect stage: expire operations past the SLA, poll due ones, and store the pages of finished ones.

Each operation is claimed and settled in its own transaction that stays open across its one API call, so a crash
rolls the claim back and nothing is lost: the next run polls the operation again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from leadgen.clock import Clock, as_clock
from leadgen.db import write_scope
from leadgen.db.models import OperationStatus, SerpOperation
from leadgen.errors import (
    AuthError,
    LeadgenError,
    OperationFailed,
    QuotaExceeded,
    YandexAPIError,
    YandexUnavailable,
)
from leadgen.settings import Settings
from leadgen.stage_report import ItemError
from leadgen.yandex.client import YandexClient
from leadgen.yandex.pagestore import FinishedPage, PageStore
from leadgen.yandex.queue import (
    claim_operation_due_for_poll,
    claim_overdue_operation,
    fail_operation,
    lock_pending_operations,
    mark_done,
    release_query,
    short_reason,
)

log = logging.getLogger(__name__)

OnDone = Callable[[Session, SerpOperation, bytes], int]
"""Called with the open session, the operation row and the decoded XML; returns the number of results stored."""


@dataclass(frozen=True, slots=True)
class CollectReport:
    """Outcome of `collect_operations`; `results` sums what `on_done` returned."""

    polled: int = 0
    done: int = 0
    still_pending: int = 0
    failed: int = 0
    expired: int = 0
    requeued: int = 0
    queries_failed: int = 0
    results: int = 0
    stopped: str | None = None
    errors: tuple[ItemError, ...] = ()


@dataclass(slots=True)
class _Tally:
    """A run's counts while it runs (the fields of `CollectReport`)."""

    polled: int = 0
    done: int = 0
    still_pending: int = 0
    failed: int = 0
    expired: int = 0
    requeued: int = 0
    queries_failed: int = 0
    results: int = 0
    stopped: str | None = None
    errors: list[ItemError] = field(default_factory=list)

    def keep_pending(self, row: SerpOperation, reason: str) -> None:
        """The operation stays `pending` with `reason`; a later run retries it."""
        row.last_error = reason
        self.still_pending += 1
        self.errors.append(ItemError("operation", reason, id=row.id, outcome="retry"))

    def fail(self, session: Session, row: SerpOperation, reason: str, *, error: str, now: datetime) -> None:
        """The operation `failed` with `reason` (its query re-queued once); `error` is what the report says."""
        outcome = fail_operation(session, row, reason, now=now)
        self.failed += 1
        self.requeued += outcome == "requeued"
        self.queries_failed += outcome == "failed"
        self.errors.append(ItemError("operation", error, id=row.id, outcome=f"failed, query {outcome}"))

    def finish(self, session: Session, row: SerpOperation, stored: int, *, now: datetime) -> None:
        mark_done(session, row, stored, now=now)
        self.results += stored
        self.done += 1

    def add(self, part: CollectReport) -> None:
        """Count a part of the run (the expiry pass, a stored batch) in."""
        for f in fields(CollectReport):
            if f.name not in ("stopped", "errors"):
                setattr(self, f.name, getattr(self, f.name) + getattr(part, f.name))
        self.stopped = self.stopped or part.stopped
        self.errors += part.errors

    def report(self) -> CollectReport:
        counts = {f.name: getattr(self, f.name) for f in fields(CollectReport) if f.name != "errors"}
        return CollectReport(**counts, errors=tuple(self.errors))


async def collect_operations(
    engine: Engine,
    client: YandexClient,
    settings: Settings,
    *,
    now: Clock | datetime,
    limit: int,
    on_done: OnDone | PageStore,
    batch_tag: str | None = None,
) -> CollectReport:
    """Expire operations past the SLA (re-queueing their query once), then poll up to `limit` due operations.

    An operation is due when YANDEX_POLL_INTERVAL_SECONDS have passed since it was submitted or last polled.
    Done: `on_done(session, row, xml)` runs in the same transaction (inside a savepoint), the operation becomes
    `done` and the query `done`. Done with an error, an undecodable payload, a 4xx, or `on_done` raising a
    LeadgenError: the operation `failed`, the query re-queued once. Quota/outage/auth stop the run, leaving the
    operation pending. An unexpected exception from `on_done` keeps the operation pending with `last_error`.
    With `batch_tag`, only operations of that batch's queries are expired and polled. With a `PageStore` as
    `on_done`, finished pages are stored in batches instead (see `PageStore`), with the same outcomes.
    """
    clock = as_clock(now)
    sla = timedelta(hours=settings.yandex_operation_sla_hours)
    tally = _Tally()
    tally.add(expire_overdue(engine, now=clock(), sla=sla, limit=max(limit, 1) * 10, batch_tag=batch_tag))
    interval = timedelta(seconds=settings.yandex_poll_interval_seconds)
    batch: list[FinishedPage] = []
    while tally.polled < limit and tally.stopped is None:
        if isinstance(on_done, PageStore) and len(batch) >= on_done.batch_pages:
            tally.add(_store_batch(engine, on_done, batch, now=clock()))
            batch = []
        await client.wait_for_capacity()  # wait for quota before locking a row, not while holding it
        t = clock()
        if not await _poll_next(
            engine, client, on_done, tally, batch, now=t, cutoff=t - interval, batch_tag=batch_tag
        ):
            break
    if isinstance(on_done, PageStore) and batch:
        tally.add(_store_batch(engine, on_done, batch, now=clock()))
    if tally.stopped:
        log.warning("collect stopped early: %s", tally.stopped)
    return tally.report()


def expire_overdue(
    engine: Engine, *, now: datetime, sla: timedelta, limit: int, batch_tag: str | None = None
) -> CollectReport:
    """Expire up to `limit` pending operations submitted more than `sla` ago, re-queueing each query once."""
    tally = _Tally()
    hours = sla.total_seconds() / 3600
    for _ in range(limit):
        with write_scope(engine) as session:
            row = claim_overdue_operation(session, now=now, cutoff=now - sla, batch_tag=batch_tag)
            if row is None:
                break
            reason = f"operation {row.operation_id} not done within the {hours:g} h SLA"
            row.status = OperationStatus.EXPIRED
            row.last_error = reason
            outcome = release_query(session, row.query_id, reason, now=now)
            tally.expired += 1
            tally.requeued += outcome == "requeued"
            tally.queries_failed += outcome == "failed"
            tally.errors.append(
                ItemError("operation", reason, id=row.id, outcome=f"expired, query {outcome}")
            )
    return tally.report()


async def _poll_next(
    engine: Engine,
    client: YandexClient,
    on_done: OnDone | PageStore,
    tally: _Tally,
    batch: list[FinishedPage],
    *,
    now: datetime,
    cutoff: datetime,
    batch_tag: str | None,
) -> bool:
    """Claim the operation due longest and poll it in one transaction: a finished page is stored (or added to
    `batch` for a `PageStore`). False when no operation is due."""
    with write_scope(engine) as session:
        exclude = [page.id for page in batch]  # finished, waiting in the batch: not due again
        row = claim_operation_due_for_poll(
            session, now=now, cutoff=cutoff, batch_tag=batch_tag, exclude=exclude
        )
        if row is None:
            return False
        tally.polled += 1
        xml = await _fetch_page(session, client, row, tally, now=now)
        if xml is None:
            return True
        if isinstance(on_done, PageStore):
            batch.append(FinishedPage(row.id, row.operation_id, row.query_id, xml))
        else:
            _store_page(session, on_done, row, xml, tally, now=now)
    return True


async def _fetch_page(
    session: Session, client: YandexClient, row: SerpOperation, tally: _Tally, *, now: datetime
) -> bytes | None:
    """Poll the operation: its decoded page when finished; None when it is still running or was settled here."""
    try:
        operation = await client.get_operation(row.operation_id)
        if not operation.finished:
            tally.still_pending += 1
            return None
        return operation.result_bytes()
    except (QuotaExceeded, YandexUnavailable, AuthError) as exc:
        tally.stopped = f"{type(exc).__name__}: {exc}"
        tally.keep_pending(row, short_reason(exc))
    except (YandexAPIError, OperationFailed) as exc:
        tally.fail(session, row, short_reason(exc), error=short_reason(exc), now=now)
    return None


def _store_page(
    session: Session, on_done: OnDone, row: SerpOperation, xml: bytes, tally: _Tally, *, now: datetime
) -> None:
    """Run `on_done` on one finished page (in a savepoint) and settle its operation by what it did."""
    try:
        with session.begin_nested():
            stored = on_done(session, row, xml)
    except LeadgenError as exc:
        reason = short_reason(exc)
        tally.fail(session, row, f"result rejected: {reason}", error=reason, now=now)
        return
    except Exception as exc:
        log.exception("on_done crashed for operation %s; it stays pending", row.operation_id)
        tally.keep_pending(row, f"on_done crashed: {short_reason(exc)}")
        return
    tally.finish(session, row, stored, now=now)


def _store_batch(
    engine: Engine, sink: PageStore, batch: list[FinishedPage], *, now: datetime
) -> CollectReport:
    """Store a batch of finished pages and settle their operations in one transaction (only those still
    `pending`: another worker may have settled one meanwhile)."""
    tally = _Tally()
    with write_scope(engine) as session:
        rows = lock_pending_operations(session, [page.id for page in batch])
        live = {row.id for row in rows}
        try:
            with session.begin_nested():
                outcomes = sink.store(session, [page for page in batch if page.id in live])
        except Exception as exc:
            log.exception("storing %d finished pages crashed; their operations stay pending", len(rows))
            for row in rows:
                tally.keep_pending(row, f"on_done crashed: {short_reason(exc)}")
            return tally.report()
        for row in rows:
            outcome = outcomes.get(row.operation_id, 0)
            if isinstance(outcome, LeadgenError):
                reason = short_reason(outcome)
                tally.fail(session, row, f"result rejected: {reason}", error=reason, now=now)
            else:
                tally.finish(session, row, outcome, now=now)
    return tally.report()
