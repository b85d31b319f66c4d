"""enrich_contacts flow: crawl new companies' sites in batches and store their contacts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger

from flows.artifacts import error_rows, publish, start_progress, update_progress
from flows.journal import journaled
from flows.params import EnrichParams
from flows.runtime import task_runner, variable_int
from flows.sentences import num
from infra.plan import VAR_BATCH_SIZE
from tasks.claims import release_company_claims
from tasks.contacts import enrich_batch
from tasks.runtime import load_settings


@dataclass
class Enrichment:
    """What a run of enrichment batches did: totals, one table row per batch, and the per-company errors."""

    processed: int = 0
    totals: dict[str, int] = field(default_factory=lambda: {"batches": 0})
    table: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def lines(self) -> list[str]:
        t = self.totals
        return [
            f"{num(self.processed)} companies crawled in {num(t['batches'])} batches",
            f"{num(t.get('enriched', 0))} enriched, {num(t.get('no_contacts', 0))} without contacts, "
            f"{num(t.get('unreachable', 0))} unreachable; {num(t.get('emails', 0))} emails, "
            f"{num(t.get('phones', 0))} phones",
        ]


def enrich_in_batches(
    limit: int, batch: int, progress: UUID | None = None, batch_tag: str | None = None
) -> Enrichment:
    """`enrich_batch` tasks of `batch` companies (of the batch `batch_tag`, if given) until `limit` are crawled
    or none is left."""
    run = Enrichment()
    while run.processed < limit:
        size = min(batch, limit - run.processed)
        report = enrich_batch(size, batch_tag=batch_tag)
        run.totals["batches"] += 1
        numbers = {k: v for k, v in report.items() if isinstance(v, int) and not isinstance(v, bool)}
        for key, value in numbers.items():
            run.totals[key] = run.totals.get(key, 0) + value
        run.table.append({"batch": run.totals["batches"], **numbers})
        run.errors += error_rows(report, stage="enrich")
        claimed = int(report["claimed"])
        run.processed += claimed
        if progress is not None:
            update_progress(progress, run.processed, limit)
        if claimed < size:
            break
    return run


@flow(name="enrich-contacts", task_runner=task_runner())
@journaled("enrich-contacts")
def enrich_contacts_flow(params: EnrichParams = EnrichParams()) -> dict[str, Any]:
    """Enrich up to `limit` companies with status `new` (only those found by `batch_tag`, if given),
    `batch_size` per task, until none is left; first the claims of runs that are gone (finished, crashed,
    killed) are released."""
    logger = get_run_logger()
    settings = load_settings()
    batch = params.batch_size or max(1, variable_int(VAR_BATCH_SIZE, settings.prefect_batch_size))
    progress = start_progress("enrich-contacts", f"Enriching up to {params.limit} companies")
    # claims of runs that are gone (of this batch, with batch_tag) go back to `new` before this run claims
    released = release_company_claims(params.batch_tag)
    run = enrich_in_batches(params.limit, batch, progress, params.batch_tag)
    update_progress(progress, 1, 1)
    lines = run.lines()
    if params.batch_tag:
        lines[0] = f"batch {params.batch_tag}: {lines[0]}"
    if released["owner_gone"] or released["stale"]:
        lines.append(
            f"{released['owner_gone']} companies released from runs that are gone, "
            f"{released['stale']} after the stale timeout"
        )
    publish(
        "enrich-contacts",
        "Enrich contacts",
        lines=lines,
        stats=run.totals,
        table=run.table,
        errors=run.errors,
    )
    logger.info("; ".join(lines))
    return {"processed": run.processed, **run.totals}
