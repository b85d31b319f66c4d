"""tasks.claims against Prefect's test harness: a flow run owns its claims while it runs and is gone once final."""

from __future__ import annotations

from tests.orchestration.stages import require_stages

require_stages()

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from leadgen.contacts.orphans import release_orphaned_companies
from leadgen.contacts.store import claim_companies
from leadgen.db import Company, CompanyStatus, write_scope
from leadgen.db.models import MessageStatus, OutreachMessage
from leadgen.owners import Owner
from tasks.claims import current_owner, flow_run_alive, owner_alive
from tests.orchestration.conftest import Sandbox
from tests.orchestration.test_flows import latest_artifact
from tests.outreach.factories import queued_messages
from tests.support.owners import dead_owner

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_a_flow_runs_claim_is_kept_while_it_runs_and_released_once_it_is_final(
    prefect_harness: None, engine: Engine
) -> None:
    from prefect import flow

    with write_scope(engine) as session:
        session.add(Company(canonical_domain="left.ru", website_url="http://left.ru/", name="left"))

    @flow(name="claims-probe")
    def probe() -> tuple[str, bool | None, int]:
        owner = current_owner()
        with write_scope(engine) as session:  # the run claims a company and ends without finishing it
            claim_companies(session, limit=1, now=T0, owner=owner)
        kept = release_orphaned_companies(engine, owner_alive=owner_alive, now=T0 + timedelta(minutes=1))
        return owner, flow_run_alive(str(Owner.parse(owner).flow_run)), kept.owner_gone

    owner, alive_while_running, released_while_running = probe()
    run_id = Owner.parse(owner).flow_run
    assert run_id is not None and Owner.parse(owner).pid is not None
    assert alive_while_running is True and released_while_running == 0
    assert flow_run_alive(run_id) is False  # COMPLETED is final
    # Its process (this one) still lives, but the run is over: its claim goes back to `new` at once.
    released = release_orphaned_companies(engine, owner_alive=owner_alive, now=T0 + timedelta(minutes=2))
    assert released.owner_gone == 1
    with write_scope(engine) as session:
        assert session.scalar(select(Company.status)) == CompanyStatus.NEW
    assert flow_run_alive(str(uuid.uuid4())) is False  # the API does not know it
    assert flow_run_alive("not-a-uuid") is None
    assert Owner.parse(current_owner()).flow_run is None  # outside a flow run: the process alone


@pytest.mark.slow
def test_a_rerun_releases_a_killed_runs_claims_and_says_it_stopped_early(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.enrich_contacts import enrich_contacts_flow
    from flows.outreach import outreach_flow
    from flows.params import EnrichParams, OutreachParams

    engine, now = sandbox.engine, sandbox.clock()
    gone = dead_owner(flow_run=str(uuid.uuid4()))  # a killed run: its process is gone
    with write_scope(engine) as session:
        queued_messages(session, 6)
        session.add(
            Company(canonical_domain="killed.ru", website_url="http://killed.ru/", name="killed",
                    status=CompanyStatus.ENRICHING, claimed_by=gone, updated_at=now)
        )  # fmt: skip
        before, after = session.scalars(select(OutreachMessage).order_by(OutreachMessage.id).limit(2))
        for row, checkpoint in ((before, None), (after, now)):
            row.status, row.sending_started_at, row.data_started_at = MessageStatus.SENDING, now, checkpoint
            row.attempts, row.claimed_by = 1, gone
    monkeypatch.setenv("OUTREACH_DAILY_CAP", "3")

    state = asyncio.run(outreach_flow(OutreachParams(draft_limit=0, send_limit=10), return_state=True))

    result = state.result()
    assert result["recovered_unknown"] == 1 and result["send"]["recovered_requeued"] == 1
    assert result["sent"] == 2 == sandbox.stack.sink.count  # the cap of 3 holds the row in doubt too
    assert result["outbox"] == {"queued": 3, "sending": 0, "unknown": 1, "settled": 0}
    assert state.is_completed() and state.message == (
        "stopped early: daily cap of 3 reached; 3 messages due left for a later run"
    )
    summary = latest_artifact("outreach-summary")
    assert "outbox now: 3 queued, 0 in `sending`, 1 `unknown` (in doubt), 0 settled by evidence" in summary
    assert "stopped early: daily cap of 3 reached" in summary

    enriched = enrich_contacts_flow(EnrichParams(limit=1))
    assert enriched["processed"] == 1  # the killed run's company, released at once and crawled again
    assert "1 companies released from runs that are gone" in latest_artifact("enrich-contacts-summary")
    with write_scope(engine) as session:
        company = session.scalars(select(Company).where(Company.canonical_domain == "killed.ru")).one()
        assert company.status != CompanyStatus.ENRICHING and company.claimed_by != gone


def test_a_pipeline_whose_send_stopped_early_says_so_in_its_state(
    prefect_harness: None, engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.pipeline as pipeline
    from flows.params import PipelineParams

    monkeypatch.setenv("DATABASE_URL", db_url)  # the run journal
    for stage in ("plan_batch_flow", "night_search_flow", "collect_results_flow", "enrich_contacts_flow"):
        monkeypatch.setattr(pipeline, stage, lambda *_a, **_k: {})
    monkeypatch.setattr(pipeline, "report_flow", lambda *_a, **_k: {"funnel": {}})
    send = {
        "sent": 11,
        "due_left": 23,
        "window_open": True,
        "stopped_reason": "no email-daily slot within the timeout",
    }

    async def outreach(*_a: object, **_k: object) -> dict[str, object]:
        return {"drafted": 0, "queued": 0, "sent": 11, "send": send}

    monkeypatch.setattr(pipeline, "outreach_flow", outreach)
    state = pipeline.pipeline_flow(PipelineParams(batch_tag="b1"), return_state=True)
    assert state.is_completed() and state.message == (
        "outreach stopped early: no email-daily slot within the timeout; 23 messages due left for a later run"
    )
    assert state.result()["outreach"]["sent"] == 11
    # Nothing left due: a plain completion.
    send |= {"due_left": 0}
    assert pipeline.pipeline_flow(PipelineParams(batch_tag="b1"), return_state=True).message in (None, "")
