"""tasks.claims against Prefect's test harness: a flow run owns its claims while it runs and is gone once final."""

from __future__ import annotations

from tests.orchestration.stages import require_stages

require_stages()

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from leadgen.contacts.orphans import release_orphaned_companies
from leadgen.contacts.store import claim_companies
from leadgen.db import Company, CompanyStatus, session_scope
from leadgen.owners import Owner
from tasks.claims import current_owner, flow_run_alive, owner_alive

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_a_flow_runs_claim_is_kept_while_it_runs_and_released_once_it_is_final(
    prefect_harness: None, engine: Engine
) -> None:
    from prefect import flow

    with session_scope(engine) as session:
        session.add(Company(canonical_domain="left.ru", website_url="http://left.ru/", name="left"))

    @flow(name="claims-probe")
    def probe() -> tuple[str, bool | None, int]:
        owner = current_owner()
        with session_scope(engine) as session:  # the run claims a company and ends without finishing it
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
    with session_scope(engine) as session:
        assert session.scalar(select(Company.status)) == CompanyStatus.NEW
    assert flow_run_alive(str(uuid.uuid4())) is False  # the API does not know it
    assert flow_run_alive("not-a-uuid") is None
    assert Owner.parse(current_owner()).flow_run is None  # outside a flow run: the process alone
