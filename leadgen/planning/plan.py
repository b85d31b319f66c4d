"""`plan_batch`: generate, schedule and insert the queries of validated rows; idempotent by query_hash."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import cast

from sqlalchemy import Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from leadgen.batch_tags import batch_tag_problem
from leadgen.db.models import QueryStatus, SerpQuery
from leadgen.errors import ConfigurationError
from leadgen.planning.outcomes import (
    ROW_ALREADY_PLANNED,
    ROW_DRY_RUN,
    ROW_ERROR,
    ROW_PLANNED,
    PlannedQuery,
    PlanReport,
    RowOutcome,
)
from leadgen.planning.queries import GeneratedQuery, QueryOptions, generate_queries
from leadgen.planning.rows import NicheRow, RowError
from leadgen.planning.schedule import schedule_slots, scheduler_for
from leadgen.settings import Settings
from leadgen.stage_report import ItemError

log = logging.getLogger(__name__)
SELECTION = "plain+triggers"
CHUNK = 500  # hashes per IN (...) list and rows per INSERT batch
CHUNK_ROWS = 2000  # niche rows planned together (up to 12,000 queries), so a 100,000-row run streams


def _iso(moment: datetime | None, tz: tzinfo) -> str | None:
    return moment.astimezone(tz).isoformat(timespec="seconds") if moment else None


def _existing(session: Session, hashes: Sequence[str]) -> dict[str, datetime | None]:
    """query_hash -> scheduled_for of the hashes already in serp_queries."""
    found: dict[str, datetime | None] = {}
    for i in range(0, len(hashes), CHUNK):
        chunk = list(hashes[i : i + CHUNK])
        rows = session.execute(
            select(SerpQuery.query_hash, SerpQuery.scheduled_for).where(SerpQuery.query_hash.in_(chunk))
        )
        found.update({h: s for h, s in rows})
    return found


def _last_pending_slot(session: Session, now: datetime) -> datetime | None:
    """The latest slot already taken by a pending query, so new batches queue behind earlier ones."""
    return session.scalar(
        select(func.max(SerpQuery.scheduled_for)).where(
            SerpQuery.status == QueryStatus.PENDING, SerpQuery.scheduled_for >= now
        )
    )


def _meta(row: NicheRow, query: GeneratedQuery, batch_tag: str, settings: Settings) -> dict[str, object]:
    return {
        "niche": row.niche,
        "city": row.city,
        "country": row.country,
        "trigger": query.trigger,
        "batch_tag": batch_tag,
        "language": settings.planning_language or None,
        "selection": {
            "rule": SELECTION,
            "rank": query.rank,
            "minus_domains": query.minus_domains,
            "no_files": query.no_files,
        },
        "region_name": row.region_name,
        "region_verified": row.region_verified,
        "source_row": row.row_number,
        "extras": dict(row.extras),
    }


def _insert(session: Session, values: list[dict[str, object]]) -> set[str]:
    """INSERT ... ON CONFLICT (query_hash) DO NOTHING RETURNING query_hash, executemany-style (one cached
    statement); returns the hashes actually inserted, so a concurrent planner's rows count as duplicates."""
    if not values:
        return set()
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(cast(Table, SerpQuery.__table__))
        .on_conflict_do_nothing(index_elements=["query_hash"])
        .returning(SerpQuery.__table__.c.query_hash)
    )
    inserted: set[str] = set()
    for i in range(0, len(values), CHUNK):
        inserted.update(session.execute(stmt, values[i : i + CHUNK]).scalars())
    return inserted


@dataclass(slots=True)
class _RowPlan:
    row: NicheRow
    tag: str
    queries: list[GeneratedQuery]


@dataclass(slots=True)
class _Run:
    """What one planning run carries from chunk to chunk: the last slot taken and the slot of every query this
    run scheduled (so a query repeated in a later chunk counts as a duplicate with that slot, also in a dry run)."""

    settings: Settings
    now: datetime
    dry_run: bool
    emit: Callable[[PlannedQuery], None]
    last_slot: datetime | None
    scheduled: dict[str, datetime] = field(default_factory=dict)


