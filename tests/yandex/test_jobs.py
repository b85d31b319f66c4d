"""Stage functions on SQLite and Postgres against the emulator: submit, collect, SLA expiry, no query lost."""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from leadgen.clock import ManualClock
from leadgen.db import OperationStatus, QueryStatus, SerpOperation, SerpQuery, SerpResult
from leadgen.errors import SearchError
from leadgen.settings import Settings
from leadgen.yandex import YandexClient
from leadgen.yandex.collect import collect_operations
from leadgen.yandex.submit import submit_due_queries
from leadgen_sandbox.yandex_emulator import EmulatorConfig, Faults, YandexEmulator
from tests.conftest import PG_URL
from tests.yandex.conftest import DAY, NIGHT

pytestmark = pytest.mark.anyio


def add_queries(engine: Engine, texts: list[str], *, scheduled_for: datetime | None = NIGHT, batch_tag: str = "b1", region: str = "213") -> list[int]:  # fmt: skip
    with Session(engine) as session, session.begin():
        rows = [
            SerpQuery(
                query_text=text,
                region_code=region,
                query_hash=hashlib.sha1(f"{text}|{region}".encode()).hexdigest(),
                scheduled_for=scheduled_for,
                batch_tag=batch_tag,
            )
            for text in texts
        ]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def queries(engine: Engine) -> dict[int, SerpQuery]:
    with Session(engine) as session:
        return {q.id: q for q in session.scalars(select(SerpQuery))}


def operations(engine: Engine) -> list[SerpOperation]:
    with Session(engine) as session:
        return list(session.scalars(select(SerpOperation).order_by(SerpOperation.id)))


class Recorder:
    """An `on_done` that stores one serp_results row per document URL it finds, like the real ingest would."""

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.calls: list[tuple[str, bytes]] = []
        self.fail_with = fail_with

    def __call__(self, session: Session, row: SerpOperation, xml: bytes) -> int:
        self.calls.append((row.operation_id, xml))
        urls = sorted(set(part.split("</url>")[0] for part in xml.decode().split("<url>")[1:]))
        for url in urls:
            session.add(SerpResult(operation_id=row.operation_id, query_id=row.query_id, url=url))
        session.flush()
        if self.fail_with is not None:
            raise self.fail_with
        return len(urls)


@asynccontextmanager
async def stack(db_url: str, clock: ManualClock, **config: Any) -> AsyncIterator[tuple[YandexEmulator, YandexClient, Settings]]:  # fmt: skip
    settings_extra = config.pop("settings", {})
    with YandexEmulator(EmulatorConfig(clock=clock, time_to_done=600, **config)) as emu:
        settings = Settings(
            _env_file=None,
            database_url=db_url,
            **{**emu.settings_overrides(auth="api_key"), **settings_extra},
        )  # type: ignore[call-arg]
        async with YandexClient.from_settings(settings, clock=clock, sleep=clock.async_sleep) as client:
            yield emu, client, settings


async def test_outside_the_window_nothing_happens(engine: Engine, db_url: str) -> None:
    clock = ManualClock(DAY)
    add_queries(engine, ["окна пвх"], scheduled_for=None)
    async with stack(db_url, clock) as (emu, client, settings):
        report = await submit_due_queries(engine, client, settings, now=clock, limit=10)
    assert not report.in_window and report.submitted == 0
    assert report.next_window_start == "2026-11-26T21:00:00+00:00"
    assert emu.requests == [] and queries(engine)[1].status == QueryStatus.PENDING
    json.dumps(asdict(report))


