"""dedupe_companies on SQLite and Postgres: the seed rules, name matching, restoring, idempotence."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadgen.companies import dedupe_companies
from leadgen.db import Company, CompanyStatus
from leadgen.domains import dedupe_hash
from leadgen.serp import ingest_payload
from leadgen.settings import Settings
from tests.serp.conftest import fixture_bytes

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def add(session: Session, minutes: int, **values: object) -> Company:
    values.setdefault("name", None)
    company = Company(created_at=T0 + timedelta(minutes=minutes), **values)
    session.add(company)
    session.flush()
    return company


def reload(session: Session, *companies: Company) -> None:
    session.flush()
    session.expire_all()


def test_stale_domains_fold_into_the_earliest(session: Session, settings: Settings) -> None:
    first = add(session, 0, name="Окна", canonical_domain="okna.ru", dedupe_hash=dedupe_hash("okna.ru"))
    www = add(
        session, 5, name="Окна www", canonical_domain="www.okna.ru", dedupe_hash="x" * 40, opt_out=False
    )
    mobile = add(session, 10, name="Окна m", canonical_domain="M.OKNA.RU.", website_url="https://m.okna.ru/")
    other = add(
        session, 15, name="Другая", canonical_domain="drugaya.ru", dedupe_hash=dedupe_hash("drugaya.ru")
    )
    report = dedupe_companies(session, settings)
    reload(session)

    assert (report.companies, report.marked_duplicate, report.groups_with_duplicates) == (4, 2, 1)
    assert report.domains_changed == 2 and report.duplicates == 2 and report.restored == 0
    for dup in (www, mobile):
        row = session.get(Company, dup.id)
        assert row.status == CompanyStatus.DUPLICATE and row.opt_out is True
        assert row.duplicate_of_id == first.id
        assert row.canonical_domain is None and row.dedupe_hash is None
        assert row.meta["dedupe"]["opt_out_before"] is False
        assert f"company {first.id}" in row.status_reason
    primary = session.get(Company, first.id)
    assert primary.status == CompanyStatus.NEW and primary.canonical_domain == "okna.ru"
    assert session.get(Company, other.id).status == CompanyStatus.NEW
    assert asdict(report)["marked_duplicate"] == 2


def test_earliest_created_at_wins_even_when_it_holds_the_stale_key(
    session: Session, settings: Settings
) -> None:
    older = add(session, 0, name="A", canonical_domain="www.firm.ru")
    newer = add(session, 30, name="B", canonical_domain="firm.ru", dedupe_hash=dedupe_hash("firm.ru"))
    dedupe_companies(session, settings)
    reload(session)
    assert session.get(Company, older.id).canonical_domain == "firm.ru"
    assert session.get(Company, older.id).dedupe_hash == dedupe_hash("firm.ru")
    assert session.get(Company, newer.id).duplicate_of_id == older.id


def test_idn_spellings_are_one_company(session: Session, settings: Settings) -> None:
    a = add(session, 0, canonical_domain="пример.рф")
    b = add(session, 1, canonical_domain="xn--e1afmkfd.xn--p1ai")
    c = add(session, 2, website_url="http://WWW.ПРИМЕР.РФ/contacts")
    report = dedupe_companies(session, settings)
    reload(session)
    assert report.marked_duplicate == 2
    assert session.get(Company, a.id).dedupe_hash == dedupe_hash("пример.рф")
    assert {session.get(Company, x.id).duplicate_of_id for x in (b, c)} == {a.id}


def test_website_fills_in_a_missing_domain(session: Session, settings: Settings) -> None:
    company = add(session, 0, name="X", website_url="https://www.shop.example.co.uk/")
    dedupe_companies(session, settings)
    reload(session)
    row = session.get(Company, company.id)
    assert row.canonical_domain == "example.co.uk" and row.dedupe_hash == dedupe_hash("example.co.uk")


def test_duplicate_becomes_primary_again_when_its_primary_goes(session: Session, settings: Settings) -> None:
    first = add(session, 0, canonical_domain="firm.ru", website_url="https://firm.ru/")
    second = add(
        session, 1, canonical_domain="www.firm.ru", website_url="https://www.firm.ru/", opt_out=False
    )
    dedupe_companies(session, settings)
    reload(session)
    session.delete(session.get(Company, first.id))
    session.flush()
    report = dedupe_companies(session, settings)
    reload(session)
    row = session.get(Company, second.id)
    assert report.restored == 1
    assert row.status == CompanyStatus.NEW and row.opt_out is False and row.duplicate_of_id is None
    assert row.canonical_domain == "firm.ru" and "dedupe" not in row.meta


def test_restoring_keeps_a_real_opt_out(session: Session, settings: Settings) -> None:
    first = add(session, 0, canonical_domain="firm.ru")
    second = add(session, 1, website_url="https://firm.ru/", opt_out=True)
    dedupe_companies(session, settings)
    reload(session)
    session.delete(session.get(Company, first.id))
    session.flush()
    dedupe_companies(session, settings)
    reload(session)
    assert session.get(Company, second.id).opt_out is True
    assert session.get(Company, second.id).status == CompanyStatus.NEW


def test_names_match_companies_without_a_domain(session: Session, settings: Settings) -> None:
    with_domain = add(session, 0, name="ООО «Ромашка Плюс»", canonical_domain="romashka.ru")
    exact = add(session, 5, name="Ромашка-Плюс")
    fuzzy = add(session, 6, name='АО "Ромашка Плюсс"')
    lone = add(session, 7, name="ИП Лютиков")
    lone_twin = add(session, 8, name="Индивидуальный предприниматель ЛЮТИКОВ")
    far = add(session, 9, name="Ромашка Север")
    nameless = add(session, 10)
    report = dedupe_companies(session, settings)
    reload(session)
    assert report.name_matches == 3 and report.without_key == 1
    assert session.get(Company, exact.id).duplicate_of_id == with_domain.id
    assert session.get(Company, fuzzy.id).duplicate_of_id == with_domain.id
    assert session.get(Company, lone_twin.id).duplicate_of_id == lone.id
    for keep in (with_domain, lone, far, nameless):
        assert session.get(Company, keep.id).status == CompanyStatus.NEW
    assert session.get(Company, with_domain.id).canonical_domain == "romashka.ru"


def test_fuzzy_names_must_agree_on_numbers(session: Session, settings: Settings) -> None:
    add(session, 0, name="Автосервис 24")
    other = add(session, 1, name="Автосервис 74")
    same = add(session, 2, name="ООО «Автосервис-24»")
    report = dedupe_companies(session, settings)
    reload(session)
    assert report.name_matches == 1
    assert session.get(Company, other.id).status == CompanyStatus.NEW
    assert session.get(Company, same.id).status == CompanyStatus.DUPLICATE


def test_name_threshold_comes_from_settings(session: Session, db_url: str) -> None:
    add(session, 0, name="Ромашка Плюс")
    fuzzy = add(session, 1, name="Ромашка Плюсс")
    strict = Settings(_env_file=None, database_url=db_url, dedupe_name_threshold=100)  # type: ignore[call-arg]
    assert dedupe_companies(session, strict).name_matches == 0
    reload(session)
    assert session.get(Company, fuzzy.id).status == CompanyStatus.NEW


def test_companies_with_domains_are_never_merged_by_name(session: Session, settings: Settings) -> None:
    add(session, 0, name="Окна Плюс", canonical_domain="okna-plus.ru")
    add(session, 1, name="Окна Плюс", canonical_domain="okna-plus.com")
    assert dedupe_companies(session, settings).duplicates == 0


def test_second_run_changes_nothing(session: Session, settings: Settings) -> None:
    add(session, 0, canonical_domain="a.ru")
    add(session, 1, canonical_domain="www.a.ru")
    add(session, 2, name="ООО Бета")
    add(session, 3, name="Бета")
    dedupe_companies(session, settings)
    reload(session)
    before = [
        (
            c.id,
            c.canonical_domain,
            c.dedupe_hash,
            c.status,
            c.duplicate_of_id,
            c.opt_out,
            c.updated_at,
            c.meta,
        )
        for c in session.scalars(select(Company).order_by(Company.id))
    ]
    report = dedupe_companies(session, settings)
    reload(session)
    after = [
        (
            c.id,
            c.canonical_domain,
            c.dedupe_hash,
            c.status,
            c.duplicate_of_id,
            c.opt_out,
            c.updated_at,
            c.meta,
        )
        for c in session.scalars(select(Company).order_by(Company.id))
    ]
    assert report.updated == 0 and report.marked_duplicate == 0 and after == before


def test_a_duplicate_without_website_remembers_its_domain(session: Session, settings: Settings) -> None:
    first = add(session, 0, canonical_domain="firm.ru")
    later = add(session, 1, name="Фирма", canonical_domain="www.firm.ru")  # no website_url
    dedupe_companies(session, settings)
    reload(session)
    assert session.get(Company, later.id).meta["dedupe"]["canonical_domain"] == "firm.ru"
    assert dedupe_companies(session, settings).updated == 0
    session.delete(session.get(Company, first.id))
    session.flush()
    dedupe_companies(session, settings)
    reload(session)
    assert session.get(Company, later.id).canonical_domain == "firm.ru"


def test_ingested_companies_have_no_repeated_domains(session: Session, settings: Settings) -> None:
    for i, name in enumerate(["page0_moscow_windows.xml", "page2_multidoc_missing_tags.xml"]):
        ingest_payload(session, settings, operation_id=f"op{i}", xml=fixture_bytes(name), now=T0)
    report = dedupe_companies(session, settings)
    assert report.companies == 6 and report.duplicates == 0 and report.updated == 0
