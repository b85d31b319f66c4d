"""night_search flow: create deferred Yandex operations for due queries, only inside the night window."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from flows.artifacts import error_rows, publish, start_progress, update_progress
from flows.journal import journaled
from flows.params import SearchParams
from flows.runtime import outside_night_window, task_runner, variable_int
from infra.plan import VAR_BATCH_SIZE, VAR_SEARCH_LIMIT
from tasks import runtime
from tasks.runtime import load_settings
from tasks.search import submit_queries


@flow(name="night-search", task_runner=task_runner())
@journaled("night-search")
def night_search_flow(params: SearchParams = SearchParams()) -> dict[str, Any]:
    """Submit due queries in batches; outside NIGHT_WINDOW it returns at once with the next window start."""
    logger = get_run_logger()
    settings = load_settings()
    closed = outside_night_window("night-search", "Night search", settings, runtime.now(), submitted=0)
    if closed is not None:
        return closed
    limit = params.limit or variable_int(VAR_SEARCH_LIMIT, 500)
    batch = max(1, variable_int(VAR_BATCH_SIZE, settings.prefect_batch_size))
    progress = start_progress("night-search", f"Submitting up to {limit} queries")
    totals: dict[str, Any] = {"in_window": True, "submitted": 0, "deferred": 0, "failed": 0, "batches": 0}
    table: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    stopped: str | None = None
    while totals["submitted"] + totals["deferred"] + totals["failed"] < limit:
        size = min(batch, limit - totals["submitted"] - totals["deferred"] - totals["failed"])
        report = submit_queries(size, params.batch_tag)
        totals["batches"] += 1
        for key in ("submitted", "deferred", "failed"):
            totals[key] += report[key]
        table.append(
            {"batch": totals["batches"], **{k: report[k] for k in ("submitted", "deferred", "failed")}}
        )
        errors += error_rows(report, stage="submit")
        update_progress(progress, totals["submitted"] + totals["deferred"] + totals["failed"], limit)
        stopped = report.get("stopped") or (None if report["in_window"] else "the night window closed")
        if stopped or report["submitted"] + report["deferred"] + report["failed"] < size:
            break
    update_progress(progress, 1, 1)
    totals["stopped"] = stopped
    if stopped:
        ending = f"stopped early: {stopped}"
    elif totals["submitted"] + totals["deferred"] + totals["failed"] >= limit:
        ending = "limit reached; the next run carries on"
    else:
        ending = "no more due queries"
    done = (
        f"{totals['submitted']} operations created, {totals['deferred']} deferred, {totals['failed']} failed"
    )
    lines = [done, ending]
    publish("night-search", "Night search", lines=lines, stats=totals, table=table, errors=errors)
    logger.info("; ".join(lines))
    return totals
