"""Outcomes of planning: per-row outcomes (what is written back to the sheet) and the counts of one planning run."""

from __future__ import annotations

from dataclasses import dataclass, field

from leadgen.stage_report import ItemError

ROW_PLANNED = "planned"  # at least one new query inserted
ROW_ALREADY_PLANNED = "already_planned"  # every generated query was already in serp_queries
ROW_DRY_RUN = "dry_run"  # checked and scheduled, nothing written
ROW_ERROR = "error"  # invalid row; last_error says why


@dataclass(frozen=True, slots=True)
class PlannedQuery:
    """A query of the batch as scheduled; `inserted` is False for one already in the database."""

    row_number: int
    query_text: str
    region_code: str
    region_name: str
    query_hash: str
    trigger: str | None
    scheduled_for: str | None
    inserted: bool


@dataclass(frozen=True, slots=True)
class RowOutcome:
    """What happened to one input row; these are the values written back to the sheet."""

    row_number: int
    status: str
    batch_tag: str | None = None
    generated_count: int = 0
    db_inserted_count: int = 0
    db_duplicate_count: int = 0
    db_first_scheduled_for: str | None = None
    db_last_scheduled_for: str | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class PlanReport:
    """Counts of one planning run plus per-row outcomes and the queries (times are ISO 8601, APP_TIMEZONE).

    `errors` has one item `row` (id: its row number) per row that ended `error`: invalid input (a
    `leadgen.planning.rows.RowError`), no batch tag, or no query that fits; the same rows are in `outcomes`.
    """

    batch_tag: str | None
    dry_run: bool
    rows_total: int
    rows_planned: int
    rows_failed: int
    rows_skipped: int
    generated: int
    inserted: int
    duplicates: int
    first_scheduled_for: str | None
    last_scheduled_for: str | None
    outcomes: list[RowOutcome] = field(default_factory=list)
    queries: list[PlannedQuery] = field(default_factory=list)
    errors: tuple[ItemError, ...] = ()
