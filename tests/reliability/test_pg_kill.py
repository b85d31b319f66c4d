"""Fault matrix: the Postgres connection killed mid-stage (`pg_terminate_backend`), then the rerun completes.

Each stage is run with a `KillSwitch` that terminates its connection's backend just before the Nth write of its
main table, i.e. inside an open transaction. The run fails (or carries on with a fresh connection); the rerun
finishes the work, and nothing is done twice.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from leadgen.clock import ManualClock
from leadgen.db import OperationStatus, QueryStatus, SerpOperation, SerpQuery, SerpResult
from leadgen.db.engine import write_scope
from leadgen.db.models import MessageStatus, OutreachMessage
from leadgen.outreach import StaticMxResolver, draft_messages, send_queued
from leadgen.outreach.composer import FallbackComposer
from leadgen.settings import Settings
from leadgen.yandex.collect import collect_operations
from leadgen.yandex.submit import submit_due_queries
from leadgen_sandbox.smtp_sink import SmtpSink
from leadgen_sandbox.yandex_emulator import Faults
from tests.conftest import PG_URL
from tests.outreach.factories import MONDAY_NOON, add_company, make_offer, queued_messages
from tests.reliability.killswitch import KillSwitch
from tests.reliability.test_outreach_faults import assert_no_duplicates, sink_settings
from tests.reliability.test_search_faults import NIGHT, StrictIngest, add_queries, stack

pytestmark = [
    pytest.mark.skipif(not PG_URL, reason="needs LEADGEN_TEST_DATABASE_URL"),
    pytest.mark.parametrize("backend", ["postgres"], indirect=True),
]
OFFER = make_offer()
MX = StaticMxResolver({f"clinic{i}.ru": ["mx.yandex.net"] for i in range(100)})


async def run_killed(switch: KillSwitch, coro_fn):  # type: ignore[no-untyped-def]
    with switch:
        try:
            return await coro_fn()
        except Exception as exc:  # the stage may fail; what matters is that the rerun completes
            return exc


@pytest.mark.anyio
async def test_search_stages_killed_mid_transaction(engine: Engine, db_url: str, backend: str) -> None:
    clock = ManualClock(NIGHT)
    ids = add_queries(engine, 12)
    ingest = StrictIngest()
    async with stack(db_url, clock, Faults()) as (_emu, client, settings):
        submit_switch = KillSwitch(engine, PG_URL, r"^INSERT INTO serp_operations", nth=4)
        crashed = await run_killed(
            submit_switch, lambda: submit_due_queries(engine, client, settings, now=clock, limit=20)
        )
        assert isinstance(crashed, SQLAlchemyError)  # the stage stops loudly; the task retry reruns it
        assert submit_switch.fired
        await submit_due_queries(engine, client, settings, now=clock, limit=20)
        clock.advance(minutes=15)
        collect_switch = KillSwitch(engine, PG_URL, r"^INSERT INTO serp_results", nth=3)
        crashed = await run_killed(
            collect_switch,
            lambda: collect_operations(engine, client, settings, now=clock, limit=20, on_done=ingest),
        )
        assert collect_switch.fired and isinstance(crashed, SQLAlchemyError)
        clock.advance(minutes=15)
        await collect_operations(engine, client, settings, now=clock, limit=20, on_done=ingest)
    with Session(engine) as session:
        queries = list(session.scalars(select(SerpQuery)))
        ops = list(session.scalars(select(SerpOperation)))
        dup = session.execute(
            select(SerpResult.operation_id, SerpResult.url, func.count())
            .group_by(SerpResult.operation_id, SerpResult.url)
            .having(func.count() > 1)
        ).all()
    assert sorted(q.id for q in queries) == ids
    assert all(q.status == QueryStatus.DONE for q in queries), Counter(q.status for q in queries)
    assert Counter(o.query_id for o in ops) == Counter(ids)  # one operation row per query
    assert all(o.status == OperationStatus.DONE for o in ops) and not dup


def test_drafting_killed_mid_transaction(engine: Engine, settings: Settings, backend: str) -> None:
    with write_scope(engine) as s:
        for i in range(10):
            add_company(s, f"clinic{i}.ru", emails=(f"info@clinic{i}.ru",))
    switch = KillSwitch(engine, PG_URL, r"^INSERT INTO outreach_messages", nth=4)
    with switch:
        try:
            draft_messages(
                engine, settings, limit=50, now=MONDAY_NOON, composer=FallbackComposer(), offer=OFFER
            )
        except Exception:
            pass
    assert switch.fired
    draft_messages(engine, settings, limit=50, now=MONDAY_NOON, composer=FallbackComposer(), offer=OFFER)
    with write_scope(engine) as s:
        per_company = Counter(s.scalars(select(OutreachMessage.company_id)))
        statuses = Counter(s.scalars(select(OutreachMessage.status)))
    assert len(per_company) == 10 and set(per_company.values()) == {1}
    assert statuses == {MessageStatus.DRAFTED: 10}


@pytest.mark.parametrize("nth", [3, 4])  # a claim or an outcome write, depending on the position
def test_sending_killed_mid_transaction(engine: Engine, settings: Settings, backend: str, nth: int) -> None:
    with SmtpSink() as sink:
        st = sink_settings(settings, sink)
        with write_scope(engine) as s:
            queued_messages(s, 12)
        switch = KillSwitch(engine, PG_URL, r"^UPDATE outreach_messages", nth=nth)
        with switch:
            try:
                send_queued(engine, st, limit=50, now=MONDAY_NOON, offer=OFFER, resolver=MX)
            except Exception:
                pass
        assert switch.fired
        for hours in (1, 2):
            send_queued(
                engine, st, limit=50, now=MONDAY_NOON + timedelta(hours=hours), offer=OFFER, resolver=MX
            )
        all_rows = assert_no_duplicates(sink, engine)
    statuses = Counter(r.status for r in all_rows)
    assert statuses[MessageStatus.SENT] + statuses[MessageStatus.UNKNOWN] == 12, statuses
    assert statuses[MessageStatus.UNKNOWN] <= 1


@pytest.mark.parametrize("nth", [1, 3])
def test_connection_killed_at_the_data_checkpoint_requeues_the_message(
    engine: Engine, settings: Settings, backend: str, nth: int
) -> None:
    """The sender's backend terminated while it commits the DATA checkpoint: DATA is never issued, the run
    stops, and the next run requeues the row (attempt given back) and sends it once."""
    with SmtpSink() as sink:
        st = sink_settings(settings, sink)
        with write_scope(engine) as s:
            queued_messages(s, 6)
        switch = KillSwitch(engine, PG_URL, r"^UPDATE outreach_messages SET data_started_at", nth=nth)
        with switch, pytest.raises(SQLAlchemyError):
            send_queued(engine, st, limit=50, now=MONDAY_NOON, offer=OFFER, resolver=MX)
        assert switch.fired and sink.count == nth - 1
        later = send_queued(
            engine, st, limit=50, now=MONDAY_NOON + timedelta(hours=1), offer=OFFER, resolver=MX
        )
        assert later.recovered_requeued == 1 and later.recovered_unknown == 0 and later.sent == 7 - nth
        all_rows = assert_no_duplicates(sink, engine)
    assert [(r.status, r.attempts) for r in all_rows] == [(MessageStatus.SENT, 1)] * 6
    assert sink.count == 6
