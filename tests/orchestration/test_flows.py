"""Flows end to end through the sandbox under the Prefect test harness (SQLite, and Postgres when configured)."""

from __future__ import annotations

from tests.orchestration.stages import require_stages

require_stages()

import asyncio

import pytest
from sqlalchemy import Engine, func, select

from flows.night import night_flow
from flows.night_search import night_search_flow
from flows.params import NightParams, PipelineParams, PlanParams, SearchParams
from flows.pipeline import pipeline_flow
from leadgen.db.models import (
    Company,
    CompanyStatus,
    Contact,
    OutreachMessage,
    ProcessingJob,
    SerpOperation,
    SerpQuery,
    SerpResult,
)
from tests.orchestration.conftest import Sandbox, closed_window

TABLES = (SerpQuery, SerpOperation, SerpResult, Company, Contact, OutreachMessage)


def journal(engine: Engine) -> list[tuple[str, str | None, str, str | None, dict[str, object], str | None]]:
    """The run journal, oldest first: (stage, batch_tag, status, flow_run_id, stats, error)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                ProcessingJob.stage,
                ProcessingJob.batch_tag,
                ProcessingJob.status,
                ProcessingJob.flow_run_id,
                ProcessingJob.stats,
                ProcessingJob.error,
            ).order_by(ProcessingJob.id)
        )
        return [(r[0], r[1], str(r[2]), r[3], r[4], r[5]) for r in rows]


def table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.__tablename__: conn.scalar(select(func.count()).select_from(t)) or 0 for t in TABLES}


@pytest.mark.slow
def test_pipeline_end_to_end_then_rerun_creates_nothing(sandbox: Sandbox) -> None:
    params = PipelineParams(batch_tag="demo", search_limit=50, collect_wait_seconds=120, enrich_limit=50)
    first = pipeline_flow(params)

    counts = table_counts(sandbox.engine)
    assert first["plan"]["inserted"] > 0
    assert first["search"]["submitted"] == 4 == counts["serp_operations"] == counts["serp_queries"]
    assert first["collect"]["done"] == 4 and first["collect"]["still_pending"] == 0
    assert counts["companies"] > 0 and counts["contacts"] > 0
    assert first["outreach"]["drafted"] > 0 and first["outreach"]["sent"] > 0
    sink = sandbox.stack.sink
    assert sink.count == first["outreach"]["sent"]
    recipients = [r.lower() for m in sink.messages for r in m.rcpt_tos]
    assert len(recipients) == len(set(recipients)), "an address got two messages"
    funnel = first["report"]["funnel"]
    assert funnel["queries"] == counts["serp_queries"]
    runs = journal(sandbox.engine)
    # Every stage run leaves a row: the pipeline's first, then one per subflow, each with its own flow run id.
    assert [(stage, tag) for stage, tag, *_ in runs] == [
        ("pipeline", "demo"),
        ("plan-batch", "demo"),
        ("night-search", "demo"),
        ("collect-results", "demo"),
        ("enrich-contacts", "demo"),
        ("outreach", "demo"),
        ("report", "demo"),
    ]
    assert {(status, error) for _, _, status, _, _, error in runs} == {("completed", None)}
    assert len({run_id for _, _, _, run_id, _, _ in runs if run_id}) == 7
    assert runs[0][4]["search.submitted"] == 4 and runs[0][4]["outreach.sent"] == first["outreach"]["sent"]
    assert runs[2][4]["submitted"] == 4

    with sandbox.engine.connect() as conn:
        domains = conn.scalars(
            select(Company.canonical_domain).where(Company.status != CompanyStatus.DUPLICATE)
        ).all()
    assert len(domains) == len(set(domains))

    sandbox.clock.advance(minutes=5)
    second = pipeline_flow(params)
    assert table_counts(sandbox.engine) == counts
    assert sink.count == first["outreach"]["sent"]
    assert second["plan"]["inserted"] == 0
    assert second["search"]["submitted"] == 0
    assert second["outreach"]["sent"] == 0
    assert len(journal(sandbox.engine)) == 14


@pytest.mark.slow
def test_one_night_run_searches_collects_and_enriches_then_rerun_does_nothing(sandbox: Sandbox) -> None:
    from flows.plan_batch import plan_batch_flow

    planned = plan_batch_flow(PlanParams(batch_tag="demo"))
    assert planned["inserted"] == 4

    first = asyncio.run(night_flow(NightParams(step_seconds=60)))

    counts = table_counts(sandbox.engine)
    search = first["search"]
    assert search["submitted"] == 4 == search["done"] == counts["serp_operations"]
    assert search["still_pending"] == 0 and search["rounds"] >= 1
    assert search["ended"] == "nothing left to search tonight"
    assert first["enrich"]["processed"] == counts["companies"] > 0 and counts["contacts"] > 0
    with sandbox.engine.connect() as conn:
        statuses = set(conn.scalars(select(Company.status)).all())
    assert CompanyStatus.NEW not in statuses and CompanyStatus.ENRICHING not in statuses
    assert "nothing left to search tonight" in latest_artifact("night-summary")
    assert '"step": "enrich"' in latest_artifact("night-table")
    assert float(latest_artifact("night-progress")) == 100.0

    sandbox.clock.advance(minutes=5)
    second = asyncio.run(night_flow(NightParams(step_seconds=60)))
    assert table_counts(sandbox.engine) == counts
    assert second["search"]["submitted"] == 0 and second["search"]["rounds"] == 1
    assert second["enrich"]["processed"] == 0
    assert [(stage, status) for stage, _, status, *_ in journal(sandbox.engine)] == [
        ("plan-batch", "completed"),
        ("night", "completed"),
        ("night", "completed"),
    ]


@pytest.mark.slow
def test_night_search_outside_the_window_makes_no_call(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NIGHT_WINDOW", closed_window(sandbox.clock(), sandbox.settings.tz))
    monkeypatch.setenv("NIGHT_WINDOW_ALLOW_DAYTIME", "true")

    result = night_search_flow(SearchParams(limit=5))

    assert result["in_window"] is False
    assert result["submitted"] == 0
    opens = result["next_window_start"]
    assert opens > sandbox.clock().isoformat()
    assert sandbox.stack.emulator.requests == []
    summary = latest_artifact("night-search-summary")
    assert "no API call made" in summary and "next window opens" in summary
    ((stage, _, status, run_id, stats, _),) = journal(sandbox.engine)
    assert (stage, status, stats["in_window"], stats["submitted"]) == ("night-search", "completed", 0, 0)
    assert run_id


def latest_artifact(key: str) -> str:
    """The data of the newest artifact with this key on the harness API."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    async def read() -> str:
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                sort=ArtifactSort.CREATED_DESC,
                limit=1,
            )
            return str(found[0].data) if found else ""

    return asyncio.run(read())


