"""The enrichment lookups the CLI uses (leadgen.contacts.selection), on SQLite and Postgres."""

from __future__ import annotations

from sqlalchemy import Engine

from leadgen.contacts.selection import company_ids_by_domain, company_ids_for_typed, count_to_enrich
from leadgen.db.engine import write_scope
from leadgen.db.models import Company, CompanyStatus, SerpOperation, SerpQuery, SerpResult


def add(engine: Engine, *rows: tuple[str | None, CompanyStatus]) -> dict[str | None, int]:
    with write_scope(engine) as session:
        companies = [Company(canonical_domain=d, name=d or "no domain", status=s) for d, s in rows]
        session.add_all(companies)
        session.flush()
        return {c.canonical_domain: c.id for c in companies}


def test_ids_by_domain_match_case_insensitively_and_leave_out_unknown_domains(engine: Engine) -> None:
    ids = add(engine, ("Shop.RU", CompanyStatus.ENRICHED), ("xn--80ak6aa92e.com", CompanyStatus.NEW))
    with write_scope(engine) as session:
        found = company_ids_by_domain(session, ["shop.ru", "xn--80ak6aa92e.com", "absent.ru"])
        assert company_ids_by_domain(session, []) == {}
    assert found == {"shop.ru": ids["Shop.RU"], "xn--80ak6aa92e.com": ids["xn--80ak6aa92e.com"]}


def test_typed_domains_are_keyed_by_the_one_domain_rule(engine: Engine) -> None:
    ids = add(engine, ("shop.ru", CompanyStatus.ENRICHED), ("xn--e1afmkfd.xn--p1ai", CompanyStatus.NEW))
    with write_scope(engine) as session:
        found, missing = company_ids_for_typed(
            session, ["https://WWW.Shop.ru/contacts", "Пример.РФ", "absent.ru"]
        )
    assert sorted(found) == sorted([ids["shop.ru"], ids["xn--e1afmkfd.xn--p1ai"]])
    assert missing == ["absent.ru"]


def test_the_count_is_the_new_companies_under_the_limit(engine: Engine) -> None:
    add(
        engine,
        ("a.ru", CompanyStatus.NEW),
        ("b.ru", CompanyStatus.NEW),
        ("c.ru", CompanyStatus.NEW),
        ("done.ru", CompanyStatus.ENRICHED),
        (None, CompanyStatus.DUPLICATE),
    )
    with write_scope(engine) as session:
        assert count_to_enrich(session, limit=50) == 3
        assert count_to_enrich(session, limit=2) == 2


def test_listed_companies_count_whatever_their_status(engine: Engine) -> None:
    ids = add(engine, ("new.ru", CompanyStatus.NEW), ("done.ru", CompanyStatus.ENRICHED))
    with write_scope(engine) as session:
        assert count_to_enrich(session, limit=50, company_ids=[ids["done.ru"]]) == 1
        assert count_to_enrich(session, limit=50, company_ids=[]) == 0


def test_a_batch_counts_only_the_companies_it_found(engine: Engine) -> None:
    ids = add(engine, ("mine.ru", CompanyStatus.NEW), ("theirs.ru", CompanyStatus.NEW))
    with write_scope(engine) as session:
        query = SerpQuery(query_text="q", region_code="213", query_hash="q".ljust(40, "0"), batch_tag="alpha")
        session.add(query)
        session.flush()
        session.add(SerpOperation(operation_id="op-q", query_id=query.id))
        session.flush()
        session.add(
            SerpResult(
                operation_id="op-q", query_id=query.id, url="https://mine.ru/", company_id=ids["mine.ru"]
            )
        )
    with write_scope(engine) as session:
        assert count_to_enrich(session, limit=50, batch_tag="alpha") == 1
        assert count_to_enrich(session, limit=50, batch_tag="beta") == 0
        assert count_to_enrich(session, limit=50) == 2
