"""pipeline flow: every stage for one batch_tag, in order, for ad-hoc runs (no schedule)."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.states import Completed
from prefect.utilities.asyncutils import run_coro_as_sync

from flows.artifacts import publish
from flows.collect_results import collect_results_flow
from flows.enrich_contacts import enrich_contacts_flow
from flows.journal import journaled
from flows.night_search import night_search_flow
from flows.outreach import outreach_flow, stopped_early
from flows.params import (
    CollectParams,
    EnrichParams,
    OutreachParams,
    PipelineParams,
    PlanParams,
    ReportParams,
    SearchParams,
)
from flows.plan_batch import plan_batch_flow
from flows.report import report_flow
from flows.runtime import task_runner


@flow(name="pipeline", task_runner=task_runner())
@journaled("pipeline")
def pipeline_flow(params: PipelineParams) -> dict[str, Any]:
    """Plan → search → collect (waiting up to `collect_wait_seconds`) → enrich → outreach → report, every stage
    limited to `batch_tag`: its queries, their operations, the companies they found and those companies' messages.

    Every stage selects its work from the database by status, so running the pipeline again for the same batch
    creates nothing new. Search makes no call outside the night window; the run then reports when it opens.
    A send that stopped early with messages due ends the run Completed with a message saying so, never silently.
    """
    logger = get_run_logger()
    tag = params.batch_tag
    plan = plan_batch_flow(PlanParams(batch_tag=tag, source=params.source, dry_run=params.dry_run))
    if params.dry_run:
        logger.info("dry run: planned nothing, so nothing to search")
        return {"batch_tag": tag, "plan": plan}
    search = night_search_flow(SearchParams(limit=params.search_limit, batch_tag=tag))
    collect = collect_results_flow(CollectParams(wait_seconds=params.collect_wait_seconds, batch_tag=tag))
    enrich = enrich_contacts_flow(EnrichParams(limit=params.enrich_limit, batch_tag=tag))
    outreach_result = run_coro_as_sync(
        outreach_flow(OutreachParams(send_limit=params.send_limit, dry_run=params.dry_run, batch_tag=tag))
    )
    outreach: dict[str, Any] = outreach_result if isinstance(outreach_result, dict) else {}
    report = report_flow(ReportParams(batch_tag=tag))
    result = {
        "batch_tag": tag,
        "plan": plan,
        "search": search,
        "collect": collect,
        "enrich": enrich,
        "outreach": outreach_result,
        "report": report,
    }
    lines = [
        f"planned {plan.get('inserted', 0)} new queries ({plan.get('duplicates', 0)} already planned)",
        f"search: {search.get('submitted', 0)} operations"
        + (
            ""
            if search.get("in_window", True)
            else f"; outside the night window, opens {search['next_window_start']}"
        ),
        f"collect: {collect.get('done', 0)} done, {collect.get('still_pending', 0)} pending",
        f"enrich: {enrich.get('processed', 0)} companies",
        f"outreach: {outreach.get('drafted', 0)} drafted, {outreach.get('queued', 0)} queued, {outreach.get('sent', 0)} sent",
    ]
    funnel = report.get("funnel", {})
    table = [
        {"stage": k, "count": v} for k, v in funnel.items() if isinstance(v, int) and not isinstance(v, bool)
    ]
    early = stopped_early(outreach.get("send") or {})
    if early:  # the send left due messages (the cap, no email-daily slot in time, a route down): say so
        lines.append(f"outreach {early}")
    publish("pipeline", f"Pipeline: batch {tag}", lines=lines, table=table)
    logger.info("pipeline for batch %s: %s", tag, "; ".join(lines))
    if early:
        logger.warning("outreach %s", early)
        # A caller still gets `result` (the state's data); the run's state carries the message.
        return Completed(message=f"outreach {early}", data=result)  # type: ignore[return-value]
    return result
