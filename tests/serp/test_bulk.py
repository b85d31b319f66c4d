"""bulk_ingest / bulk_ingest_raw (COPY, savepoint fallback to upserts) store what ingest_payload stores; Postgres."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from leadgen.db import Company, SerpResult
from leadgen.db.engine import make_engine, write_scope
from leadgen.errors import ConfigurationError
from leadgen.serp import (
    BulkReport,
    DomainFilter,
    RawResult,
    ResultRow,
    bulk_ingest,
    bulk_ingest_raw,
    ingest_payload,
    parse_serp,
    rows_from_page,
    rows_from_raw,
)
from leadgen.settings import Settings
from tests.conftest import PG_URL
from tests.serp.conftest import fixture_bytes
from tests.support.threads import run_in_threads

T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
PAGES = {"op-a": "page0_moscow_windows.xml", "op-b": "page2_multidoc_missing_tags.xml"}


def postgres_only(test: Callable[..., None]) -> Callable[..., None]:
    """Run a test on Postgres only (the bulk path uses COPY and savepoints)."""
    test = pytest.mark.parametrize("backend", ["postgres"], indirect=True)(test)
    return pytest.mark.skipif(not PG_URL, reason="needs LEADGEN_TEST_DATABASE_URL")(test)


def _rows(settings: Settings) -> list:
    filt = DomainFilter.from_settings(settings)
    return [
        row for op, name in PAGES.items() for row in rows_from_page(op, parse_serp(fixture_bytes(name)), filt)
    ]


def _state(session: Session) -> tuple[set, set]:
    results = {
        (
            r.operation_id,
            r.url,
            r.domain,
            r.title,
            r.snippet,
            r.position,
            r.page,
            r.skip_reason,
            r.company_id is None,
        )
        for r in session.scalars(select(SerpResult))
    }
    companies = {
        (
            c.canonical_domain,
            c.dedupe_hash,
            c.name,
            c.website_url,
            c.source,
            c.status,
            c.first_seen_at,
            c.last_seen_at,
        )
        for c in session.scalars(select(Company))
    }
    return results, companies


def test_bulk_matches_per_operation_ingest(backend: str, session: Session, settings: Settings) -> None:
    if backend != "postgres":
        with pytest.raises(ConfigurationError):
            bulk_ingest(session, _rows(settings), now=T0)
        with pytest.raises(ConfigurationError):
            bulk_ingest_raw(session, _raw(), domain_filter=DomainFilter.from_settings(settings), now=T0)
        return
    report = bulk_ingest(session, _rows(settings), now=T0)
    session.flush()
    assert report.staged == 14 and report.results_inserted == 14 and report.companies_created == 6
    bulk_state = _state(session)
    assert (report.chunks_copied, report.chunks_upserted) == (1, 0)
    again = bulk_ingest(session, _rows(settings), now=T0 + timedelta(hours=1))
    assert again.results_inserted == 0 and again.companies_created == 0 and again.companies_seen_again == 0
    assert (again.chunks_copied, again.chunks_upserted) == (0, 1)
    session.expire_all()
    state = _state(session)
    assert state[0] ^ bulk_state[0] == set()
    assert state[1] ^ bulk_state[1] == set()

    session.rollback()
    for op, name in PAGES.items():
        ingest_payload(session, settings, operation_id=op, xml=fixture_bytes(name), now=T0)
    session.flush()
    session.expire_all()
    state = _state(session)
    assert state[0] ^ bulk_state[0] == set()
    assert state[1] ^ bulk_state[1] == set()


def _raw() -> list[RawResult]:
    return [
        RawResult(op, doc.url, doc.title, doc.snippet, doc.position, doc.page)
        for op, name in PAGES.items()
        for doc in parse_serp(fixture_bytes(name)).documents
    ]


def _ingested_state(session: Session, settings: Settings) -> tuple[set, set]:
    """The state `ingest_payload` leaves, read inside a transaction that is rolled back."""
    with session.begin_nested() as nested:
        for op, name in PAGES.items():
            ingest_payload(session, settings, operation_id=op, xml=fixture_bytes(name), now=T0)
        session.flush()
        session.expire_all()
        state = _state(session)
        nested.rollback()
    session.expire_all()
    return state


def test_rows_from_raw_classify_like_parsed_pages(settings: Settings) -> None:
    first: dict[tuple[str, str], object] = {}
    for row in rows_from_raw(_raw(), DomainFilter.from_settings(settings)):
        first.setdefault((row.operation_id, row.url), row)
    assert list(first.values()) == _rows(settings)


@postgres_only
@pytest.mark.parametrize(("chunk_size", "copied", "upserted"), [(50_000, 1, 0), (4, 2, 2)])
def test_bulk_raw_matches_per_operation_ingest(
    session: Session, settings: Settings, chunk_size: int, copied: int, upserted: int
) -> None:
    """Raw URLs in, same rows out. With 4-row chunks a URL repeated in a later chunk of its operation makes that
    chunk's COPY hit the unique index: the chunk is rolled back to its savepoint and upserted instead."""
    expected = _ingested_state(session, settings)
    filt = DomainFilter.from_settings(settings)
    report = bulk_ingest_raw(session, _raw(), domain_filter=filt, now=T0, chunk_size=chunk_size)
    assert (report.staged, report.results_inserted, report.companies_created) == (16, 14, 6)
    assert (report.chunks_copied, report.chunks_upserted) == (copied, upserted)
    session.expire_all()
    state = _state(session)
    assert state == expected
    # `repeat` survives the bulk path, across chunk boundaries too: each page keeps one result per domain
    repeats = {(op, url) for op, url, domain, *_, reason, no_company in state[0] if reason == "repeat"}
    assert repeats == {
        ("op-a", "https://oknadom.ru/?from=yandex"),
        ("op-b", "https://dental-smile.spb.ru/contacts/"),
    }


