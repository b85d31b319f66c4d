"""collect_results flow: poll deferred operations, ingest finished SERPs, then dedupe companies."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from flows.artifacts import error_rows, publish, start_progress, update_progress
from flows.journal import journaled
from flows.params import CollectParams
from flows.runtime import task_runner, variable_int
from flows.sentences import dedupe_line, num
from infra.plan import VAR_SEARCH_LIMIT
from tasks.companies import dedupe_companies_task
from tasks.search import collect_operations_task

COUNTED = ("polled", "done", "still_pending", "failed", "expired", "requeued", "results")


@flow(name="collect-results", task_runner=task_runner())
@journaled("collect-results")
def collect_results_flow(params: CollectParams = CollectParams()) -> dict[str, Any]:
    """Poll due operations in rounds (one round unless `wait_seconds`), then one dedupe pass over companies.

    With `batch_tag`, only operations of that batch's queries are polled (and counted as pending). The dedupe
    pass still sees every company: one record per domain is a property of the whole table.
    """
    logger = get_run_logger()
    limit = params.limit or variable_int(VAR_SEARCH_LIMIT, 500)
    progress = start_progress("collect-results", "Polling deferred operations")
    report = collect_operations_task(limit, params.batch_tag, params.wait_seconds, progress)
    totals: dict[str, Any] = {k: report[k] for k in ("rounds", *COUNTED, "stopped")}
    table = [{k: row[k] for k in ("round", *COUNTED)} for row in report["table"]]
    errors = error_rows(report, stage="collect")
    dedupe = dedupe_companies_task()
    totals["dedupe"] = {k: v for k, v in dedupe.items() if not isinstance(v, list | dict)}
    update_progress(progress, 1, 1)
    scope = f"batch {params.batch_tag}: " if params.batch_tag else ""
    lines = [
        f"{scope}{num(totals['polled'])} polls in {num(totals['rounds'])} rounds: {num(totals['done'])} done, "
        f"{num(totals['still_pending'])} still pending, {num(totals['failed'])} failed, "
        f"{num(totals['expired'])} expired",
        f"{num(totals['results'])} SERP results stored",
        dedupe_line(dedupe),
    ]
    publish("collect-results", "Collect results", lines=lines, stats=totals, table=table, errors=errors)
    logger.info("; ".join(lines))
    return totals
