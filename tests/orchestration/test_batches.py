"""Two batches through the sandbox: a pipeline run for batch alpha never touches batch beta's rows."""

from __future__ import annotations

from tests.orchestration.stages import require_stages

require_stages()

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from flows.collect_results import collect_results_flow
from flows.enrich_contacts import enrich_contacts_flow
from flows.night_search import night_search_flow
from flows.outreach import outreach_flow
from flows.params import (
    CollectParams,
    EnrichParams,
    OutreachParams,
    PipelineParams,
    PlanParams,
    SearchParams,
)
from flows.pipeline import pipeline_flow
from flows.plan_batch import plan_batch_flow
from leadgen.db.batches import company_in_batch, message_in_batch, operation_in_batch, query_in_batch
from leadgen.db.models import (
    Company,
    CompanyStatus,
    MessageStatus,
    OutreachMessage,
    QueryStatus,
    SerpOperation,
    SerpQuery,
)
from tests.orchestration.conftest import Sandbox

NICHES = "niche;city;country;batch_tag\nСтоматология;Москва;Россия;alpha\nСтоматология;Казань;Россия;beta\n"


def beta_rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of batch beta that is not alpha's too, with its status and last change."""
    only_beta = [company_in_batch("beta"), ~company_in_batch("alpha")]
    with engine.connect() as conn:
        return {
            "queries": conn.execute(
                select(SerpQuery.id, SerpQuery.status, SerpQuery.updated_at)
                .where(query_in_batch("beta"))
                .order_by(SerpQuery.id)
            ).all(),
            "operations": conn.execute(
                select(
                    SerpOperation.id, SerpOperation.status, SerpOperation.poll_count, SerpOperation.updated_at
                )
                .where(operation_in_batch("beta"))
                .order_by(SerpOperation.id)
            ).all(),
            "companies": conn.execute(
                select(Company.id, Company.status, Company.updated_at).where(*only_beta).order_by(Company.id)
            ).all(),
            "messages": conn.execute(
                select(OutreachMessage.id, OutreachMessage.status, OutreachMessage.updated_at)
                .where(message_in_batch("beta"), ~message_in_batch("alpha"))
                .order_by(OutreachMessage.id)
            ).all(),
        }


@pytest.mark.slow
def test_a_pipeline_run_for_alpha_never_touches_beta(sandbox: Sandbox, tmp_path: Path) -> None:
    niches = tmp_path / "two_batches.csv"
    niches.write_text(NICHES, "utf-8")
    planned = plan_batch_flow(PlanParams(source=str(niches)))
    assert planned["inserted"] == 4  # two queries per niche, one niche per batch

    # beta half-way: one of its two queries searched and collected, one company enriched and a message queued
    assert night_search_flow(SearchParams(batch_tag="beta", limit=1))["submitted"] == 1
    assert collect_results_flow(CollectParams(batch_tag="beta", wait_seconds=120))["done"] == 1
    assert enrich_contacts_flow(EnrichParams(batch_tag="beta", limit=1))["processed"] == 1
    beta_out = asyncio.run(outreach_flow(OutreachParams(batch_tag="beta", draft_limit=1, send_limit=0)))
    assert beta_out["queued"] == 1 and sandbox.stack.sink.count == 0
    before = beta_rows(sandbox.engine)
    assert [status for _, status, _ in before["queries"]].count(QueryStatus.PENDING) == 1
    assert any(status == CompanyStatus.NEW for _, status, _ in before["companies"])
    assert [status for _, status, _ in before["messages"]] == [MessageStatus.QUEUED]

    sandbox.clock.advance(minutes=5)
    params = PipelineParams(
        batch_tag="alpha", source=str(niches), search_limit=50, collect_wait_seconds=120, enrich_limit=50
    )
    alpha = pipeline_flow(params)

    assert alpha["plan"]["inserted"] == 0 and alpha["search"]["submitted"] == 2
    assert alpha["collect"]["done"] == 2 and alpha["collect"]["still_pending"] == 0
    assert alpha["outreach"]["sent"] > 0
    assert beta_rows(sandbox.engine) == before, "the alpha run changed a row of batch beta"
    with sandbox.engine.connect() as conn:
        alpha_queries = conn.scalars(select(SerpQuery.status).where(query_in_batch("alpha"))).all()
        alpha_addresses = set(
            conn.scalars(
                select(OutreachMessage.to_email).where(
                    message_in_batch("alpha"), OutreachMessage.status == MessageStatus.SENT
                )
            )
        )
    assert set(alpha_queries) == {QueryStatus.DONE}
    recipients = {r.lower() for m in sandbox.stack.sink.messages for r in m.rcpt_tos}
    assert recipients and recipients <= {a.lower() for a in alpha_addresses if a}
    assert alpha["report"]["funnel"]["batch_tag"] == "alpha"