@postgres_only
def test_bulk_falls_back_when_an_operation_is_stored_and_moves_last_seen_only_for_new_rows(
    session: Session, settings: Settings
) -> None:
    ingest_payload(session, settings, operation_id="op-a", xml=fixture_bytes(PAGES["op-a"]), now=T0)
    session.flush()
    t1 = T0 + timedelta(hours=1)
    report = bulk_ingest(session, _rows(settings), now=t1)
    # op-a is stored: the chunk goes through the staging table; op-b's five distinct rows and two companies are new.
    assert (report.chunks_copied, report.chunks_upserted) == (0, 1)
    assert (report.results_inserted, report.companies_created, report.companies_seen_again) == (5, 2, 0)
    session.expire_all()
    seen = {c.canonical_domain: c.last_seen_at for c in session.scalars(select(Company))}
    assert seen["oknadom.ru"] == T0 and seen["zubnoi.ru"] == t1

    t2 = T0 + timedelta(hours=2)
    new_row = ResultRow("op-c", "https://oknadom.ru/akcii", "oknadom.ru", "Акции", None, 1, 0, None,
                        website_url="https://oknadom.ru/")  # fmt: skip
    report = bulk_ingest(session, [new_row], now=t2)
    assert (report.chunks_copied, report.results_inserted, report.companies_created) == (1, 1, 0)
    assert report.companies_seen_again == 1
    again = bulk_ingest(session, [new_row], now=t2 + timedelta(hours=1))
    assert (again.chunks_upserted, again.results_inserted, again.companies_seen_again) == (1, 0, 0)
    session.expire_all()
    company = session.scalars(select(Company).where(Company.canonical_domain == "oknadom.ru")).one()
    assert company.last_seen_at == t2 and company.first_seen_at == T0
    result = session.scalars(select(SerpResult).where(SerpResult.operation_id == "op-c")).one()
    assert result.company_id == company.id


def _wait_for_lock_wait(engine: Engine, deadline: float = 30.0) -> None:
    """Poll (no sleeping) until some session of this database waits for a lock."""
    start = time.monotonic()
    with engine.connect() as conn:
        while time.monotonic() - start < deadline:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
            if waiting:
                return
            conn.rollback()
    raise AssertionError("no session started waiting for a lock")


@postgres_only
def test_copy_that_meets_a_concurrent_insert_falls_back_inside_its_savepoint(
    db_url: str, settings: Settings
) -> None:
    """Another transaction holds an uncommitted result of op-a: the pre-check cannot see it, the COPY waits on the
    unique index, and when the other transaction commits the chunk is redone as an upsert, keeping its row."""
    engine = make_engine(db_url)
    rows = _rows(settings)
    reports: list[BulkReport] = []
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            with write_scope(engine) as s:
                reports.append(bulk_ingest(s, rows, now=T0))
        except BaseException as exc:  # re-raised in the test's thread below
            failures.append(exc)

    try:
        with Session(engine) as other, other.begin():
            other.add(
                SerpResult(operation_id="op-a", url=rows[0].url, title="stored by the other transaction")
            )
            other.flush()
            thread = threading.Thread(target=worker)
            thread.start()
            _wait_for_lock_wait(engine)
        thread.join(60)
        assert not thread.is_alive()
        if failures:
            raise failures[0]
        (report,) = reports
        assert (report.chunks_copied, report.chunks_upserted) == (0, 1)
        assert (report.results_inserted, report.companies_created) == (13, 6)
        with write_scope(engine) as s:
            assert s.scalar(select(func.count()).select_from(SerpResult)) == 14
            kept = s.scalars(select(SerpResult).where(SerpResult.url == rows[0].url)).one()
            assert kept.title == "stored by the other transaction" and kept.company_id is None
    finally:
        engine.dispose()


@postgres_only
def test_two_bulk_ingests_of_the_same_rows_at_once_end_like_one(db_url: str, settings: Settings) -> None:
    rows = _rows(settings)
    barrier = threading.Barrier(2)
    reports: list[BulkReport] = []

    def worker() -> None:
        engine = make_engine(db_url)
        try:
            barrier.wait()
            with write_scope(engine) as s:
                reports.append(bulk_ingest(s, rows, now=T0, chunk_size=5))
        finally:
            engine.dispose()

    run_in_threads(worker)
    assert sum(r.results_inserted for r in reports) == 14
    assert sum(r.companies_created for r in reports) == 6
    engine = make_engine(db_url)
    try:
        with Session(engine) as s:
            state = _state(s)
            expected = _ingested_state(s, settings)
            s.rollback()
    finally:
        engine.dispose()
    assert state == expected
