"""Directories by behaviour across searches: the aggregate over stored results, and the reclassification at dedupe."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadgen.companies import dedupe_companies
from leadgen.db import Company, CompanyStatus, SerpQuery, SerpResult
from leadgen.domains import dedupe_hash
from leadgen.serp.crossquery import find_cross_query_domains
from leadgen.settings import Settings

T0 = datetime(2026, 12, 1, tzinfo=UTC)
NICHES = ("пластиковые окна", "стоматология", "грузоперевозки", "юрист", "автосервис", "натяжные потолки")
CITIES = (("213", "Москва"), ("43", "Казань"), ("54", "Екатеринбург"))


def _queries(session: Session) -> list[SerpQuery]:
    out = []
    for niche in NICHES:
        for region, city in CITIES:
            q = SerpQuery(query_text=f"{niche} {city} контакты", region_code=region,
                          query_hash=dedupe_hash(f"{niche}|{region}"), meta={"niche": niche, "city": city})  # fmt: skip
            session.add(q)
            out.append(q)
    session.flush()
    return out


def _company(session: Session, domain: str, status: CompanyStatus = CompanyStatus.NEW) -> Company:
    company = Company(canonical_domain=domain, dedupe_hash=dedupe_hash(domain), name=domain, status=status,
                      website_url=f"https://{domain}/", created_at=T0)  # fmt: skip
    session.add(company)
    session.flush()
    return company


def _result(session: Session, query: SerpQuery, domain: str, company: Company | None, n: int = 0) -> None:
    session.add(SerpResult(operation_id=f"op{query.id}", query_id=query.id, url=f"https://{domain}/p{n}",
                           domain=domain, position=n + 1, page=0, skip_reason=None,
                           company_id=company.id if company else None))  # fmt: skip


def _setup(session: Session) -> dict[str, Company]:
    queries = _queries(session)
    portal = _company(session, "gorod-novostei.ru")  # a city portal in every niche of one city
    federal = _company(session, "okna-federal.ru")  # one niche, every city: a real company
    builder = _company(session, "remont-plus.ru")  # three related niches: below the niche threshold
    enriched = _company(session, "spravka-goroda.ru", CompanyStatus.ENRICHED)  # in every query
    for q in queries:
        niche, region = q.meta["niche"], q.region_code
        if region == "43":
            _result(session, q, "gorod-novostei.ru", portal)
            _result(session, q, "gorod-novostei.ru", portal, n=1)  # two results of one query count once
        if niche == "пластиковые окна":
            _result(session, q, "okna-federal.ru", federal)
        if niche in NICHES[:3] and region != "54":
            _result(session, q, "remont-plus.ru", builder)
        _result(session, q, "spravka-goroda.ru", enriched)
    session.add(SerpResult(operation_id="op-x", query_id=queries[0].id, url="https://2gis.ru/x", domain="2gis.ru",
                           skip_reason="directory:maps"))  # fmt: skip
    session.flush()
    return {"portal": portal, "federal": federal, "builder": builder, "enriched": enriched}


def test_find_counts_distinct_queries_niches_and_regions(session: Session, settings: Settings) -> None:
    _setup(session)
    found = {d.domain: d for d in find_cross_query_domains(session, settings)}
    assert set(found) == {"gorod-novostei.ru", "spravka-goroda.ru"}
    portal = found["gorod-novostei.ru"]
    assert (portal.queries, portal.niches, portal.regions) == (6, 6, 1)
    assert (found["spravka-goroda.ru"].queries, found["spravka-goroda.ru"].regions) == (18, 3)


def test_thresholds_come_from_settings(session: Session, settings: Settings) -> None:
    _setup(session)
    strict = settings.model_copy(update={"directory_cross_query_min_regions": 2})
    assert [d.domain for d in find_cross_query_domains(session, strict)] == ["spravka-goroda.ru"]
    loose = settings.model_copy(
        update={"directory_cross_query_min_niches": 3, "directory_cross_query_min_queries": 4}
    )
    assert "remont-plus.ru" in {d.domain for d in find_cross_query_domains(session, loose)}
    assert "okna-federal.ru" not in {d.domain for d in find_cross_query_domains(session, loose)}


def test_dedupe_excludes_stored_companies_and_marks_results(session: Session, settings: Settings) -> None:
    companies = _setup(session)
    report = dedupe_companies(session, settings, now=lambda: T0)
    session.expire_all()
    assert report.cross_query_domains == ["gorod-novostei.ru", "spravka-goroda.ru"]
    assert report.cross_query_excluded == 2
    portal = session.get(Company, companies["portal"].id)
    assert portal.status == CompanyStatus.EXCLUDED and portal.status_reason == "directory:cross-query"
    assert portal.meta["directory"] == {"source": "cross-query", "queries": 6, "niches": 6, "regions": 1,
                                        "status_before": "new"}  # fmt: skip
    assert session.get(Company, companies["enriched"].id).meta["directory"]["status_before"] == "enriched"
    for key in ("federal", "builder"):
        assert session.get(Company, companies[key].id).status == CompanyStatus.NEW
    reasons = dict(
        session.execute(select(SerpResult.domain, SerpResult.skip_reason).distinct()).tuples().all()
    )
    assert reasons["gorod-novostei.ru"] == reasons["spravka-goroda.ru"] == "directory:cross-query"
    assert reasons["okna-federal.ru"] is None and reasons["2gis.ru"] == "directory:maps"

    again = dedupe_companies(session, settings, now=lambda: T0)
    assert again.updated == 0 and again.cross_query_excluded == 0
    assert again.cross_query_domains == report.cross_query_domains  # still found: marked results count


def test_nothing_to_do_without_queries(session: Session, settings: Settings) -> None:
    company = _company(session, "okna.ru")
    session.add(
        SerpResult(operation_id="op", url="https://okna.ru/", domain="okna.ru", company_id=company.id)
    )
    session.flush()
    report = dedupe_companies(session, settings, now=lambda: T0)
    assert report.cross_query_domains == [] and report.cross_query_excluded == 0