def plan_batch(
    session: Session,
    settings: Settings,
    rows: Iterable[NicheRow | RowError],
    *,
    batch_tag: str | None,
    now: datetime,
    dry_run: bool = False,
    on_query: Callable[[PlannedQuery], None] | None = None,
) -> PlanReport:
    """Plan the rows of one batch into serp_queries (pending, night window) and report per row.

    Rows whose own batch_tag differs from `batch_tag` are skipped; rows without one take `batch_tag` (which must
    pass the one batch-tag rule, leadgen.batch_tags, else ConfigurationError). Queries
    already in the database (same query_hash) count as duplicates and keep their schedule. Does not commit.
    Rows are planned in chunks of CHUNK_ROWS, so memory stays flat; with `on_query` every planned query is handed
    to it as it is planned (a dry run of 100,000 rows streams) and `report.queries` stays empty.
    """
    if batch_tag is not None and (problem := batch_tag_problem(batch_tag)):
        raise ConfigurationError(f"batch_tag {problem}")  # the rule of the column, the CLI and the flows
    options = QueryOptions.from_settings(settings)
    planned: list[PlannedQuery] = []
    run = _Run(settings, now, dry_run, on_query or planned.append, _last_pending_slot(session, now))
    outcomes: list[RowOutcome] = []
    chunk: list[tuple[int, _RowPlan]] = []
    skipped = 0
    for row in rows:
        if batch_tag is not None and row.batch_tag is not None and row.batch_tag != batch_tag:
            skipped += 1
            continue
        checked = _check_row(row, row.batch_tag or batch_tag, options)
        if isinstance(checked, RowOutcome):
            outcomes.append(checked)
            continue
        outcomes.append(RowOutcome(row.row_number, ROW_DRY_RUN, checked.tag))  # placeholder, replaced below
        chunk.append((len(outcomes) - 1, checked))
        if len(chunk) >= CHUNK_ROWS:
            _plan_chunk(session, run, chunk, outcomes)
            chunk = []
    if chunk:
        _plan_chunk(session, run, chunk, outcomes)
    report = _summarise(outcomes, planned, batch_tag=batch_tag, dry_run=dry_run, skipped=skipped)
    log.info(
        "planned batch %s: %d rows, %d queries generated, %d added, %d duplicates, %d row errors%s",
        batch_tag or "(per row)", report.rows_total, report.generated, report.inserted, report.duplicates,
        report.rows_failed, " (dry run)" if dry_run else "",
    )  # fmt: skip
    return report


def _check_row(row: NicheRow | RowError, tag: str | None, options: QueryOptions) -> _RowPlan | RowOutcome:
    """The queries of a row to plan, or its `error` outcome (invalid, no batch tag, no query fits)."""
    if isinstance(row, RowError):
        return RowOutcome(row.row_number, ROW_ERROR, tag, last_error=row.reason)
    if tag is None:
        reason = "batch_tag is empty: fill the column or pass --batch-tag"
        return RowOutcome(row.row_number, ROW_ERROR, None, last_error=reason)
    if not (queries := generate_queries(row, options)):
        reason = "no query fits the 400-character / 40-word limit"
        return RowOutcome(row.row_number, ROW_ERROR, tag, last_error=reason)
    return _RowPlan(row, tag, queries)


def _plan_chunk(
    session: Session, run: _Run, chunk: list[tuple[int, _RowPlan]], outcomes: list[RowOutcome]
) -> None:
    """Schedule, insert (unless a dry run) and report the rows of one chunk, in row order."""
    # 1. which queries exist already (their slots are kept); 2. slots for the rest, in row order
    hashes = dict.fromkeys(q.query_hash for _, p in chunk for q in p.queries)
    existing = _existing(session, [h for h in hashes if h not in run.scheduled])
    fresh: dict[str, tuple[_RowPlan, GeneratedQuery]] = {}
    for _, plan in chunk:
        for q in plan.queries:
            h = q.query_hash
            if h not in existing and h not in run.scheduled and h not in fresh:
                fresh[h] = (plan, q)
    window, step = scheduler_for(run.settings)
    slots = schedule_slots(len(fresh), now=run.now, window=window, step=step, after=run.last_slot)
    if slots:
        run.last_slot = slots[-1]
    slot_of = dict(zip(fresh, slots, strict=True))
    # 3. one bulk insert; anything not inserted now was planned concurrently and is a duplicate
    inserted = set(fresh) if run.dry_run else _insert_fresh(session, run.settings, fresh, slot_of)
    raced = [h for h in fresh if h not in inserted]
    if raced:
        existing |= _existing(session, raced)
    for h in inserted:
        run.scheduled[h] = slot_of[h]
    _report_chunk(run, chunk, outcomes, inserted, existing)


