"""One planning run: read NICHES_INPUT once, plan in one transaction, then write statuses back once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from requests.adapters import BaseAdapter
from sqlalchemy import Engine

from leadgen.db.engine import read_scope, write_scope
from leadgen.outputs import check_output
from leadgen.planning.outcomes import PlannedQuery, PlanReport
from leadgen.planning.plan import plan_batch
from leadgen.planning.sheets import NicheSheet
from leadgen.planning.source import NicheCsv, open_niches
from leadgen.settings import Settings


def run_planning(
    engine: Engine,
    settings: Settings,
    *,
    source: str | None = None,
    batch_tag: str | None = None,
    now: datetime,
    dry_run: bool = False,
    http: BaseAdapter | None = None,
    status_out: Path | None = None,
    on_query: Callable[[PlannedQuery], None] | None = None,
) -> tuple[PlanReport, int]:
    """Read, plan (committed before anything is written back) and write back; returns the report and the number
    of cells (sheet) or rows (CSV status file) written. A dry run writes neither the database nor the input.
    A status file that cannot be written is refused before the database changes; `on_query` streams queries."""
    niches = open_niches(settings, source, http=http)
    if status_out is not None and not dry_run and isinstance(niches, NicheCsv):
        check_output(status_out, inputs=[niches.path])  # before the database changes, so no status is lost
    scope = read_scope if dry_run else write_scope  # a dry run cannot write, whatever plan_batch does
    with scope(engine) as session:
        report = plan_batch(
            session, settings, niches.rows, batch_tag=batch_tag, now=now, dry_run=dry_run, on_query=on_query
        )
    if dry_run:
        return report, 0
    if isinstance(niches, NicheSheet):
        return report, niches.write_back(report.outcomes)
    assert isinstance(niches, NicheCsv)
    return report, niches.write_back(report.outcomes, out=status_out)
