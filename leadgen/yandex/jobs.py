"""Pipeline stages over the database queue: submit due queries as operations, collect finished operations.

Each item is claimed and settled in its own transaction (`FOR UPDATE SKIP LOCKED` on Postgres, a conditional
UPDATE on SQLite) that stays open across its one API call, so a crash rolls the claim back and no query is
lost: every error leaves the query `pending` with `attempts`/`last_error`, or `failed` with a reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, or_, select, update
from sqlalchemy.orm import Session

from leadgen.clock import Clock
from leadgen.db.batches import operation_in_batch
from leadgen.db.models import OperationStatus, QueryStatus, SerpOperation, SerpQuery
from leadgen.errors import (
    AuthError,
    LeadgenError,
    NightWindowViolation,
    OperationFailed,
    QuotaExceeded,
    YandexAPIError,
    YandexUnavailable,
)
from leadgen.settings import Settings
from leadgen.yandex.client import YandexClient
from leadgen.yandex.types import SearchRequest

log = logging.getLogger(__name__)

OnDone = Callable[[Session, SerpOperation, bytes], int]
"""Called with the open session, the operation row and the decoded XML; returns the number of results stored."""

MAX_REQUEUES = 1
MAX_RETRY_DELAY = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class ItemError:
    """What went wrong with one query or operation and what became of it (retry, failed, requeued)."""

    kind: str  # "query" or "operation"
    id: int
    reason: str
    outcome: str


@dataclass(frozen=True, slots=True)
class SubmitReport:
    """Outcome of `submit_due_queries`; `next_window_start` (ISO 8601 UTC) is set outside the window."""

    in_window: bool
    next_window_start: str | None = None
    submitted: int = 0
    deferred: int = 0
    failed: int = 0
    stopped: str | None = None
    operation_ids: list[str] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)


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
    errors: list[ItemError] = field(default_factory=list)


def _clock(now: Clock | datetime) -> Clock:
    if isinstance(now, datetime):
        fixed = now
        return lambda: fixed
    return now


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]


# --- submit -------------------------------------------------------------------------------------------------


def _claim_query(
    session: Session, *, now: datetime, batch_tag: str | None, skip: set[int]
) -> SerpQuery | None:
    """Lock one due pending query (SKIP LOCKED on Postgres; a conditional UPDATE takes SQLite's write lock)."""
    due = or_(SerpQuery.scheduled_for.is_(None), SerpQuery.scheduled_for <= now)
    base = select(SerpQuery).where(SerpQuery.status == QueryStatus.PENDING, due)
    if batch_tag is not None:
        base = base.where(SerpQuery.batch_tag == batch_tag)
    base = base.order_by(SerpQuery.scheduled_for.asc().nulls_first(), SerpQuery.id).limit(1)
    while True:
        stmt = base.where(SerpQuery.id.not_in(skip)) if skip else base
        if _is_postgres(session):
            return session.scalars(stmt.with_for_update(skip_locked=True)).first()
        row = session.scalars(stmt).first()
        if row is None:
            return None
        claimed = session.execute(
            update(SerpQuery)
            .where(SerpQuery.id == row.id, SerpQuery.status == QueryStatus.PENDING)
            .values(updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount == 1:  # type: ignore[attr-defined]
            session.refresh(row)
            return row
        skip.add(row.id)  # another worker took it between our SELECT and UPDATE


def _retry_delay(settings: Settings, attempts: int, retry_after: float | None) -> timedelta:
    if retry_after is not None:
        return min(timedelta(seconds=retry_after), MAX_RETRY_DELAY)
    return min(
        timedelta(seconds=settings.yandex_backoff_seconds * 60 * 2 ** max(attempts - 1, 0)), MAX_RETRY_DELAY
    )


async def submit_due_queries(
    engine: Engine,
    client: YandexClient,
    settings: Settings,
    *,
    now: Clock | datetime,
    limit: int,
    batch_tag: str | None = None,
) -> SubmitReport:
    """Create operations for up to `limit` pending queries due by `now`, inside the night window only.

    Success: query `submitted` + a `serp_operations` row. Quota, outage, auth and a window closing mid-run stop
    the run with the query kept `pending` (transient errors count an attempt and push `scheduled_for` back;
    after YANDEX_MAX_ATTEMPTS it is `failed`). A rejected request (4xx) fails the query with the API's reason.
    """
    clock = _clock(now)
    window = client.window
    if not window.contains(clock()):
        start = window.next_start(clock())
        log.info("outside the night window %s; next opens %s", window, start.isoformat())
        return SubmitReport(in_window=False, next_window_start=start.isoformat())
    submitted = deferred = failed = 0
    stopped: str | None = None
    operation_ids: list[str] = []
    errors: list[ItemError] = []
    skip: set[int] = set()
    while submitted + deferred + failed < limit and stopped is None:
        await client.wait_for_capacity()  # wait for quota before locking a row, not while holding it
        t = clock()
        with Session(engine, expire_on_commit=False) as session, session.begin():
            row = _claim_query(session, now=t, batch_tag=batch_tag, skip=skip)
            if row is None:
                break
            skip.add(row.id)
            request = SearchRequest.from_settings(
                settings, row.query_text, region=row.region_code, page=row.page
            )
            try:
                operation = await client.create_search(request)
            except NightWindowViolation as exc:
                stopped = f"night window closed: {exc}"
                row.last_error = _short(exc)
                deferred += 1
                continue
            except AuthError as exc:
                stopped = f"authentication failed: {exc}"
                row.last_error = _short(exc)
                errors.append(ItemError("query", row.id, _short(exc), "retry"))
                deferred += 1
                continue
            except (QuotaExceeded, YandexUnavailable) as exc:
                row.attempts += 1
                row.last_error = _short(exc)
                stopped = f"{type(exc).__name__}: {exc}"
                if row.attempts >= settings.yandex_max_attempts:
                    row.status = QueryStatus.FAILED
                    failed += 1
                    errors.append(ItemError("query", row.id, _short(exc), "failed"))
                else:
                    retry_after = exc.retry_after if isinstance(exc, QuotaExceeded) else None
                    row.scheduled_for = t + _retry_delay(settings, row.attempts, retry_after)
                    deferred += 1
                    errors.append(ItemError("query", row.id, _short(exc), "retry"))
                continue
            except YandexAPIError as exc:
                row.attempts += 1
                row.status = QueryStatus.FAILED
                row.last_error = _short(exc)
                failed += 1
                errors.append(ItemError("query", row.id, _short(exc), "failed"))
                continue
            row.attempts += 1
            row.status = QueryStatus.SUBMITTED
            row.last_error = None
            session.add(
                SerpOperation(
                    operation_id=operation.id,
                    query_id=row.id,
                    status=OperationStatus.PENDING,
                    submitted_at=t,
                    meta={"page": row.page, "region": row.region_code, "created_at": operation.created_at},
                )
            )
            operation_ids.append(operation.id)
            submitted += 1
    if stopped:
        log.warning("submit stopped early: %s", stopped)
    return SubmitReport(
        in_window=True,
        submitted=submitted,
        deferred=deferred,
        failed=failed,
        stopped=stopped,
        operation_ids=operation_ids,
        errors=errors,
    )


# --- collect ------------------------------------------------------------------------------------------------


def _release_query(session: Session, query_id: int | None, reason: str, *, now: datetime) -> str:
    """After its operation failed or expired: re-queue the query once, else fail it with the reason."""
    if query_id is None:
        return "none"
    query = session.get(SerpQuery, query_id, with_for_update=_is_postgres(session))
    if query is None or query.status != QueryStatus.SUBMITTED:
        return "none"
    if query.requeue_count < MAX_REQUEUES:
        query.status = QueryStatus.PENDING
        query.requeue_count += 1
        query.scheduled_for = now
        query.last_error = reason
        return "requeued"
    query.status = QueryStatus.FAILED
    query.last_error = f"{reason} (already re-queued {query.requeue_count} time(s))"
    return "failed"


def _claim_operation(
    session: Session,
    stmt: Select[tuple[SerpOperation]],
    *,
    values: dict[str, Any],
    extra: list[ColumnElement[bool]],
) -> SerpOperation | None:
    """Lock the first row of `stmt` and apply `values`; on SQLite via a conditional UPDATE (`extra` rechecked)."""
    if _is_postgres(session):
        row = session.scalars(stmt.limit(1).with_for_update(skip_locked=True)).first()
        if row is not None:
            session.execute(
                update(SerpOperation)
                .where(SerpOperation.id == row.id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            session.refresh(row)
        return row
    row = session.scalars(stmt.limit(1)).first()
    if row is None:
        return None
    result = session.execute(
        update(SerpOperation)
        .where(SerpOperation.id == row.id, SerpOperation.status == OperationStatus.PENDING, *extra)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    session.refresh(row)
    return row


def _expire_overdue(
    engine: Engine, *, now: datetime, sla: timedelta, limit: int, batch_tag: str | None = None
) -> tuple[int, int, int, list[ItemError]]:
    expired = requeued = queries_failed = 0
    errors: list[ItemError] = []
    cutoff = now - sla
    for _ in range(limit):
        with Session(engine, expire_on_commit=False) as session, session.begin():
            stmt = (
                select(SerpOperation)
                .where(
                    SerpOperation.status == OperationStatus.PENDING,
                    SerpOperation.submitted_at <= cutoff,
                    operation_in_batch(batch_tag),
                )
                .order_by(SerpOperation.submitted_at, SerpOperation.id)
            )
            row = _claim_operation(
                session,
                stmt,
                values={"status": OperationStatus.EXPIRED, "updated_at": now},
                extra=[SerpOperation.submitted_at <= cutoff],
            )
            if row is None:
                break
            hours = sla.total_seconds() / 3600
            reason = f"operation {row.operation_id} not done within the {hours:g} h SLA"
            row.status = OperationStatus.EXPIRED
            row.last_error = reason
            outcome = _release_query(session, row.query_id, reason, now=now)
            expired += 1
            requeued += outcome == "requeued"
            queries_failed += outcome == "failed"
            errors.append(ItemError("operation", row.id, reason, f"expired, query {outcome}"))
    return expired, requeued, queries_failed, errors


async def collect_operations(
    engine: Engine,
    client: YandexClient,
    settings: Settings,
    *,
    now: Clock | datetime,
    limit: int,
    on_done: OnDone,
    batch_tag: str | None = None,
) -> CollectReport:
    """Expire operations past the SLA (re-queueing their query once), then poll up to `limit` due operations.

    An operation is due when YANDEX_POLL_INTERVAL_SECONDS have passed since it was submitted or last polled.
    Done: `on_done(session, row, xml)` runs in the same transaction (inside a savepoint), the operation becomes
    `done` and the query `done`. Done with an error, an undecodable payload, a 4xx, or `on_done` raising a
    LeadgenError: the operation `failed`, the query re-queued once. Quota/outage/auth stop the run, leaving the
    operation pending. An unexpected exception from `on_done` keeps the operation pending with `last_error`.
    With `batch_tag`, only operations of that batch's queries are expired and polled.
    """
    clock = _clock(now)
    sla = timedelta(hours=settings.yandex_operation_sla_hours)
    expired, requeued, queries_failed, errors = _expire_overdue(
        engine, now=clock(), sla=sla, limit=max(limit, 1) * 10, batch_tag=batch_tag
    )
    interval = timedelta(seconds=settings.yandex_poll_interval_seconds)
    polled = done = pending = failed = results = 0
    stopped: str | None = None
    while polled < limit and stopped is None:
        await client.wait_for_capacity()
        t = clock()
        cutoff = t - interval
        last = SerpOperation.last_polled_at
        due = or_(last <= cutoff, last.is_(None) & (SerpOperation.submitted_at <= cutoff))
        with Session(engine, expire_on_commit=False) as session, session.begin():
            stmt = (
                select(SerpOperation)
                .where(SerpOperation.status == OperationStatus.PENDING, due, operation_in_batch(batch_tag))
                .order_by(SerpOperation.last_polled_at.asc().nulls_first(), SerpOperation.id)
            )
            row = _claim_operation(
                session,
                stmt,
                values={"last_polled_at": t, "poll_count": SerpOperation.poll_count + 1, "updated_at": t},
                extra=[due],
            )
            if row is None:
                break
            polled += 1
            try:
                operation = await client.get_operation(row.operation_id)
                if not operation.finished:
                    pending += 1
                    continue
                xml = operation.result_bytes()
            except (QuotaExceeded, YandexUnavailable, AuthError) as exc:
                row.last_error = _short(exc)
                stopped = f"{type(exc).__name__}: {exc}"
                pending += 1
                errors.append(ItemError("operation", row.id, _short(exc), "retry"))
                continue
            except (YandexAPIError, OperationFailed) as exc:
                outcome = _fail_operation(session, row, _short(exc), now=t)
                failed += 1
                requeued += outcome == "requeued"
                queries_failed += outcome == "failed"
                errors.append(ItemError("operation", row.id, _short(exc), f"failed, query {outcome}"))
                continue
            try:
                with session.begin_nested():
                    stored = on_done(session, row, xml)
            except LeadgenError as exc:
                outcome = _fail_operation(session, row, f"result rejected: {_short(exc)}", now=t)
                failed += 1
                requeued += outcome == "requeued"
                queries_failed += outcome == "failed"
                errors.append(ItemError("operation", row.id, _short(exc), f"failed, query {outcome}"))
                continue
            except Exception as exc:
                log.exception("on_done crashed for operation %s; it stays pending", row.operation_id)
                row.last_error = f"on_done crashed: {_short(exc)}"
                pending += 1
                errors.append(ItemError("operation", row.id, row.last_error, "retry"))
                continue
            row.status = OperationStatus.DONE
            row.done_at = t
            row.result_count = stored
            row.last_error = None
            results += stored
            done += 1
            if row.query_id is not None:
                query = session.get(SerpQuery, row.query_id)
                if query is not None and query.status == QueryStatus.SUBMITTED:
                    query.status = QueryStatus.DONE
                    query.last_error = None
    if stopped:
        log.warning("collect stopped early: %s", stopped)
    return CollectReport(
        polled=polled,
        done=done,
        still_pending=pending,
        failed=failed,
        expired=expired,
        requeued=requeued,
        queries_failed=queries_failed,
        results=results,
        stopped=stopped,
        errors=errors,
    )


def _fail_operation(session: Session, row: SerpOperation, reason: str, *, now: datetime) -> str:
    row.status = OperationStatus.FAILED
    row.last_error = reason
    row.done_at = now
    return _release_query(session, row.query_id, reason, now=now)