async def test_submit_then_collect(engine: Engine, db_url: str, yclock: ManualClock) -> None:
    due = add_queries(engine, ["окна пвх", "натяжные потолки", "стоматология"])
    later = add_queries(engine, ["ремонт квартир"], scheduled_for=NIGHT + timedelta(hours=2))
    other = add_queries(engine, ["клининг"], batch_tag="b2")
    async with stack(db_url, yclock) as (_emu, client, settings):
        report = await submit_due_queries(engine, client, settings, now=yclock, limit=10, batch_tag="b1")
        assert (report.submitted, report.failed, report.deferred, report.stopped) == (3, 0, 0, None)
        rows = queries(engine)
        assert {i for i, q in rows.items() if q.status == QueryStatus.SUBMITTED} == set(due)
        assert rows[later[0]].status == rows[other[0]].status == QueryStatus.PENDING
        ops = operations(engine)
        assert [o.operation_id for o in ops] == list(report.operation_ids)
        assert all(o.status == OperationStatus.PENDING and o.submitted_at == yclock() for o in ops)

        on_done = Recorder()
        first = await collect_operations(engine, client, settings, now=yclock, limit=10, on_done=on_done)
        assert first.polled == 0  # nothing polled before YANDEX_POLL_INTERVAL_SECONDS
        yclock.advance(300)
        second = await collect_operations(engine, client, settings, now=yclock, limit=10, on_done=on_done)
        assert (second.polled, second.still_pending, second.done) == (3, 3, 0)  # done after 600 s
        yclock.advance(300)
        third = await collect_operations(engine, client, settings, now=yclock, limit=10, on_done=on_done)
        assert (third.polled, third.done, third.failed) == (3, 3, 0)
        assert third.results == sum(o.result_count or 0 for o in operations(engine)) > 0
        json.dumps(asdict(third))
    assert all(q.status == QueryStatus.DONE for i, q in queries(engine).items() if i in due)
    assert all(o.status == OperationStatus.DONE and o.poll_count == 2 for o in operations(engine))
    assert len(on_done.calls) == 3 and all(xml.startswith(b"<?xml") for _, xml in on_done.calls)
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(SerpResult)) == third.results


async def test_limit_is_respected(engine: Engine, db_url: str, yclock: ManualClock) -> None:
    add_queries(engine, [f"запрос {i}" for i in range(5)])
    async with stack(db_url, yclock) as (_, client, settings):
        assert (await submit_due_queries(engine, client, settings, now=yclock, limit=2)).submitted == 2
        assert (await submit_due_queries(engine, client, settings, now=yclock, limit=10)).submitted == 3
        assert (await submit_due_queries(engine, client, settings, now=yclock, limit=10)).submitted == 0


async def test_quota_errors_keep_the_query_then_fail_it(
    engine: Engine, db_url: str, yclock: ManualClock
) -> None:
    [qid] = add_queries(engine, ["окна пвх"])
    cfg = {"faults": Faults(rate_429=1.0), "settings": {"yandex_max_retries": 0, "yandex_max_attempts": 2}}
    async with stack(db_url, yclock, **cfg) as (_, client, settings):
        report = await submit_due_queries(engine, client, settings, now=yclock, limit=5)
        assert (report.deferred, report.failed) == (1, 0) and "QuotaExceeded" in (report.stopped or "")
        q = queries(engine)[qid]
        assert q.status == QueryStatus.PENDING and q.attempts == 1 and "429" in (q.last_error or "")
        assert q.scheduled_for is not None and q.scheduled_for > yclock()
        again = await submit_due_queries(engine, client, settings, now=yclock, limit=5)
        assert again.submitted == again.deferred == 0  # not due yet: backed off
        yclock.set(q.scheduled_for)
        final = await submit_due_queries(engine, client, settings, now=yclock, limit=5)
    q = queries(engine)[qid]
    assert final.failed == 1 and q.status == QueryStatus.FAILED and q.attempts == 2 and q.last_error
    assert operations(engine) == []


async def test_rejected_query_fails_with_the_api_reason(
    engine: Engine, db_url: str, yclock: ManualClock
) -> None:
    [bad, good] = add_queries(engine, ["окна", "двери"])
    with Session(engine) as session, session.begin():
        session.get(SerpQuery, bad).page = -1  # type: ignore[union-attr]  # the API answers 400 INVALID_ARGUMENT
    async with stack(db_url, yclock) as (_, client, settings):
        report = await submit_due_queries(engine, client, settings, now=yclock, limit=5)
    rows = queries(engine)
    assert (report.submitted, report.failed) == (1, 1)
    assert rows[bad].status == QueryStatus.FAILED and "query.page" in (rows[bad].last_error or "")
    assert rows[good].status == QueryStatus.SUBMITTED
    assert report.errors[0].id == bad and report.errors[0].outcome == "failed"


