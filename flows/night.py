"""night flow: one run per night — search in rounds until the window closes, then dedupe and enrich."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from flows.artifacts import counts, error_rows, flat_table, publish, start_progress, update_progress
from flows.enrich_contacts import enrich_in_batches
from flows.params import NightParams
from flows.runtime import outside_night_window, task_runner, variable_int
from infra.plan import VAR_BATCH_SIZE, VAR_SEARCH_LIMIT
from leadgen.yandex.rounds import night_end
from tasks import runtime
from tasks.companies import dedupe_companies_task
from tasks.runtime import load_settings
from tasks.search import night_searches


@flow(name="night", task_runner=task_runner())
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
    limit = params.limit or variable_int(VAR_SEARCH_LIMIT, 500)
    batch = max(1, variable_int(VAR_BATCH_SIZE, settings.prefect_batch_size))
    until = night_end(settings, now)
    progress = start_progress("night", f"Searching until {until.astimezone(settings.tz):%H:%M}")
    searched = await night_searches(until, params.step_seconds, limit, progress)
    dedupe = dedupe_companies_task()
    enrichment = enrich_in_batches(params.enrich_limit, batch)
    update_progress(progress, 1, 1)
    search_counts = counts(searched)
    dedupe_counts = counts(dedupe)
    lines = [
        f"{searched['rounds']} rounds: {searched['submitted']} operations created, {searched['done']} done "
        f"({searched['results']} results), {searched['still_pending']} still pending; {searched['ended']}",
        f"dedupe: {dedupe_counts}",
        *enrichment.lines(),
    ]
    errors = error_rows(searched, stage="search") + enrichment.errors
    table = [{"step": "search", **search_counts}, {"step": "dedupe", **dedupe_counts}]
    table += [{"step": "enrich", **row} for row in enrichment.table]
    stats = {"in_window": True, **search_counts, "enriched": enrichment.processed}
    publish("night", "Night", lines=lines, stats=stats, table=flat_table(table), errors=errors)
    logger.info("; ".join(lines))
    return {
        "in_window": True,
        "search": search_counts,
        "dedupe": dedupe_counts,
        "enrich": {"processed": enrichment.processed, **enrichment.totals},
    }
