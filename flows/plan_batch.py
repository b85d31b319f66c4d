"""plan_batch flow: read NICHES_INPUT, validate rows, insert ≤ 6 queries per niche scheduled in the night window."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from flows.artifacts import counts, error_rows, mask_pii, publish
from flows.journal import journaled
from flows.params import PlanParams
from flows.runtime import task_runner
from tasks.planning import plan_batch_task


@flow(name="plan-batch", task_runner=task_runner(), log_prints=True)
@journaled("plan-batch")
def plan_batch_flow(params: PlanParams = PlanParams()) -> dict[str, Any]:
    """Plan one batch of searches; re-running it inserts nothing twice (query_hash is unique)."""
    logger = get_run_logger()
    report = plan_batch_task(params.batch_tag, params.source, params.dry_run)
    errors = error_rows(report, stage="plan")
    lines = [
        f"batch `{report['batch_tag']}`{' (dry run: nothing written)' if report['dry_run'] else ''}",
        f"{report['rows_total']} rows: {report['rows_planned']} planned, {report['rows_failed']} invalid, "
        f"{report['rows_skipped']} of other batches",
        f"{report['generated']} queries generated, {report['inserted']} new, {report['duplicates']} already planned",
        f"scheduled {report['first_scheduled_for'] or '-'} … {report['last_scheduled_for'] or '-'}",
        f"row statuses written back: {report['written_back']}",
    ]
    table = [
        {k: q[k] for k in ("row_number", "query_text", "region_name", "scheduled_for", "inserted")}
        for q in report["queries"]
    ]
    publish("plan-batch", "Plan batch", lines=lines, stats=counts(report), table=table, errors=errors)
    logger.info(mask_pii("; ".join(lines)))
    return counts(report)