async def test_auth_failure_stops_without_counting_an_attempt(
    engine: Engine, db_url: str, yclock: ManualClock
) -> None:
    [qid, _] = add_queries(engine, ["окна", "двери"])
    async with stack(db_url, yclock, settings={"yandex_api_key": "AQVNwrong"}) as (_, client, settings):
        report = await submit_due_queries(engine, client, settings, now=yclock, limit=5)
    q = queries(engine)[qid]
    assert report.stopped and "authentication" in report.stopped and report.submitted == 0
    assert q.status == QueryStatus.PENDING and q.attempts == 0 and "401" in (q.last_error or "")


async def test_window_closing_mid_run_stops(engine: Engine, db_url: str) -> None:
    clock = ManualClock(datetime(2026, 11, 26, 4, 59, 59, 950_000, tzinfo=UTC))  # 07:59:59.95 MSK
    add_queries(engine, [f"q{i}" for i in range(30)], scheduled_for=None)
    async with stack(db_url, clock) as (_, client, settings):
        report = await submit_due_queries(engine, client, settings, now=clock, limit=30)
    assert report.stopped and "night window" in report.stopped
    assert 0 < report.submitted < 30
    assert sum(q.status == QueryStatus.PENDING for q in queries(engine).values()) == 30 - report.submitted


@pytest.mark.parametrize("fault", ["rate_operation_error", "rate_malformed_base64"])
async def test_failed_operations_requeue_the_query_once(engine: Engine, db_url: str, yclock: ManualClock, fault: str) -> None:  # fmt: skip
    [qid] = add_queries(engine, ["окна пвх"])
    async with stack(db_url, yclock, faults=Faults(**{fault: 1.0})) as (_, client, settings):
        for round_ in range(2):
            await submit_due_queries(engine, client, settings, now=yclock, limit=5)
            yclock.advance(600)
            report = await collect_operations(
                engine, client, settings, now=yclock, limit=5, on_done=Recorder()
            )
            assert report.failed == 1
            q = queries(engine)[qid]
            if round_ == 0:
                assert report.requeued == 1 and q.status == QueryStatus.PENDING and q.requeue_count == 1
            else:
                assert report.queries_failed == 1 and q.status == QueryStatus.FAILED
                assert "already re-queued" in (q.last_error or "")
    assert [o.status for o in operations(engine)] == [OperationStatus.FAILED] * 2


async def test_on_done_errors(engine: Engine, db_url: str, yclock: ManualClock) -> None:
    add_queries(engine, ["окна пвх"])
    async with stack(db_url, yclock) as (_, client, settings):
        await submit_due_queries(engine, client, settings, now=yclock, limit=5)
        yclock.advance(600)
        crash = await collect_operations(
            engine, client, settings, now=yclock, limit=5, on_done=Recorder(RuntimeError("bug"))
        )
        [op] = operations(engine)
        assert (
            crash.still_pending == 1
            and op.status == OperationStatus.PENDING
            and "bug" in (op.last_error or "")
        )
        yclock.advance(300)
        rejected = await collect_operations(
            engine, client, settings, now=yclock, limit=5, on_done=Recorder(SearchError("bad xml"))
        )
        assert rejected.failed == 1 and rejected.requeued == 1
    with Session(engine) as session:  # the savepoint rolled back what on_done had written
        assert session.scalar(select(func.count()).select_from(SerpResult)) == 0


