"""plan_batch on SQLite and Postgres: rows into serp_queries, idempotent re-plan, batches, dry run."""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadgen.db import QueryStatus, SerpQuery
from leadgen.errors import ConfigurationError
from leadgen.planning import RowError, plan_batch, validate_row
from leadgen.settings import Settings

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # 15:00 in Moscow: the next window opens at 21:00 UTC


def _rows():  # type: ignore[no-untyped-def]
    return [
        validate_row({"niche": "Стоматология", "city": "Москва", "batch_tag": "b1"}, row_number=2),
        validate_row({"niche": "Окна ПВХ", "city": "Питер"}, row_number=3),
        validate_row({"niche": "", "city": "Казань", "batch_tag": "b1"}, row_number=4),
        validate_row({"niche": "Клининг", "city": "Омск", "batch_tag": "b2"}, row_number=5),
    ]


def test_plan_inserts_pending_night_queries_with_metadata(session: Session, settings: Settings) -> None:
    report = plan_batch(session, settings, _rows(), batch_tag="b1", now=NOW)
    session.commit()
    assert (report.rows_total, report.rows_planned, report.rows_failed, report.rows_skipped) == (3, 2, 1, 1)
    assert (report.generated, report.inserted, report.duplicates) == (12, 12, 0)
    queries = session.scalars(select(SerpQuery).order_by(SerpQuery.scheduled_for)).all()
    assert len(queries) == 12
    assert {q.status for q in queries} == {QueryStatus.PENDING}
    assert all(q.is_night_window for q in queries)
    assert {q.batch_tag for q in queries} == {"b1"}
    assert queries[0].scheduled_for == datetime(2026, 11, 26, 21, 0, tzinfo=UTC)
    assert queries[-1].scheduled_for == datetime(2026, 11, 26, 21, 1, 50, tzinfo=UTC)
    gaps = {(b.scheduled_for - a.scheduled_for).total_seconds() for a, b in itertools.pairwise(queries)}
    assert gaps == {10.0}
    meta = queries[0].meta
    assert meta["niche"] == "Стоматология" and meta["city"] == "Москва" and meta["batch_tag"] == "b1"
    assert meta["trigger"] is None and meta["language"] == "ru" and meta["selection"]["rank"] == 1
    assert {q.region_code for q in queries} == {"213", "2"}
    first = report.outcomes[0]
    assert (first.status, first.generated_count, first.db_inserted_count) == ("planned", 6, 6)
    assert first.db_first_scheduled_for == "2026-11-27T00:00:00+03:00"
    assert report.outcomes[2].status == "error" and "niche is empty" in (report.outcomes[2].last_error or "")
    json.dumps(asdict(report))  # the report is JSON-serialisable


def test_replanning_inserts_nothing_and_reports_duplicates(session: Session, settings: Settings) -> None:
    plan_batch(session, settings, _rows(), batch_tag="b1", now=NOW)
    session.commit()
    before = session.execute(
        select(SerpQuery.query_hash, SerpQuery.scheduled_for).order_by(SerpQuery.id)
    ).all()
    again = plan_batch(session, settings, _rows(), batch_tag="b1", now=NOW.replace(hour=15))
    session.commit()
    assert (again.generated, again.inserted, again.duplicates) == (12, 0, 12)
    assert [o.status for o in again.outcomes] == ["already_planned", "already_planned", "error"]
    assert again.outcomes[0].db_first_scheduled_for == "2026-11-27T00:00:00+03:00"
    after = session.execute(
        select(SerpQuery.query_hash, SerpQuery.scheduled_for).order_by(SerpQuery.id)
    ).all()
    assert after == before


def test_spelling_variants_share_query_hashes(session: Session, settings: Settings) -> None:
    plan_batch(
        session,
        settings,
        [validate_row({"niche": "Окна ПВХ", "city": "СПб"}, row_number=2)],
        batch_tag="x",
        now=NOW,
    )
    again = plan_batch(
        session,
        settings,
        [validate_row({"niche": "окна  пвх", "city": "Санкт Петербург"}, row_number=2)],
        batch_tag="x",
        now=NOW,
    )
    assert again.inserted == 0 and again.duplicates == 6


def test_new_batch_queues_behind_pending_queries(session: Session, settings: Settings) -> None:
    plan_batch(session, settings, _rows()[:1], batch_tag="b1", now=NOW)
    report = plan_batch(session, settings, _rows()[3:], batch_tag="b2", now=NOW)
    assert report.first_scheduled_for == "2026-11-27T00:01:00+03:00"
    assert session.scalar(select(func.count()).select_from(SerpQuery).where(SerpQuery.batch_tag == "b2")) == 6


def test_dry_run_writes_nothing(session: Session, settings: Settings) -> None:
    report = plan_batch(session, settings, _rows(), batch_tag="b1", now=NOW, dry_run=True)
    assert report.inserted == 12 and {o.status for o in report.outcomes} == {"dry_run", "error"}
    assert len(report.queries) == 12 and report.queries[0].scheduled_for == "2026-11-27T00:00:00+03:00"
    assert session.scalar(select(func.count()).select_from(SerpQuery)) == 0


def test_rows_without_any_batch_tag_are_errors(session: Session, settings: Settings) -> None:
    row = validate_row({"niche": "Окна", "city": "Омск"}, row_number=2)
    report = plan_batch(session, settings, [row], batch_tag=None, now=NOW)
    assert report.outcomes[0].status == "error" and "batch_tag" in (report.outcomes[0].last_error or "")
    assert not isinstance(row, RowError)
    (error,) = report.errors
    assert (error.item, error.id) == ("row", 2) and error.reason == report.outcomes[0].last_error


def test_the_planner_refuses_a_tag_the_column_would_refuse(session: Session, settings: Settings) -> None:
    with pytest.raises(ConfigurationError, match="batch_tag 'a b' may only hold"):
        plan_batch(session, settings, _rows(), batch_tag="a b", now=NOW)
    assert plan_batch(session, settings, _rows(), batch_tag="партия-1", now=NOW).inserted > 0
