"""Fault matrix, search side: Yandex faults at realistic rates through the submit and collect stages, on both backends.

Existing coverage this file does not repeat (see docs/reliability.md): tests/yandex/test_jobs.py checks SLA expiry
for one query, quota errors, rejected queries, failing `on_done`, random faults with no query lost, and three
concurrent submitters on Postgres; tests/sandbox/test_yandex_emulator.py checks each fault at the client level.
Here every fault kind is injected at once, including timeouts and truncated XML, and the run goes on night after
night until every query has ended `done` or `failed` with a reason.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from leadgen.clock import ManualClock
from leadgen.db import OperationStatus, QueryStatus, SerpOperation, SerpQuery, SerpResult
from leadgen.errors import SearchError
from leadgen.serp.ingest import make_on_done
from leadgen.settings import Settings
from leadgen.yandex import YandexClient
from leadgen.yandex.collect import collect_operations
from leadgen.yandex.submit import submit_due_queries
from leadgen_sandbox.yandex_emulator import EmulatorConfig, Faults, YandexEmulator

pytestmark = pytest.mark.anyio

NIGHT = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)  # 01:00 Europe/Moscow

# Rates a bad night on a shared quota could plausibly show; every kind is present in a 40-query batch.
REALISTIC = Faults(
    rate_429=0.08,
    rate_500=0.04,
    rate_slow=0.02,
    slow_seconds=0.4,  # real seconds, above the client timeout set below
    rate_malformed_xml=0.05,
    rate_malformed_base64=0.02,
    rate_never_done=0.06,
    rate_operation_error=0.03,
)


class CountingIngest:
    """The real `on_done` (leadgen.serp ingest: parse, store results, upsert companies), counting its calls."""

    def __init__(self, settings: Settings, clock: ManualClock) -> None:
        self.inner = make_on_done(settings, now=clock)
        self.calls: Counter[str] = Counter()

    def __call__(self, session: Session, row: SerpOperation, xml: bytes) -> int:
        self.calls[row.operation_id] += 1
        return self.inner(session, row, xml)


class StrictIngest:
    """An `on_done` that parses the XML strictly (a truncated page raises a SearchError) and stores its URLs."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, session: Session, row: SerpOperation, xml: bytes) -> int:
        self.calls[row.operation_id] += 1
        try:
            root = ET.fromstring(xml)
        except ET.ParseError as exc:
            raise SearchError(f"malformed SERP XML: {exc}") from exc
        urls = sorted({el.text for el in root.iter("url") if el.text})
        for url in urls:
            session.add(SerpResult(operation_id=row.operation_id, query_id=row.query_id, url=url))
        session.flush()
        return len(urls)


def add_queries(engine: Engine, count: int) -> list[int]:
    with Session(engine) as session, session.begin():
        rows = [
            SerpQuery(
                query_text=f"ниша {i} контакты",
                region_code="213",
                query_hash=hashlib.sha1(f"fault-{i}".encode()).hexdigest(),
                scheduled_for=NIGHT,
                batch_tag="faults",
            )
            for i in range(count)
        ]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


@asynccontextmanager
async def stack(db_url: str, clock: ManualClock, faults: Faults, **extra: Any) -> AsyncIterator[tuple[YandexEmulator, YandexClient, Settings]]:  # fmt: skip
    with YandexEmulator(EmulatorConfig(clock=clock, time_to_done=600, faults=faults, seed=11)) as emu:
        settings = Settings(
            _env_file=None,
            database_url=db_url,
            **{**emu.settings_overrides(auth="api_key"), "yandex_timeout_seconds": 0.15, **extra},
        )  # type: ignore[call-arg]
        async with YandexClient.from_settings(settings, clock=clock, sleep=clock.async_sleep) as client:
            yield emu, client, settings


async def run_nights(engine: Engine, client: YandexClient, settings: Settings, clock: ManualClock, on_done: Any, nights: int) -> None:  # fmt: skip
    for _ in range(nights):
        for _step in range(30):
            await submit_due_queries(engine, client, settings, now=clock, limit=10)
            await collect_operations(engine, client, settings, now=clock, limit=10, on_done=on_done)
            clock.advance(minutes=10)
        clock.set(client.window.next_start(clock() + timedelta(hours=8)))
        # The morning after: whatever is still pending past the SLA is expired (and re-queued once).
        await collect_operations(engine, client, settings, now=clock, limit=50, on_done=on_done)


async def test_every_query_ends_done_or_failed_with_a_reason(engine: Engine, db_url: str) -> None:
    clock = ManualClock(NIGHT)
    ids = add_queries(engine, 40)
    async with stack(db_url, clock, REALISTIC) as (emu, client, settings):
        ingest = CountingIngest(settings, clock)
        await run_nights(engine, client, settings, clock, ingest, nights=4)
        statuses = Counter(r.status for r in emu.requests)
    with Session(engine) as session:
        queries = {q.id: q for q in session.scalars(select(SerpQuery))}
        ops = list(session.scalars(select(SerpOperation)))
        per_op_results = dict(
            session.execute(
                select(SerpResult.operation_id, func.count()).group_by(SerpResult.operation_id)
            ).all()
        )
    # The faults really happened.
    assert statuses[429] > 0 and statuses[500] > 0, statuses
    errors = " | ".join(o.last_error or "" for o in ops)
    assert "SerpParseError" in errors and "SLA" in errors, errors
    # None lost, every one ended, every failure has a reason.
    assert set(queries) == set(ids)
    ended = Counter(q.status for q in queries.values())
    assert set(ended) <= {QueryStatus.DONE, QueryStatus.FAILED}, ended
    assert ended[QueryStatus.DONE] >= 30, ended
    for q in queries.values():
        by_status = Counter(o.status for o in ops if o.query_id == q.id)
        assert q.requeue_count <= 1
        if q.status == QueryStatus.FAILED:
            assert q.last_error, q
            assert by_status[OperationStatus.DONE] == 0
        else:
            assert by_status[OperationStatus.DONE] == 1, (q.id, by_status)
        assert by_status[OperationStatus.PENDING] == 0
    # Each done operation was ingested exactly once (failed attempts rolled back their savepoint).
    for op in ops:
        if op.status == OperationStatus.DONE:
            assert ingest.calls[op.operation_id] == 1
            assert per_op_results.get(op.operation_id, 0) == op.result_count
        else:
            assert op.operation_id not in per_op_results
            assert op.last_error
    # An operation never done is expired and its query re-queued once, never twice.
    expired = [o for o in ops if o.status == OperationStatus.EXPIRED]
    assert expired
    for op in expired:
        assert op.query_id is not None and queries[op.query_id].requeue_count >= 1
