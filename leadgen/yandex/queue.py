"""The search queue's rows: claim a due query or operation, settle an operation, count the work left.

A claim locks one row for the caller's transaction: `FOR UPDATE SKIP LOCKED` on Postgres, a conditional UPDATE
(which also takes SQLite's write lock) on SQLite, so two workers never take the same row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select, update
from sqlalchemy.orm import Session

from leadgen.db.batches import operation_in_batch, query_in_batch
from leadgen.db.models import OperationStatus, QueryStatus, SerpOperation, SerpQuery

MAX_REQUEUES = 1


def is_postgres(session: Session) -> bool:
    """Is the session bound to PostgreSQL (row locks with SKIP LOCKED)?"""
    return session.get_bind().dialect.name == "postgresql"


def short_reason(exc: BaseException) -> str:
    """`Type: message`, cut to what `last_error` holds."""
    return f"{type(exc).__name__}: {exc}"[:1000]


def _due_query(now: datetime) -> ColumnElement[bool]:
    return or_(SerpQuery.scheduled_for.is_(None), SerpQuery.scheduled_for <= now)


def claim_due_query(
    session: Session, *, now: datetime, batch_tag: str | None, skip: set[int]
) -> SerpQuery | None:
    """Lock the pending query due longest by `now` (of the batch, if given), not one of `skip`."""
    base = select(SerpQuery).where(SerpQuery.status == QueryStatus.PENDING, _due_query(now))
    if batch_tag is not None:
        base = base.where(SerpQuery.batch_tag == batch_tag)
    base = base.order_by(SerpQuery.scheduled_for.asc().nulls_first(), SerpQuery.id).limit(1)
    while True:
        stmt = base.where(SerpQuery.id.not_in(skip)) if skip else base
        if is_postgres(session):
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


def _claim_operation(
    session: Session,
    stmt: Select[tuple[SerpOperation]],
    *,
    values: dict[str, Any],
    extra: list[ColumnElement[bool]],
) -> SerpOperation | None:
    """Lock the first row of `stmt` and apply `values`; on SQLite via a conditional UPDATE (`extra` rechecked)."""
    if is_postgres(session):
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


def claim_overdue_operation(
    session: Session, *, now: datetime, cutoff: datetime, batch_tag: str | None
) -> SerpOperation | None:
    """Lock the oldest pending operation submitted by `cutoff` and mark it `expired`."""
    overdue = SerpOperation.submitted_at <= cutoff
    stmt = (
        select(SerpOperation)
        .where(SerpOperation.status == OperationStatus.PENDING, overdue, operation_in_batch(batch_tag))
        .order_by(SerpOperation.submitted_at, SerpOperation.id)
    )
    return _claim_operation(
        session, stmt, values={"status": OperationStatus.EXPIRED, "updated_at": now}, extra=[overdue]
    )


def claim_operation_due_for_poll(
    session: Session, *, now: datetime, cutoff: datetime, batch_tag: str | None, exclude: list[int]
) -> SerpOperation | None:
    """Lock the pending operation polled (or submitted) longest ago, by `cutoff`, not one of `exclude`; count
    the poll."""
    last = SerpOperation.last_polled_at
    due = or_(last <= cutoff, last.is_(None) & (SerpOperation.submitted_at <= cutoff))
    stmt = (
        select(SerpOperation)
        .where(SerpOperation.status == OperationStatus.PENDING, due, operation_in_batch(batch_tag))
        .order_by(SerpOperation.last_polled_at.asc().nulls_first(), SerpOperation.id)
    )
    if exclude:
        stmt = stmt.where(SerpOperation.id.not_in(exclude))
    values = {"last_polled_at": now, "poll_count": SerpOperation.poll_count + 1, "updated_at": now}
    return _claim_operation(session, stmt, values=values, extra=[due])


def lock_pending_operations(session: Session, ids: list[int]) -> list[SerpOperation]:
    """The operations of `ids` still `pending` (another worker may have settled one), locked on Postgres."""
    stmt = select(SerpOperation).where(
        SerpOperation.id.in_(ids), SerpOperation.status == OperationStatus.PENDING
    )
    return list(session.scalars(stmt.with_for_update() if is_postgres(session) else stmt).all())


def release_query(session: Session, query_id: int | None, reason: str, *, now: datetime) -> str:
    """After its operation failed or expired: re-queue the query once, else fail it with the reason.

    Returns what became of it: "requeued", "failed", or "none" (no query, or no longer `submitted`)."""
    if query_id is None:
        return "none"
    query = session.get(SerpQuery, query_id, with_for_update=is_postgres(session))
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


def fail_operation(session: Session, row: SerpOperation, reason: str, *, now: datetime) -> str:
    """Mark the operation `failed` and release its query (see `release_query`, whose outcome it returns)."""
    row.status = OperationStatus.FAILED
    row.last_error = reason
    row.done_at = now
    return release_query(session, row.query_id, reason, now=now)


def mark_done(session: Session, row: SerpOperation, stored: int, *, now: datetime) -> None:
    """Mark the operation `done` with `stored` results, and its query `done`."""
    row.status = OperationStatus.DONE
    row.done_at = now
    row.result_count = stored
    row.last_error = None
    if row.query_id is not None:
        query = session.get(SerpQuery, row.query_id)
        if query is not None and query.status == QueryStatus.SUBMITTED:
            query.status = QueryStatus.DONE
            query.last_error = None


def count_pending_operations(session: Session, *, batch_tag: str | None = None) -> int:
    """Operations (of the batch, if given) still waiting for Yandex."""
    stmt = (
        select(func.count())
        .select_from(SerpOperation)
        .where(SerpOperation.status == OperationStatus.PENDING, operation_in_batch(batch_tag))
    )
    return int(session.scalar(stmt) or 0)


def count_queries_due_before(session: Session, before: datetime, *, batch_tag: str | None = None) -> int:
    """Pending queries (of the batch, if given) due before `before`: what a later submit could still take."""
    due = or_(SerpQuery.scheduled_for.is_(None), SerpQuery.scheduled_for < before)
    stmt = (
        select(func.count())
        .select_from(SerpQuery)
        .where(SerpQuery.status == QueryStatus.PENDING, due, query_in_batch(batch_tag))
    )
    return int(session.scalar(stmt) or 0)
