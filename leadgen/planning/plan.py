"""`plan_batch`: generate, schedule and insert the queries of validated rows; idempotent by query_hash."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, tzinfo

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from leadgen.db.models import QueryStatus, SerpQuery
from leadgen.planning.queries import GeneratedQuery, QueryOptions, generate_queries
from leadgen.planning.report import (
    ROW_ALREADY_PLANNED,
    ROW_DRY_RUN,
    ROW_ERROR,
    ROW_PLANNED,
    PlannedQuery,
    PlanReport,
    RowOutcome,
)
from leadgen.planning.rows import NicheRow, RowError
from leadgen.planning.schedule import schedule_slots, scheduler_for
from leadgen.settings import Settings

log = logging.getLogger(__name__)
SELECTION = "plain+triggers"


def _iso(moment: datetime | None, tz: tzinfo) -> str | None:
    return moment.astimezone(tz).isoformat(timespec="seconds") if moment else None


def _existing(session: Session, hashes: Sequence[str]) -> dict[str, datetime | None]:
    if not hashes:
        return {}
    rows = session.execute(
        select(SerpQuery.query_hash, SerpQuery.scheduled_for).where(SerpQuery.query_hash.in_(hashes))
    )
    return {h: s for h, s in rows}


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
    """INSERT ... ON CONFLICT (query_hash) DO NOTHING; returns the hashes actually inserted."""
    if not values:
        return set()
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(SerpQuery)
        .values(values)
        .on_conflict_do_nothing(index_elements=["query_hash"])
        .returning(SerpQuery.query_hash)
    )
    return set(session.scalars(stmt))


def plan_batch(
    session: Session,
    settings: Settings,
    rows: Sequence[NicheRow | RowError],
    *,
    batch_tag: str | None,
    now: datetime,
    dry_run: bool = False,
) -> PlanReport:
    """Plan the rows of one batch into serp_queries (pending, night window) and report per row.

    Rows whose own batch_tag differs from `batch_tag` are skipped; rows without one take `batch_tag`. Queries
    already in the database (same query_hash) count as duplicates and keep their schedule. Does not commit.
    """
    tz = settings.tz
    options = QueryOptions.from_settings(settings)
    window, step = scheduler_for(settings)
    after = _last_pending_slot(session, now)
    outcomes: list[RowOutcome] = []
    planned: list[PlannedQuery] = []
    seen_in_batch: dict[str, datetime | None] = {}
    skipped = 0
    for row in rows:
        tag = row.batch_tag or batch_tag
        if batch_tag is not None and row.batch_tag is not None and row.batch_tag != batch_tag:
            skipped += 1
            continue
        if isinstance(row, RowError):
            outcomes.append(RowOutcome(row.row_number, ROW_ERROR, tag, last_error=row.reason))
            continue
        if tag is None:
            reason = "batch_tag is empty: fill the column or pass --batch-tag"
            outcomes.append(RowOutcome(row.row_number, ROW_ERROR, None, last_error=reason))
            continue
        queries = generate_queries(row, options)
        if not queries:
            reason = "no query fits the 400-character / 40-word limit"
            outcomes.append(RowOutcome(row.row_number, ROW_ERROR, tag, last_error=reason))
            continue
        hashes = [q.query_hash for q in queries]
        existing = _existing(session, hashes) | {h: seen_in_batch[h] for h in hashes if h in seen_in_batch}
        fresh = [q for q in queries if q.query_hash not in existing]
        slots = schedule_slots(len(fresh), now=now, window=window, step=step, after=after)
        if slots:
            after = slots[-1]
        slot_of = {q.query_hash: s for q, s in zip(fresh, slots, strict=True)}
        seen_in_batch.update(slot_of)
        values = [
            {
                "query_text": q.query_text,
                "region_code": q.region_code,
                "query_hash": q.query_hash,
                "page": 0,
                "status": QueryStatus.PENDING,
                "scheduled_for": slot_of[q.query_hash],
                "is_night_window": True,
                "batch_tag": tag,
                "meta": _meta(row, q, tag, settings),
            }
            for q in fresh
        ]
        inserted = set() if dry_run else _insert(session, values)
        if dry_run:
            times = [*(t for t in existing.values() if t), *slots]
        else:
            times = [t for t in _existing(session, hashes).values() if t]
        n_inserted = len(fresh) if dry_run else len(inserted)
        status = ROW_DRY_RUN if dry_run else (ROW_PLANNED if inserted else ROW_ALREADY_PLANNED)
        outcomes.append(
            RowOutcome(
                row.row_number,
                status,
                tag,
                generated_count=len(queries),
                db_inserted_count=n_inserted,
                db_duplicate_count=len(queries) - n_inserted,
                db_first_scheduled_for=_iso(min(times), tz) if times else None,
                db_last_scheduled_for=_iso(max(times), tz) if times else None,
            )
        )
        for q in queries:
            when = slot_of.get(q.query_hash) or existing.get(q.query_hash)
            is_new = q.query_hash in (slot_of if dry_run else inserted)
            planned.append(
                PlannedQuery(
                    row.row_number, q.query_text, q.region_code, row.region_name, q.query_hash,
                    q.trigger, _iso(when, tz), is_new,
                )
            )  # fmt: skip
    report = _summarise(outcomes, planned, batch_tag=batch_tag, dry_run=dry_run, skipped=skipped)
    log.info(
        "planned batch %s: %d rows, %d queries generated, %d added, %d duplicates, %d row errors%s",
        batch_tag or "(per row)", report.rows_total, report.generated, report.inserted, report.duplicates,
        report.rows_failed, " (dry run)" if dry_run else "",
    )  # fmt: skip
    return report


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
    )
