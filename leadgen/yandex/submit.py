"""The submit stage: create a deferred Yandex operation for each due pending query, inside the night window.

Each query is claimed and settled in its own transaction that stays open across its one API call, so a crash
rolls the claim back and no query is lost: every error leaves the query `pending` with `attempts`/`last_error`,
or `failed` with a reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from leadgen.clock import Clock, as_clock
from leadgen.db import write_scope
from leadgen.db.models import OperationStatus, QueryStatus, SerpOperation, SerpQuery
from leadgen.errors import (
    AuthError,
    NightWindowViolation,
    QuotaExceeded,
    SearchError,
    YandexAPIError,
    YandexUnavailable,
)
from leadgen.settings import Settings
from leadgen.stage_report import ItemError
from leadgen.yandex.client import YandexClient
from leadgen.yandex.queue import claim_due_query, short_reason
from leadgen.yandex.types import Operation, SearchRequest

log = logging.getLogger(__name__)

MAX_RETRY_DELAY = timedelta(hours=1)
SUBMIT_ERRORS = (NightWindowViolation, AuthError, QuotaExceeded, YandexUnavailable, YandexAPIError)
"""What `create_search` raises for one query; each settles the query (see `_settle_error`)."""


@dataclass(frozen=True, slots=True)
class SubmitReport:
    """Outcome of `submit_due_queries`; `next_window_start` (ISO 8601 UTC) is set outside the window."""

    in_window: bool
    next_window_start: str | None = None
    submitted: int = 0
    deferred: int = 0
    failed: int = 0
    stopped: str | None = None
    operation_ids: tuple[str, ...] = ()
    errors: tuple[ItemError, ...] = ()


@dataclass(slots=True)
class _Tally:
    """A run's counts while it runs."""

    submitted: int = 0
    deferred: int = 0
    failed: int = 0
    stopped: str | None = None
    operation_ids: list[str] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.submitted + self.deferred + self.failed

    def error(self, row: SerpQuery, exc: BaseException, outcome: str) -> None:
        self.errors.append(ItemError("query", short_reason(exc), id=row.id, outcome=outcome))

    def report(self) -> SubmitReport:
        return SubmitReport(
            in_window=True,
            submitted=self.submitted,
            deferred=self.deferred,
            failed=self.failed,
            stopped=self.stopped,
            operation_ids=tuple(self.operation_ids),
            errors=tuple(self.errors),
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
    clock = as_clock(now)
    window = client.window
    if not window.contains(clock()):
        start = window.next_start(clock())
        log.info("outside the night window %s; next opens %s", window, start.isoformat())
        return SubmitReport(in_window=False, next_window_start=start.isoformat())
    tally = _Tally()
    skip: set[int] = set()
    while tally.handled < limit and tally.stopped is None:
        await client.wait_for_capacity()  # wait for quota before locking a row, not while holding it
        if not await _submit_next(
            engine, client, settings, tally, now=clock(), batch_tag=batch_tag, skip=skip
        ):
            break
    if tally.stopped:
        log.warning("submit stopped early: %s", tally.stopped)
    return tally.report()


async def _submit_next(
    engine: Engine,
    client: YandexClient,
    settings: Settings,
    tally: _Tally,
    *,
    now: datetime,
    batch_tag: str | None,
    skip: set[int],
) -> bool:
    """Claim the next due query and create its operation in one transaction; False when none is due."""
    with write_scope(engine) as session:
        row = claim_due_query(session, now=now, batch_tag=batch_tag, skip=skip)
        if row is None:
            return False
        skip.add(row.id)
        request = SearchRequest.from_settings(settings, row.query_text, region=row.region_code, page=row.page)
        try:
            operation = await client.create_search(request)
        except SUBMIT_ERRORS as exc:
            _settle_error(row, exc, settings, tally, now=now)
            return True
        _record_operation(session, row, operation, now=now)
        tally.operation_ids.append(operation.id)
        tally.submitted += 1
    return True


def _record_operation(session: Session, row: SerpQuery, operation: Operation, *, now: datetime) -> None:
    """The query is `submitted`; its operation waits as a `pending` row."""
    row.attempts += 1
    row.status = QueryStatus.SUBMITTED
    row.last_error = None
    session.add(
        SerpOperation(
            operation_id=operation.id,
            query_id=row.id,
            status=OperationStatus.PENDING,
            submitted_at=now,
            meta={"page": row.page, "region": row.region_code, "created_at": operation.created_at},
        )
    )


def _settle_error(
    row: SerpQuery, exc: SearchError, settings: Settings, tally: _Tally, *, now: datetime
) -> None:
    """What one failed `create_search` makes of its query: kept for later (and the run stopped), or failed."""
    row.last_error = short_reason(exc)
    if isinstance(exc, NightWindowViolation):
        tally.stopped = f"night window closed: {exc}"
        tally.deferred += 1
    elif isinstance(exc, AuthError):
        tally.stopped = f"authentication failed: {exc}"
        tally.error(row, exc, "retry")
        tally.deferred += 1
    elif isinstance(exc, QuotaExceeded | YandexUnavailable):
        tally.stopped = f"{type(exc).__name__}: {exc}"
        _count_attempt(row, exc, settings, tally, now=now)
    else:  # rejected (4xx): retrying the same request cannot help
        row.attempts += 1
        row.status = QueryStatus.FAILED
        tally.failed += 1
        tally.error(row, exc, "failed")


def _count_attempt(
    row: SerpQuery,
    exc: QuotaExceeded | YandexUnavailable,
    settings: Settings,
    tally: _Tally,
    *,
    now: datetime,
) -> None:
    """A transient error: push the query back, or fail it after YANDEX_MAX_ATTEMPTS."""
    row.attempts += 1
    if row.attempts >= settings.yandex_max_attempts:
        row.status = QueryStatus.FAILED
        tally.failed += 1
        tally.error(row, exc, "failed")
        return
    retry_after = exc.retry_after if isinstance(exc, QuotaExceeded) else None
    row.scheduled_for = now + _retry_delay(settings, row.attempts, retry_after)
    tally.deferred += 1
    tally.error(row, exc, "retry")


def _retry_delay(settings: Settings, attempts: int, retry_after: float | None) -> timedelta:
    if retry_after is not None:
        return min(timedelta(seconds=retry_after), MAX_RETRY_DELAY)
    return min(
        timedelta(seconds=settings.yandex_backoff_seconds * 60 * 2 ** max(attempts - 1, 0)), MAX_RETRY_DELAY
    )
