"""night_search flow: create deferred Yandex operations for due queries, only inside the night window."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from flows.artifacts import error_rows, publish, start_progress, update_progress
from flows.journal import journaled
from flows.params import SearchParams
from flows.runtime import outside_night_window, task_runner, variable_int
from infra.plan import VAR_SEARCH_LIMIT
from tasks import runtime
from tasks.runtime import load_settings
from tasks.search import submit_queries

COUNTED = ("submitted", "deferred", "failed")


@flow(name="night-search", task_runner=task_runner())
@journaled("night-search")
def night_search_flow(params: SearchParams = SearchParams()) -> dict[str, Any]:
    """Submit up to `limit` due queries in one round; outside NIGHT_WINDOW it returns at once with the next
    window start."""
    logger = get_run_logger()
    settings = load_settings()
    closed = outside_night_window("night-search", "Night search", settings, runtime.now(), submitted=0)
    if closed is not None:
        return closed
    limit = params.limit or variable_int(VAR_SEARCH_LIMIT, 500)
    progress = start_progress("night-search", f"Submitting up to {limit} queries")
    report = submit_queries(limit, params.batch_tag)
    update_progress(progress, 1, 1)
    window_closed = report["ended"] == "the night window closed"  # between the check above and the round
    stopped = report["stopped"] or ("the night window closed" if window_closed else None)
    totals: dict[str, Any] = {"in_window": True, **{k: report[k] for k in COUNTED}, "stopped": stopped}
    handled = sum(report[k] for k in COUNTED)
    if stopped:
        ending = f"stopped early: {stopped}"
    elif handled >= limit:
        ending = "limit reached; the next run carries on"
    else:
        ending = "no more due queries"
    done = (
        f"{report['submitted']} operations created, {report['deferred']} deferred, {report['failed']} failed"
    )
    lines = [done, ending]
    table = [{k: row[k] for k in ("round", *COUNTED)} for row in report["table"]]
    errors = error_rows(report, stage="submit")
    publish("night-search", "Night search", lines=lines, stats=totals, table=table, errors=errors)
    logger.info("; ".join(lines))
    return totals
