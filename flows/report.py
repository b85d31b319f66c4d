"""report flow: the funnel of a batch (or all), CSV exports, and the summary as artifacts."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from flows.artifacts import publish
from flows.journal import journaled
from flows.params import ReportParams
from flows.runtime import task_runner
from flows.sentences import funnel_line, num
from tasks.reports import export_csv_task, funnel_task


@flow(name="report", task_runner=task_runner())
@journaled("report")
def report_flow(params: ReportParams = ReportParams()) -> dict[str, Any]:
    """Count every stage of the batch and publish the funnel; exports CSVs when asked."""
    logger = get_run_logger()
    funnel = funnel_task(params.batch_tag)
    exported = export_csv_task(params.batch_tag) if params.export_csv else None
    title = f"Report: batch {params.batch_tag}" if params.batch_tag else "Report: all batches"
    table = [
        {"stage": k, "count": v} for k, v in funnel.items() if isinstance(v, int) and not isinstance(v, bool)
    ]
    lines = [funnel_line(funnel)]
    if exported:
        lines.append(
            f"exported {num(exported['domains'])} domains and {num(exported['contacts'])} contacts "
            f"to {exported['folder']}"
        )
    publish("report", title, lines=lines, table=table)
    logger.info("; ".join(lines))
    return {"funnel": funnel, "exported": exported}
