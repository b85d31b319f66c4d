"""Crawl claims with owners on SQLite and Postgres: a gone owner's companies go back to `new` at once, a live or
unjudgeable owner's stay until the stale timeout."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, select

from leadgen.contacts.enrich import enrich_companies
from leadgen.contacts.orphans import release_orphaned_companies
from leadgen.contacts.store import STALE_ENRICHING, claim_companies
from leadgen.db import Company, CompanyStatus, write_scope
from leadgen.owners import owner_alive, process_owner
from leadgen.settings import Settings
from tests.support.owners import child_owner, dead_owner

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
ELSEWHERE = "host=another-host pid=7 start=abc.1 pidns=1"  # a process on another machine: cannot be judged


def add_companies(engine: Engine, *domains: str) -> None:
    with write_scope(engine) as session:
        for domain in domains:
            session.add(Company(canonical_domain=domain, website_url=f"http://{domain}/", name=domain))


def claim(engine: Engine, owner: str, *, limit: int = 1, now: datetime = T0) -> list[int]:
    with write_scope(engine) as session:
        return [c.id for c in claim_companies(session, limit=limit, now=now, owner=owner)]


def states(engine: Engine) -> dict[str, tuple[CompanyStatus, str | None]]:
    with write_scope(engine) as session:
        rows = session.execute(select(Company.canonical_domain, Company.status, Company.claimed_by)).all()
    return {d: (s, o) for d, s, o in rows}


def test_a_dead_owners_companies_are_released_at_once_and_a_live_owners_kept(engine: Engine) -> None:
    add_companies(engine, "dead.ru", "live.ru", "far.ru", "free.ru")
    with child_owner() as (live, _child):
        gone = dead_owner()
        claim(engine, gone)
        claim(engine, live)
        claim(engine, ELSEWHERE)
        # A minute later, far below the stale timeout.
        released = release_orphaned_companies(engine, owner_alive=owner_alive, now=T0 + timedelta(minutes=1))
        after = states(engine)
    assert (released.owner_gone, released.stale) == (1, 0)
    assert after["dead.ru"] == (CompanyStatus.NEW, None)
    assert after["live.ru"] == (CompanyStatus.ENRICHING, live)
    assert after["far.ru"] == (CompanyStatus.ENRICHING, ELSEWHERE)
    assert after["free.ru"] == (CompanyStatus.NEW, None)
    with write_scope(engine) as session:
        reason = session.scalar(select(Company.status_reason).where(Company.canonical_domain == "dead.ru"))
    assert reason is not None and "is gone" in reason
    # The owner that cannot be judged is left to the stale timeout, the last resort.
    later = T0 + STALE_ENRICHING + timedelta(minutes=1)
    released = release_orphaned_companies(engine, owner_alive=lambda _o: None, now=later)
    assert released.stale == 2 and states(engine)["far.ru"] == (CompanyStatus.NEW, None)


def test_a_flow_run_owner_is_released_when_its_run_is_final(engine: Engine) -> None:
    add_companies(engine, "a.ru", "b.ru")
    finished, running = str(uuid.uuid4()), str(uuid.uuid4())
    claim(engine, f"flow-run={finished} {ELSEWHERE}")
    claim(engine, f"flow-run={running} {ELSEWHERE}")
    runs = {finished: False, running: True}
    asked: list[str] = []

    def fake_api(owner: str) -> bool | None:  # tasks.claims.owner_alive asks the Prefect API here
        run = owner.split()[0].removeprefix("flow-run=")
        asked.append(run)
        return runs[run]

    released = release_orphaned_companies(engine, owner_alive=fake_api, now=T0 + timedelta(minutes=5))
    assert released.owner_gone == 1 and sorted(asked) == sorted(runs)
    after = states(engine)
    assert after["a.ru"][0] == CompanyStatus.NEW and after["b.ru"][0] == CompanyStatus.ENRICHING


def test_enrichment_records_its_owner_on_the_claim(engine: Engine, settings: Settings) -> None:
    import asyncio

    add_companies(engine, "owned.ru")

    async def run() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(lambda _r: httpx.Response(404))) as http:
            await enrich_companies(engine, settings, limit=5, http=http)

    asyncio.run(run())
    status, owner = states(engine)["owned.ru"]
    assert status != CompanyStatus.ENRICHING and owner == process_owner()  # the latest claim's owner is kept


@pytest.mark.parametrize("alive", [True, None])
def test_an_owner_alive_or_unknown_keeps_its_claim(engine: Engine, alive: bool | None) -> None:
    add_companies(engine, "kept.ru")
    claim(engine, dead_owner())
    released = release_orphaned_companies(engine, owner_alive=lambda _o: alive, now=T0 + timedelta(minutes=1))
    assert released.owner_gone == 0 and states(engine)["kept.ru"][0] == CompanyStatus.ENRICHING
