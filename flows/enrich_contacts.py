"""enrich_contacts flow: crawl new companies' sites in batches and store their contacts."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from flows.artifacts import error_rows, publish, start_progress, update_progress
from flows.params import EnrichParams
from flows.runtime import task_runner, variable_int
from infra.plan import VAR_BATCH_SIZE
from tasks.contacts import enrich_batch
from tasks.runtime import load_settings


@flow(name="enrich-contacts", task_runner=task_runner())
def enrich_contacts_flow(params: EnrichParams = EnrichParams()) -> dict[str, Any]:
    """Enrich up to `limit` companies with status `new`, `batch_size` per task, until none is left."""
    logger = get_run_logger()
    settings = load_settings()
    batch = params.batch_size or max(1, variable_int(VAR_BATCH_SIZE, settings.prefect_batch_size))
    progress = start_progress("enrich-contacts", f"Enriching up to {params.limit} companies")
    totals: dict[str, int] = {"batches": 0}
    table: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    processed = 0
    while processed < params.limit:
        size = min(batch, params.limit - processed)
        report = enrich_batch(size)
        totals["batches"] += 1
        numbers = {k: v for k, v in report.items() if isinstance(v, int) and not isinstance(v, bool)}
        for key, value in numbers.items():
            totals[key] = totals.get(key, 0) + value
        table.append({"batch": totals["batches"], **numbers})
        errors += error_rows(report, stage="enrich")
        claimed = int(report["claimed"])
        processed += claimed
        update_progress(progress, processed, params.limit)
        if claimed < size:
            break
    update_progress(progress, 1, 1)
    lines = [
        f"{processed} companies crawled in {totals['batches']} batches",
        f"{totals.get('enriched', 0)} enriched, {totals.get('no_contacts', 0)} without contacts, "
        f"{totals.get('unreachable', 0)} unreachable; {totals.get('emails', 0)} emails, "
        f"{totals.get('phones', 0)} phones",
    ]
    publish("enrich-contacts", "Enrich contacts", lines=lines, stats=totals, table=table, errors=errors)
    logger.info("; ".join(lines))
    return {"processed": processed, **totals}