@pytest.mark.slow
def test_outreach_outside_the_send_window_sends_nothing(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.outreach import outreach_flow
    from flows.params import OutreachParams

    monkeypatch.setenv("OUTREACH_SEND_WINDOW", closed_window(sandbox.clock(), sandbox.settings.tz))

    result = asyncio.run(outreach_flow(OutreachParams(draft_limit=0)))

    assert result["sent"] == 0
    assert result["send"]["window_open"] is False
    assert result["send"]["next_window_start"] > sandbox.clock().isoformat()
    assert "outside the send window" in latest_artifact("outreach-summary")
    assert sandbox.stack.sink.count == 0
    assert [(stage, status) for stage, _, status, *_ in journal(sandbox.engine)] == [
        ("outreach", "completed")
    ]


@pytest.mark.slow
def test_transient_errors_retry_and_permanent_ones_fail_fast(prefect_harness: None) -> None:
    from prefect import flow, task

    from leadgen.errors import ConfigurationError, YandexUnavailable
    from tasks.policy import retry_options

    calls: list[str] = []
    options = retry_options() | {"retry_delay_seconds": 0, "retry_jitter_factor": None}

    @task(**options)
    def flaky(kind: str) -> str:
        calls.append(kind)
        if kind == "transient" and calls.count(kind) < 3:
            raise YandexUnavailable("503 Service Unavailable", status=503)
        if kind == "permanent":
            raise ConfigurationError("YANDEX_FOLDER_ID is not set")
        return "ok"

    @flow
    def run(kind: str) -> str:
        return flaky(kind)

    assert run("transient") == "ok"
    assert calls.count("transient") == 3
    state = run("permanent", return_state=True)
    assert state.is_failed()
    assert calls.count("permanent") == 1
