"""night flow: one run per night — search in rounds until the window closes, then dedupe and enrich."""

from __future__ import annotations

import asyncio
from typing import Any

from prefect import flow, get_run_logger

from flows.artifacts import apublish, astart_progress, aupdate_progress, counts, error_rows, flat_table
from flows.enrich_contacts import enrich_in_batches
from flows.journal import journaled
from flows.params import NightParams
from flows.runtime import avariable_int, outside_night_window, task_runner
from flows.sentences import dedupe_line
from infra.plan import VAR_BATCH_SIZE, VAR_SEARCH_LIMIT
from leadgen.yandex.rounds import night_end
from tasks import runtime
from tasks.alerts import night_backlog_alert_task
from tasks.companies import dedupe_companies_task
from tasks.runtime import load_settings
from tasks.search import night_searches


@flow(name="night", task_runner=task_runner())
@journaled("night")
async def night_flow(params: NightParams = NightParams()) -> dict[str, Any]:
    """Submit due queries and collect finished operations every step until nothing is left or the window
    closes; then one dedupe pass and enrichment of every new company. Async, so the run ends without waiting
    on the heartbeat thread a sync flow joins (about a second per run)."""
    logger = get_run_logger()
    settings = load_settings()
    now = runtime.now()
    closed = outside_night_window("night", "Night", settings, now)
    if closed is not None:
        return closed
    until = night_end(settings, now)
    # The run's three set-up calls to the API go out together.
    limit, batch, progress = await asyncio.gather(
        avariable_int(VAR_SEARCH_LIMIT, 500),
        avariable_int(VAR_BATCH_SIZE, settings.prefect_batch_size),
        astart_progress("night", f"Searching until {until.astimezone(settings.tz):%H:%M}"),
    )
    limit, batch = params.limit or limit, max(1, batch)
    searched = await night_searches(until, params.step_seconds, limit, progress)
    dedupe = dedupe_companies_task()
    enrichment = enrich_in_batches(params.enrich_limit, batch)
    backlog = night_backlog_alert_task()  # emits `leadgen.night.sla-breached` when work is left past the SLA
    search_counts = counts(searched)
    dedupe_counts = counts(dedupe)
    lines = [
        f"{searched['rounds']} rounds: {searched['submitted']} operations created, {searched['done']} done "
        f"({searched['results']} results), {searched['still_pending']} still pending; {searched['ended']}",
        dedupe_line(dedupe),
        *enrichment.lines(),
        f"past the {backlog['sla_hours']:g} h SLA: {backlog['queries_overdue']} queries, "
        f"{backlog['operations_overdue']} operations still pending",
    ]
    errors = error_rows(searched, stage="search") + enrichment.errors
    table = [{"step": "search", **search_counts}, {"step": "dedupe", **dedupe_counts}]
    table += [{"step": "enrich", **row} for row in enrichment.table]
    stats = {"in_window": True, **search_counts, "enriched": enrichment.processed}
    await asyncio.gather(
        aupdate_progress(progress, 1, 1),
        apublish("night", "Night", lines=lines, stats=stats, table=flat_table(table), errors=errors),
    )
    logger.info("; ".join(lines))
    return {
        "in_window": True,
        "search": search_counts,
        "dedupe": dedupe_counts,
        "enrich": {"processed": enrichment.processed, **enrichment.totals},
    }
