"""ingest_payload on SQLite and Postgres: results, skip reasons, companies, query metadata, idempotence."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadgen.clock import ManualClock
from leadgen.db import Company, CompanyStatus, SerpOperation, SerpQuery, SerpResult
from leadgen.domains import dedupe_hash
from leadgen.errors import SerpParseError
from leadgen.serp import ingest_payload, make_on_done
from leadgen.settings import Settings
from tests.serp.conftest import fixture_bytes

T0 = datetime(2026, 11, 26, 1, 30, tzinfo=UTC)
PAGE0 = fixture_bytes("page0_moscow_windows.xml")
PAGE2 = fixture_bytes("page2_multidoc_missing_tags.xml")


def _snapshot(session: Session) -> tuple[list[tuple], list[tuple]]:
    results = session.execute(
        select(
            SerpResult.id,
            SerpResult.operation_id,
            SerpResult.url,
            SerpResult.domain,
            SerpResult.title,
            SerpResult.snippet,
            SerpResult.position,
            SerpResult.page,
            SerpResult.skip_reason,
            SerpResult.company_id,
            SerpResult.updated_at,
        ).order_by(SerpResult.id)
    ).all()
    companies = session.execute(
        select(
            Company.id,
            Company.canonical_domain,
            Company.dedupe_hash,
            Company.name,
            Company.website_url,
            Company.first_seen_at,
            Company.last_seen_at,
            Company.updated_at,
            Company.status,
        ).order_by(Company.id)
    ).all()
    return [tuple(r) for r in results], [tuple(c) for c in companies]


def _query(session: Session) -> SerpQuery:
    query = SerpQuery(
        query_text="lang:ru пластиковые окна москва контакты",
        region_code="213",
        query_hash="q" * 40,
        batch_tag="2026-11-okna",
        meta={"niche": "пластиковые окна", "city": "Москва", "country": "Россия", "trigger": "контакты"},
    )
    session.add(query)
    session.flush()
    return query


def test_first_page_results_and_companies(session: Session, settings: Settings) -> None:
    query = _query(session)
    report = ingest_payload(session, settings, operation_id="sppop0001", xml=PAGE0, query_id=query.id, now=T0)
    session.flush()

    assert report.documents == 10 and report.duplicates_in_payload == 1  # the utm twin of position 1
    assert report.results_inserted == 9 and report.results_existing == 0 and report.results == 9
    assert report.skipped == {
        "directory:aggregator": 1,
        "directory:jobs": 1,
        "directory:maps": 2,
        "repeat": 1,  # oknadom.ru/ after msk.oknadom.ru/ higher on the page: the same company
    }
    assert report.kept == 4
    assert report.companies_created == 4 and report.companies_matched == 0  # oknadom.ru twice (msk. + root)
    assert report.errors == () and report.empty is False
    assert asdict(report)["skipped"]["directory:maps"] == 2

    rows = {r.url: r for r in session.scalars(select(SerpResult))}
    assert set(rows) >= {
        "https://www.okna-stroy.ru/kontakty/",
        "https://окна-мастер.рф/",
        "https://oknadom.ru/?from=yandex",
    }
    first = rows["https://www.okna-stroy.ru/kontakty/"]
    assert first.position == 1 and first.page == 0 and first.domain == "okna-stroy.ru"
    assert first.skip_reason is None and first.company_id is not None and first.query_id == query.id
    assert first.meta["raw_url"].startswith("https://www.okna-stroy.ru/kontakty/?utm_source=yandex")
    gis = next(r for r in rows.values() if r.domain == "2gis.ru")
    assert gis.skip_reason == "directory:maps" and gis.company_id is None

    companies = {c.canonical_domain: c for c in session.scalars(select(Company))}
    assert set(companies) == {"okna-stroy.ru", "окна-мастер.рф", "oknadom.ru", "okna-expert.com"}
    okna = companies["okna-stroy.ru"]
    assert okna.dedupe_hash == dedupe_hash("okna-stroy.ru")
    assert okna.website_url == "https://www.okna-stroy.ru/"
    assert okna.source == "yandex_search_api" and okna.status == CompanyStatus.NEW and okna.opt_out is False
    assert okna.name == "Контакты — «ОкнаСтрой» пластиковые окна в Москве"
    assert okna.snippet.startswith("Телефон: +7 (495) 123-45-67.")
    assert (okna.niche, okna.city, okna.region_code, okna.batch_tag) == (
        "пластиковые окна",
        "Москва",
        "213",
        "2026-11-okna",
    )
    assert okna.first_seen_at == okna.last_seen_at == T0
    assert companies["окна-мастер.рф"].website_url == "http://окна-мастер.рф/"  # scheme Yandex indexed
    assert companies["oknadom.ru"].website_url == "https://msk.oknadom.ru/"  # best position wins
    both = sorted(
        (r.position, r.skip_reason, r.company_id) for r in rows.values() if r.domain == "oknadom.ru"
    )
    assert both == [(5, None, companies["oknadom.ru"].id), (7, "repeat", None)]
    assert gis.meta["skip_source"] == "shipped" and "skip_source" not in first.meta


def test_reingest_same_payload_changes_nothing(session: Session, settings: Settings) -> None:
    ingest_payload(session, settings, operation_id="sppop0001", xml=PAGE0, now=T0)
    session.flush()
    before = _snapshot(session)
    again = ingest_payload(
        session, settings, operation_id="sppop0001", xml=PAGE0, now=T0 + timedelta(hours=3)
    )
    session.flush()
    session.expire_all()
    assert _snapshot(session) == before
    assert again.results_inserted == 0 and again.results_existing == 9
    assert again.companies_created == 0 and again.companies_matched == 4


def test_same_domain_from_another_operation_moves_last_seen(session: Session, settings: Settings) -> None:
    clock = ManualClock(T0)
    ingest_payload(session, settings, operation_id="op-a", xml=PAGE0, now=clock)
    clock.advance(hours=1)
    report = ingest_payload(session, settings, operation_id="op-b", xml=PAGE0, now=clock)
    session.flush()
    assert report.results_inserted == 9 and report.companies_created == 0 and report.companies_matched == 4
    assert session.scalar(select(func.count()).select_from(Company)) == 4
    okna = session.scalars(select(Company).where(Company.canonical_domain == "okna-stroy.ru")).one()
    assert okna.first_seen_at == T0 and okna.last_seen_at == T0 + timedelta(hours=1)
    assert session.scalar(select(func.count()).select_from(SerpResult)) == 18


def test_multidoc_page_and_skipped_documents(session: Session, settings: Settings) -> None:
    report = ingest_payload(session, settings, operation_id="op-spb", xml=PAGE2, now=T0)
    session.flush()
    assert report.skipped_invalid_url == 4 and report.duplicates_in_payload == 1  # `/#top` equals `/`
    assert report.results_inserted == 5
    assert report.skipped == {"directory:aggregator": 1, "directory:social": 1, "repeat": 1}
    assert {c.canonical_domain for c in session.scalars(select(Company))} == {
        "dental-smile.spb.ru",
        "zubnoi.ru",
    }
    zubnoi = session.scalars(select(Company).where(Company.canonical_domain == "zubnoi.ru")).one()
    assert zubnoi.name == "zubnoi.ru"  # empty <title/>: the domain stands in as provisional name
    positions = sorted(p for (p,) in session.execute(select(SerpResult.position)))
    assert positions == [11, 11, 12, 14, 15]


@pytest.mark.parametrize("name", ["no_results_15.xml", "empty_grouping.xml"])
def test_empty_payload_stores_nothing(session: Session, settings: Settings, name: str) -> None:
    report = ingest_payload(session, settings, operation_id="op-empty", xml=fixture_bytes(name), now=T0)
    assert report.empty and report.results == 0 and report.companies_created == 0


@pytest.mark.parametrize("name", ["error_32_daily_limit.xml", "malformed_truncated.xml"])
def test_bad_payload_raises_before_writing(session: Session, settings: Settings, name: str) -> None:
    with pytest.raises(SerpParseError):
        ingest_payload(session, settings, operation_id="op-bad", xml=fixture_bytes(name), now=T0)
    assert session.scalar(select(func.count()).select_from(SerpResult)) == 0


def test_existing_company_keeps_its_state(session: Session, settings: Settings) -> None:
    session.add(
        Company(
            name="ОкнаСтрой",
            canonical_domain="okna-stroy.ru",
            dedupe_hash=dedupe_hash("okna-stroy.ru"),
            status=CompanyStatus.ENRICHED,
            opt_out=True,
            first_seen_at=T0 - timedelta(days=3),
            last_seen_at=T0 - timedelta(days=3),
        )
    )
    session.flush()
    report = ingest_payload(session, settings, operation_id="op-1", xml=PAGE0, now=T0)
    session.flush()
    session.expire_all()
    okna = session.scalars(select(Company).where(Company.canonical_domain == "okna-stroy.ru")).one()
    assert (okna.name, okna.status, okna.opt_out) == ("ОкнаСтрой", CompanyStatus.ENRICHED, True)
    assert okna.last_seen_at == T0 and report.companies_matched == 1


def test_settings_extend_the_filter(db_url: str, session: Session, tmp_path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=db_url,
        directory_domains_extra="okna-expert.com",
        planning_minus_domains="oknadom.ru",
    )
    report = ingest_payload(session, settings, operation_id="op-x", xml=PAGE0, now=T0)
    assert report.skipped["directory:extra"] == 1 and report.skipped["minus_domain"] == 2
    assert report.companies_created == 2


def test_unknown_query_id_is_reported_not_fatal(session: Session, settings: Settings) -> None:
    report = ingest_payload(session, settings, operation_id="op-q", xml=PAGE0, query_id=999999, now=T0)
    session.flush()
    assert report.query_id is None and report.errors and "query not found" in report.errors[0].reason
    assert session.scalar(select(func.count()).where(SerpResult.query_id.is_not(None))) == 0


def test_on_done_adapter(session: Session, settings: Settings) -> None:
    query = _query(session)
    operation = SerpOperation(operation_id="spp-adapter", query_id=query.id)
    session.add(operation)
    session.flush()
    assert make_on_done(settings, now=T0)(session, operation, PAGE0) == 9
    assert session.scalar(select(func.count()).where(SerpResult.operation_id == "spp-adapter")) == 9


def test_naive_now_is_refused(session: Session, settings: Settings) -> None:
    with pytest.raises(ValueError, match="aware"):
        ingest_payload(session, settings, operation_id="op", xml=PAGE0, now=datetime(2026, 1, 1))