async def test_sla_expiry_requeues_once_then_fails(engine: Engine, db_url: str, yclock: ManualClock) -> None:
    [qid] = add_queries(engine, ["окна пвх"])
    async with stack(db_url, yclock, faults=Faults(rate_never_done=1.0)) as (_, client, settings):
        for night in range(2):
            await submit_due_queries(engine, client, settings, now=yclock, limit=5)
            yclock.advance(hours=6)
            report = await collect_operations(
                engine, client, settings, now=yclock, limit=5, on_done=Recorder()
            )
            assert report.still_pending == 1 and report.expired == 0
            yclock.advance(hours=6)
            report = await collect_operations(
                engine, client, settings, now=yclock, limit=5, on_done=Recorder()
            )
            assert report.expired == 1 and report.polled == 0
            yclock.advance(hours=12)  # next night
            q = queries(engine)[qid]
            assert q.status == (QueryStatus.PENDING if night == 0 else QueryStatus.FAILED)
    assert [o.status for o in operations(engine)] == [OperationStatus.EXPIRED] * 2
    assert "SLA" in (queries(engine)[qid].last_error or "")


async def test_no_query_is_ever_lost_under_random_faults(
    engine: Engine, db_url: str, yclock: ManualClock
) -> None:
    ids = add_queries(engine, [f"ниша {i} контакты" for i in range(30)])
    faults = Faults(
        rate_429=0.1, rate_500=0.1, rate_malformed_base64=0.1, rate_never_done=0.1, rate_operation_error=0.1
    )
    rng = random.Random(3)
    async with stack(db_url, yclock, faults=faults, settings={"yandex_max_retries": 1}) as (
        _,
        client,
        settings,
    ):
        for _night in range(5):
            for _step in range(25):
                await submit_due_queries(engine, client, settings, now=yclock, limit=rng.randint(1, 8))
                await collect_operations(
                    engine, client, settings, now=yclock, limit=rng.randint(1, 8), on_done=Recorder()
                )
                yclock.advance(seconds=rng.randint(60, 900))
            yclock.set(client.window.next_start(yclock() + timedelta(hours=8)))
    rows = queries(engine)
    ops = operations(engine)
    pending_ops = {o.query_id for o in ops if o.status == OperationStatus.PENDING}
    assert set(rows) == set(ids)
    for q in rows.values():
        assert q.status in set(QueryStatus)
        if q.status == QueryStatus.SUBMITTED:
            assert q.id in pending_ops
        if q.status == QueryStatus.FAILED:
            assert q.last_error
        if q.status == QueryStatus.DONE:
            assert any(o.query_id == q.id and o.status == OperationStatus.DONE for o in ops)
    assert sum(q.status == QueryStatus.DONE for q in rows.values()) >= 15


@pytest.mark.skipif(not PG_URL, reason="needs LEADGEN_TEST_DATABASE_URL")
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_concurrent_submitters_never_double_submit(engine: Engine, db_url: str, yclock: ManualClock, backend: str) -> None:  # fmt: skip
    add_queries(engine, [f"q{i}" for i in range(20)])
    async with stack(db_url, yclock) as (_, client, settings):
        reports = await asyncio.gather(
            *(submit_due_queries(engine, client, settings, now=yclock, limit=20) for _ in range(3))
        )
    assert sum(r.submitted for r in reports) == 20
    with Session(engine) as session:
        counts = session.execute(
            select(SerpOperation.query_id, func.count()).group_by(SerpOperation.query_id)
        ).all()
    assert len(counts) == 20 and all(n == 1 for _, n in counts)


async def test_unknown_operation_fails_and_requeues(engine: Engine, db_url: str, yclock: ManualClock) -> None:
    [qid] = add_queries(engine, ["окна пвх"])
    with Session(engine) as session, session.begin():
        session.get(SerpQuery, qid).status = QueryStatus.SUBMITTED  # type: ignore[union-attr]
        session.add(SerpOperation(operation_id="sppgone00000000000000", query_id=qid, submitted_at=NIGHT))
    yclock.advance(300)
    async with stack(db_url, yclock) as (_, client, settings):
        report = await collect_operations(engine, client, settings, now=yclock, limit=5, on_done=Recorder())
    [op] = operations(engine)
    q = queries(engine)[qid]
    assert (report.failed, report.requeued) == (1, 1) and op.status == OperationStatus.FAILED
    assert "404" in (op.last_error or "") and q.status == QueryStatus.PENDING and q.requeue_count == 1
