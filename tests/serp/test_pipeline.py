"""SERP stage against the sandbox: emulator XML parses, and `collect_operations(on_done=make_on_done(...))` stores
results and companies on SQLite and Postgres without duplicates."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from leadgen.clock import ManualClock
from leadgen.companies import dedupe_companies
from leadgen.db import Company, OperationStatus, SerpOperation, SerpQuery, SerpResult
from leadgen.errors import SerpParseError
from leadgen.serp import DomainFilter, make_on_done, parse_serp
from leadgen.settings import Settings
from leadgen.yandex import YandexClient
from leadgen.yandex.collect import collect_operations
from leadgen.yandex.submit import submit_due_queries
from leadgen_sandbox.serp_xml import SerpSpec, render_serp_xml
from leadgen_sandbox.yandex_emulator import EmulatorConfig, YandexEmulator

NIGHT = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)  # 01:00 Europe/Moscow
QUERIES = ["окна пвх", "натяжные потолки", "стоматология", "ремонт квартир под ключ", "грузоперевозки"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize(("page", "groups", "docs"), [(0, 10, 1), (1, 20, 3), (3, 50, 2)])
def test_emulator_pages_parse(query: str, page: int, groups: int, docs: int) -> None:
    spec = SerpSpec(query=query, region="2", page=page, groups_on_page=groups, docs_in_group=docs)
    xml = render_serp_xml(spec, now=NIGHT)
    try:
        parsed = parse_serp(xml)
    except SerpParseError:
        pytest.fail("emulator XML must parse")
    if parsed.error_code == 15:
        assert parsed.documents == ()
        return
    filt = DomainFilter.from_settings(None)
    positions = sorted({d.position for d in parsed.documents})
    assert positions[0] == page * groups + 1 and positions[-1] <= (page + 1) * groups
    for doc in parsed.documents:
        assert doc.canonical_url.startswith("https://") and "xn--" not in doc.canonical_url
        assert doc.domain is not None and doc.page == page
    kept = [d for d in parsed.documents if filt.skip_reason_for_host(d.host, d.domain) is None]
    assert kept, "some results are company candidates"


def test_emulator_error_pages() -> None:
    with pytest.raises(SerpParseError) as info:
        parse_serp(render_serp_xml(SerpSpec(query="окна", page=30, groups_on_page=10), now=NIGHT))
    assert info.value.code == 18
    assert parse_serp(render_serp_xml(SerpSpec(query="zzznothing окна"), now=NIGHT)).error_code == 15


@pytest.mark.anyio
async def test_collect_with_ingest(engine: Engine, db_url: str) -> None:
    clock = ManualClock(NIGHT)
    with Session(engine) as session, session.begin():
        for text in QUERIES[:3]:
            session.add(
                SerpQuery(
                    query_text=text,
                    region_code="213",
                    query_hash=hashlib.sha1(f"{text}|213".encode()).hexdigest(),
                    scheduled_for=NIGHT,
                    batch_tag="b1",
                    meta={"niche": text, "city": "Москва"},
                )
            )
    with YandexEmulator(EmulatorConfig(clock=clock, time_to_done=300)) as emu:
        settings = Settings(_env_file=None, database_url=db_url, **emu.settings_overrides(auth="api_key"))  # type: ignore[call-arg]
        on_done = make_on_done(settings, now=clock)
        async with YandexClient.from_settings(settings, clock=clock, sleep=clock.async_sleep) as client:
            submitted = await submit_due_queries(engine, client, settings, now=clock, limit=10)
            assert submitted.submitted == 3
            clock.advance(300)
            report = await collect_operations(engine, client, settings, now=clock, limit=10, on_done=on_done)
            assert report.done == 3 and report.results > 0

    with Session(engine) as session:
        assert all(o.status == OperationStatus.DONE for o in session.scalars(select(SerpOperation)))
        results = session.scalar(select(func.count()).select_from(SerpResult))
        assert results == report.results
        kept = session.scalar(select(func.count()).where(SerpResult.skip_reason.is_(None)))
        companies = list(session.scalars(select(Company)))
        assert kept and companies and all(c.niche in QUERIES and c.city == "Москва" for c in companies)
        assert all(c.batch_tag == "b1" and c.region_code == "213" for c in companies)
        domains = [c.canonical_domain for c in companies]
        assert len(domains) == len(set(domains))
    with Session(engine) as session, session.begin():
        assert dedupe_companies(session, settings).duplicates == 0