def _insert_fresh(
    session: Session,
    settings: Settings,
    fresh: dict[str, tuple[_RowPlan, GeneratedQuery]],
    slot_of: dict[str, datetime],
) -> set[str]:
    """Insert the queries not yet in serp_queries at their slots; the hashes actually inserted."""
    values = [
        {
            "query_text": q.query_text,
            "region_code": q.region_code,
            "query_hash": h,
            "page": 0,
            "status": QueryStatus.PENDING.value,
            "scheduled_for": slot_of[h],
            "is_night_window": True,
            "batch_tag": plan.tag,
            "metadata": _meta(plan.row, q, plan.tag, settings),
        }
        for h, (plan, q) in fresh.items()
    ]
    return _insert(session, values)


def _report_chunk(
    run: _Run,
    chunk: list[tuple[int, _RowPlan]],
    outcomes: list[RowOutcome],
    inserted: set[str],
    existing: dict[str, datetime | None],
) -> None:
    """The outcome of each row of the chunk (a query inserted twice in it counts for its first row) and its
    planned queries, handed to `run.emit`."""
    tz = run.settings.tz
    owner: set[str] = set()
    for index, plan in chunk:
        row_hashes = [q.query_hash for q in plan.queries]
        new = [h for h in row_hashes if h in inserted and h not in owner]
        owner.update(new)
        when = {h: run.scheduled.get(h) or existing.get(h) for h in row_hashes}
        times = [t for t in when.values() if t is not None]
        status = ROW_DRY_RUN if run.dry_run else (ROW_PLANNED if new else ROW_ALREADY_PLANNED)
        outcomes[index] = RowOutcome(
            plan.row.row_number,
            status,
            plan.tag,
            generated_count=len(row_hashes),
            db_inserted_count=len(new),
            db_duplicate_count=len(row_hashes) - len(new),
            db_first_scheduled_for=_iso(min(times), tz) if times else None,
            db_last_scheduled_for=_iso(max(times), tz) if times else None,
        )
        for q in plan.queries:
            run.emit(
                PlannedQuery(
                    plan.row.row_number, q.query_text, q.region_code, plan.row.region_name, q.query_hash,
                    q.trigger, _iso(when[q.query_hash], tz), q.query_hash in new,
                )
            )  # fmt: skip


def _summarise(
    outcomes: list[RowOutcome],
    planned: list[PlannedQuery],
    *,
    batch_tag: str | None,
    dry_run: bool,
    skipped: int,
) -> PlanReport:
    firsts = sorted(o.db_first_scheduled_for for o in outcomes if o.db_first_scheduled_for)
    lasts = sorted(o.db_last_scheduled_for for o in outcomes if o.db_last_scheduled_for)
    return PlanReport(
        batch_tag=batch_tag,
        dry_run=dry_run,
        rows_total=len(outcomes),
        rows_planned=sum(o.status in (ROW_PLANNED, ROW_ALREADY_PLANNED, ROW_DRY_RUN) for o in outcomes),
        rows_failed=sum(o.status == ROW_ERROR for o in outcomes),
        rows_skipped=skipped,
        generated=sum(o.generated_count for o in outcomes),
        inserted=sum(o.db_inserted_count for o in outcomes),
        duplicates=sum(o.db_duplicate_count for o in outcomes),
        first_scheduled_for=firsts[0] if firsts else None,
        last_scheduled_for=lasts[-1] if lasts else None,
        outcomes=outcomes,
        queries=planned,
        errors=tuple(
            ItemError("row", o.last_error or "invalid row", id=o.row_number)
            for o in outcomes
            if o.status == ROW_ERROR
        ),
    )
