"""collect_operations with the production collector (COPY batches on Postgres) against the emulator, on both DBs."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from leadgen.clock import ManualClock
from leadgen.db import OperationStatus, QueryStatus, SerpOperation, SerpResult
from leadgen.serp.collect import make_collector, page_store
from leadgen.yandex.collect import collect_operations
from leadgen.yandex.pagestore import PageStore
from leadgen.yandex.submit import submit_due_queries
from leadgen_sandbox.yandex_emulator import Faults
from tests.yandex.test_jobs import add_queries, operations, queries, stack

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("sink", ["collector", "batches_of_two"])
async def test_finished_pages_are_stored_and_bad_ones_fail_alone(
    engine: Engine, db_url: str, yclock: ManualClock, backend: str, sink: str
) -> None:
    ids = add_queries(engine, [f"окна пвх {i}" for i in range(12)])
    async with stack(db_url, yclock, faults=Faults(rate_malformed_xml=0.3)) as (_, client, settings):
        await submit_due_queries(engine, client, settings, now=yclock, limit=20)
        yclock.advance(600)
        if sink == "collector":
            on_done = make_collector(settings, engine, now=yclock)
            assert isinstance(on_done, PageStore) == (backend == "postgres")
        else:
            on_done = PageStore(page_store(settings, now=yclock).store, batch_pages=2)
        report = await collect_operations(engine, client, settings, now=yclock, limit=20, on_done=on_done)
    ops = operations(engine)
    failed = [o for o in ops if o.status == OperationStatus.FAILED]
    assert (report.polled, report.done + report.failed, report.still_pending) == (12, 12, 0)
    assert report.failed == len(failed) >= 1 and report.done >= 1
    assert all("result rejected: SerpParseError" in (o.last_error or "") for o in failed)
    rows = queries(engine)
    assert all(rows[o.query_id].status == QueryStatus.PENDING for o in failed)  # re-queued once
    assert sum(q.status == QueryStatus.DONE for q in rows.values()) == report.done
    assert set(rows) == set(ids)
    with Session(engine) as session:
        stored = dict(
            session.execute(
                select(SerpResult.operation_id, func.count()).group_by(SerpResult.operation_id)
            ).all()
        )
    assert stored == {o.operation_id: o.result_count for o in ops if o.status == OperationStatus.DONE}
    assert report.results == sum(stored.values()) > 0


async def test_a_crashing_store_leaves_the_batch_pending(
    engine: Engine, db_url: str, yclock: ManualClock
) -> None:
    add_queries(engine, ["окна пвх", "потолки"])

    def crash(session: Session, pages: list) -> dict:
        raise RuntimeError("disk full")

    async with stack(db_url, yclock) as (_, client, settings):
        await submit_due_queries(engine, client, settings, now=yclock, limit=5)
        yclock.advance(600)
        report = await collect_operations(
            engine, client, settings, now=yclock, limit=5, on_done=PageStore(crash)
        )
        assert report.still_pending == 2 and report.done == 0
        assert all(
            o.status == OperationStatus.PENDING and "disk full" in (o.last_error or "")
            for o in operations(engine)
        )
        yclock.advance(settings.yandex_poll_interval_seconds)
        again = await collect_operations(
            engine, client, settings, now=yclock, limit=5, on_done=page_store(settings, now=yclock)
        )
    assert again.done == 2 and all(o.status == OperationStatus.DONE for o in operations(engine))
    with Session(engine) as session:
        assert (
            session.scalar(
                select(func.count()).select_from(SerpOperation).where(SerpOperation.poll_count == 2)
            )
            == 2
        )
