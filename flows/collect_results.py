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
from tasks import runtime
from tasks.companies import dedupe_companies_task
from tasks.runtime import load_settings
from tasks.search import collect_operations_task, pending_operations_task

COUNTED = ("polled", "done", "still_pending", "failed", "expired", "requeued", "results")


@flow(name="collect-results", task_runner=task_runner())
@journaled("collect-results")
def collect_results_flow(params: CollectParams = CollectParams()) -> dict[str, Any]:
    """Poll due operations in rounds (one round unless `wait_seconds`), then one dedupe pass over companies.

    With `batch_tag`, only operations of that batch's queries are polled (and counted as pending). The dedupe
    pass still sees every company: one record per domain is a property of the whole table.
    """
    logger = get_run_logger()
    settings = load_settings()
    limit = params.limit or variable_int(VAR_SEARCH_LIMIT, 500)
    deadline = runtime.now().timestamp() + params.wait_seconds
    progress = start_progress("collect-results", "Polling deferred operations")
    totals: dict[str, Any] = dict.fromkeys(COUNTED, 0) | {"rounds": 0}
    table: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    while True:
        report = collect_operations_task(limit, params.batch_tag)
        totals["rounds"] += 1
        for key in COUNTED:
            totals[key] = totals[key] + report[key] if key != "still_pending" else report[key]
        table.append({"round": totals["rounds"], **{k: report[k] for k in COUNTED}})
        errors += error_rows(report, stage="collect")
        pending = pending_operations_task(params.batch_tag)
        totals["still_pending"] = pending
        update_progress(progress, totals["done"], totals["done"] + pending)
        left = deadline - runtime.now().timestamp()
        if report.get("stopped") or pending == 0 or left <= 0:
            totals["stopped"] = report.get("stopped")
            break
        if report["polled"] < limit:  # every due operation polled: wait until the next ones are due
            runtime.sleep(max(0.1, min(float(settings.yandex_poll_interval_seconds), left)))
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
