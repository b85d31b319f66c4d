"""`plan_batch`: generate, schedule and insert the queries of validated rows; idempotent by query_hash."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
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
CHUNK = 500  # hashes per IN (...) list and rows per INSERT batch


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
        insert(SerpQuery.__table__)
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
    outcomes: dict[int, RowOutcome] = {}
    order: list[int] = []
    plans: list[_RowPlan] = []
    plan_index: list[int] = []
    skipped = 0
    for index, row in enumerate(rows):
        tag = row.batch_tag or batch_tag
        if batch_tag is not None and row.batch_tag is not None and row.batch_tag != batch_tag:
            skipped += 1
            continue
        order.append(index)
        if isinstance(row, RowError):
            outcomes[index] = RowOutcome(row.row_number, ROW_ERROR, tag, last_error=row.reason)
        elif tag is None:
            reason = "batch_tag is empty: fill the column or pass --batch-tag"
            outcomes[index] = RowOutcome(row.row_number, ROW_ERROR, None, last_error=reason)
        elif not (queries := generate_queries(row, options)):
            reason = "no query fits the 400-character / 40-word limit"
            outcomes[index] = RowOutcome(row.row_number, ROW_ERROR, tag, last_error=reason)
        else:
            plans.append(_RowPlan(row, tag, queries))
            plan_index.append(index)

    # 1. which queries exist already (their slots are kept); 2. slots for the rest, in row order
    existing = _existing(session, list(dict.fromkeys(q.query_hash for p in plans for q in p.queries)))
    fresh: dict[str, tuple[_RowPlan, GeneratedQuery]] = {}
    for plan in plans:
        for q in plan.queries:
            if q.query_hash not in existing and q.query_hash not in fresh:
                fresh[q.query_hash] = (plan, q)
    slots = schedule_slots(
        len(fresh), now=now, window=window, step=step, after=_last_pending_slot(session, now)
    )
    slot_of = dict(zip(fresh, slots, strict=True))

    # 3. one bulk insert; anything not inserted now was planned concurrently and is a duplicate
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
    inserted = set(fresh) if dry_run else _insert(session, values)
    raced = [h for h in fresh if h not in inserted]
    if raced:
        existing |= _existing(session, raced)
    when = {h: slot_of[h] for h in inserted} | existing

    planned: list[PlannedQuery] = []
    owner: set[str] = set()
    for index, plan in zip(plan_index, plans, strict=True):
        hashes = [q.query_hash for q in plan.queries]
        new = [h for h in hashes if h in inserted and h not in owner]
        owner.update(new)
        times = [t for t in (when.get(h) for h in hashes) if t is not None]
        status = ROW_DRY_RUN if dry_run else (ROW_PLANNED if new else ROW_ALREADY_PLANNED)
        outcomes[index] = RowOutcome(
            plan.row.row_number,
            status,
            plan.tag,
            generated_count=len(hashes),
            db_inserted_count=len(new),
            db_duplicate_count=len(hashes) - len(new),
            db_first_scheduled_for=_iso(min(times), tz) if times else None,
            db_last_scheduled_for=_iso(max(times), tz) if times else None,
        )
        planned.extend(
            PlannedQuery(
                plan.row.row_number, q.query_text, q.region_code, plan.row.region_name, q.query_hash,
                q.trigger, _iso(when.get(q.query_hash), tz), q.query_hash in new,
            )
            for q in plan.queries
        )  # fmt: skip
    report = _summarise(
        [outcomes[i] for i in order], planned, batch_tag=batch_tag, dry_run=dry_run, skipped=skipped
    )
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
