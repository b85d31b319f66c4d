"""Fault matrix: two workers on the same stage at once on Postgres — no duplicate work.

Already covered elsewhere (see docs/reliability.md): three concurrent `submit_due_queries`
(tests/yandex/test_jobs.py) and two concurrent `send_queued` (tests/outreach/test_concurrency.py). Here: two
collectors polling the same operations, and two drafting workers over the same companies.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from leadgen.clock import ManualClock
from leadgen.db import OperationStatus, SerpOperation, SerpResult
from leadgen.db.engine import make_engine, write_scope
from leadgen.db.models import OutreachMessage
from leadgen.outreach import draft_messages
from leadgen.outreach.composer import FallbackComposer
from leadgen.settings import Settings
from leadgen.yandex.collect import collect_operations
from leadgen.yandex.submit import submit_due_queries
from leadgen_sandbox.yandex_emulator import Faults
from tests.conftest import PG_URL
from tests.outreach.factories import MONDAY_NOON, add_company, make_offer
from tests.reliability.test_search_faults import NIGHT, StrictIngest, add_queries, stack
from tests.support.threads import run_in_threads

pytestmark = [
    pytest.mark.skipif(not PG_URL, reason="needs LEADGEN_TEST_DATABASE_URL"),
    pytest.mark.parametrize("backend", ["postgres"], indirect=True),
]


@pytest.mark.anyio
async def test_two_collectors_ingest_each_operation_once(engine: Engine, db_url: str, backend: str) -> None:
    clock = ManualClock(NIGHT)
    add_queries(engine, 30)
    ingest = StrictIngest()
    async with stack(db_url, clock, Faults()) as (_emu, client, settings):
        await submit_due_queries(engine, client, settings, now=clock, limit=30)
        clock.advance(minutes=15)
        reports = await asyncio.gather(
            *(
                collect_operations(engine, client, settings, now=clock, limit=30, on_done=ingest)
                for _ in range(2)
            )
        )
    assert sum(r.done for r in reports) == 30
    assert all(r.done > 0 for r in reports), [r.done for r in reports]  # both really worked
    assert set(ingest.calls.values()) == {1}
    with Session(engine) as session:
        assert all(o.status == OperationStatus.DONE for o in session.scalars(select(SerpOperation)))
        dup = session.execute(
            select(SerpResult.url, SerpResult.operation_id)
            .group_by(SerpResult.url, SerpResult.operation_id)
            .having(func.count() > 1)
        ).all()
    assert not dup


def test_two_drafting_workers_draft_each_company_once(db_url: str, settings: Settings, backend: str) -> None:
    setup = make_engine(db_url)
    with write_scope(setup) as s:
        for i in range(40):
            add_company(s, f"clinic{i}.ru", emails=(f"info@clinic{i}.ru",))
    barrier = threading.Barrier(2)
    drafted: list[int] = []

    def worker() -> None:
        engine = make_engine(db_url)
        try:
            barrier.wait()
            report = draft_messages(
                engine,
                settings,
                limit=40,
                now=MONDAY_NOON + timedelta(minutes=1),
                composer=FallbackComposer(),
                offer=make_offer(),
            )
            drafted.append(report.drafted)
        finally:
            engine.dispose()

    run_in_threads(worker)
    with write_scope(setup) as s:
        per_company = Counter(s.scalars(select(OutreachMessage.company_id)))
    setup.dispose()
    assert len(per_company) == 40 and set(per_company.values()) == {1}
    assert sum(drafted) == 40, drafted  # a lost race is reported as not drafted, not counted twice
