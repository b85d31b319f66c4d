"""Storage and the enrichment stage on SQLite and Postgres: idempotent upserts, primary choice, claims, outcomes."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from leadgen.clock import ManualClock
from leadgen.contacts.enrich import enrich_companies
from leadgen.contacts.extract import Contact as Found
from leadgen.contacts.store import choose_primary, claim_companies, release_stale, upsert_contacts
from leadgen.db import Company, CompanyStatus, Contact, ContactSource, write_scope
from leadgen.settings import Settings
from leadgen_sandbox.site_farm import SiteFarm

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _company(session: Session, domain: str, **kwargs: object) -> Company:
    company = Company(canonical_domain=domain, website_url=f"http://{domain}/", name=domain, **kwargs)
    session.add(company)
    session.flush()
    return company


def found(value: str, source: str = "text", quality: float = 0.8, **kwargs: object) -> Found:
    kind = "email" if "@" in value else "phone"
    return Found(kind, value, source, quality, kwargs.pop("page_url", "http://firma.ru/"), **kwargs)  # type: ignore[arg-type]


def test_upsert_is_idempotent_and_merges(session: Session) -> None:
    company = _company(session, "firma.ru")
    upsert_contacts(session, company.id, [found("info@firma.ru"), found("+74951112233", "tel", 0.9)], now=T0)
    upsert_contacts(
        session,
        company.id,
        [
            found("INFO@firma.ru", "mailto", 1.0, page_url="http://firma.ru/contacts"),
            found("+74951112233", "text", 0.6, extension="12"),
        ],
        now=T0 + timedelta(days=1),
    )
    upsert_contacts(
        session, company.id, [found("info@firma.ru", "obfuscated", 0.7)], now=T0 + timedelta(days=2)
    )
    rows = {
        c.value.lower(): c for c in session.scalars(select(Contact).where(Contact.company_id == company.id))
    }
    assert set(rows) == {"info@firma.ru", "+74951112233"}
    email, phone = rows["info@firma.ru"], rows["+74951112233"]
    session.refresh(email)
    session.refresh(phone)
    assert (email.source, email.quality_score, email.page_url) == (
        ContactSource.MAILTO,
        1.0,
        "http://firma.ru/contacts",
    )
    assert email.first_seen_at == T0 and email.last_seen_at == T0 + timedelta(days=2)
    assert (phone.source, phone.quality_score) == (ContactSource.TEL, 0.9)
    assert phone.meta == {"extension": "12"}


def test_manual_contact_keeps_its_source(session: Session) -> None:
    company = _company(session, "firma.ru")
    session.add(
        Contact(
            company_id=company.id,
            kind="email",
            value="boss@firma.ru",
            source=ContactSource.MANUAL,
            quality_score=0.5,
        )
    )
    session.flush()
    upsert_contacts(session, company.id, [found("boss@firma.ru", "mailto", 1.0)], now=T0)
    row = session.scalars(select(Contact)).one()
    session.refresh(row)
    assert (row.source, row.quality_score) == (ContactSource.MANUAL, 0.5)


def test_primary_is_best_and_never_a_web_studio(session: Session) -> None:
    company = _company(session, "firma.ru")
    upsert_contacts(
        session,
        company.id,
        [
            found("studio@webstudio.ru", "mailto", 1.0, web_studio=True),
            found("info@firma.ru", "text", 0.8),
            found("boss@firma.ru", "jsonld", 0.95),
            found("+74951112233", "text", 0.6),
            found("+74951112244", "tel", 0.9),
        ],
        now=T0,
    )
    chosen = choose_primary(session, company.id)
    primaries = set(session.scalars(select(Contact.value).where(Contact.is_primary)))
    assert primaries == {"boss@firma.ru", "+74951112244"}
    assert set(chosen) == {"email", "phone"}
    only_studio = _company(session, "solo.ru")
    upsert_contacts(
        session, only_studio.id, [found("studio@webstudio.ru", "mailto", 0.3, web_studio=True)], now=T0
    )
    assert choose_primary(session, only_studio.id) == {"email": None, "phone": None}


def test_claims_are_conditional(engine: Engine) -> None:
    with write_scope(engine) as session:
        ids = [_company(session, f"c{i}.ru").id for i in range(5)]
        _company(session, "done.ru", status=CompanyStatus.ENRICHED)
    with write_scope(engine) as session:
        first = claim_companies(session, limit=3, now=T0)
    with write_scope(engine) as session:
        second = claim_companies(session, limit=10, now=T0)
    assert [c.id for c in first] == ids[:3] and [c.id for c in second] == ids[3:]
    with write_scope(engine) as session:
        assert claim_companies(session, limit=10, now=T0) == []
        done = session.scalars(select(Company.id).where(Company.canonical_domain == "done.ru")).one()
        assert claim_companies(session, limit=10, now=T0, company_ids=[done]) == []
        assert [c.id for c in claim_companies(session, limit=10, now=T0, company_ids=[done], force=True)] == [
            done
        ]
    with write_scope(engine) as session:
        assert release_stale(session, older_than=datetime.now(UTC) + timedelta(minutes=1)) == 6
        assert session.scalar(select(func.count()).where(Company.status == CompanyStatus.NEW)) == 6


@pytest.fixture(scope="module")
def farm() -> SiteFarm:
    with SiteFarm(seed=3, slow_seconds=2.0, huge_bytes=300_000) as running:
        yield running  # type: ignore[misc]


def _by_kind(farm: SiteFarm, kinds: list[str]) -> list[str]:
    out, wanted = [], list(kinds)
    for domain in farm.domains(800):
        kind = farm.truth(domain)["kind"]
        if kind in wanted:
            wanted.remove(kind)  # type: ignore[arg-type]
            out.append(domain)
    assert not wanted, wanted
    return out


def test_enrich_companies_against_the_farm(engine: Engine, db_url: str, farm: SiteFarm) -> None:
    kinds = ["footer", "table", "jsonld", "microdata", "obfuscated", "cfemail", "cp1251", "deep_link", "studio",
             "js_only", "no_contacts", "error404", "redirect_loop", "robots_all", "robots_contacts", "huge"]  # fmt: skip
    domains = _by_kind(farm, kinds)
    with write_scope(engine) as session:
        ids = {_company(session, d).id: d for d in domains}
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=db_url, crawl_proxy_url=farm.proxy_url, crawl_timeout_seconds=1.0,
        crawl_per_host_delay_seconds=0.5, crawl_max_body_bytes=100_000,
    )  # fmt: skip
    clock = ManualClock(T0)
    seen: list[str] = []

    def run() -> object:
        return asyncio.run(
            enrich_companies(
                engine, settings, limit=100, now=clock, sleep=clock.async_sleep,
                monotonic=lambda: clock().timestamp(), progress=lambda o: seen.append(o.status),
            )
        )  # fmt: skip

    report = run()
    assert report.claimed == len(domains)  # type: ignore[attr-defined]
    assert len(seen) == len(domains)
    assert asdict(report)["errors"]  # type: ignore[call-overload]
    with write_scope(engine) as session:
        for company_id, domain in ids.items():
            truth = farm.truth(domain)
            company = session.get(Company, company_id)
            assert company is not None
            assert company.status.value == truth["status"], (domain, truth["kind"], company.status_reason)
            values = {
                c.value for c in session.scalars(select(Contact).where(Contact.company_id == company_id))
            }
            expected = set(truth["emails"]) | set(truth["phones"]) | set(truth["studio_emails"])  # type: ignore[arg-type]
            assert values == expected, domain
            if company.status == CompanyStatus.UNREACHABLE:
                assert company.status_reason
            if company.status == CompanyStatus.ENRICHED:
                assert company.enriched_at is not None and company.enriched_at >= T0 and company.site_text
                primary = session.scalars(
                    select(Contact).where(
                        Contact.company_id == company_id, Contact.is_primary, Contact.kind == "email"
                    )
                ).one_or_none()
                assert primary is None or primary.value not in truth["studio_emails"]  # type: ignore[operator]
        total = session.scalar(select(func.count()).select_from(Contact))

    # Re-running changes nothing: nothing new to claim; forcing a re-crawl upserts the same rows.
    assert run().claimed == 0  # type: ignore[attr-defined]
    clock.advance(days=1)
    rerun_at = clock()
    again = asyncio.run(
        enrich_companies(engine, settings, limit=100, company_ids=list(ids), force=True, now=clock,
                         sleep=clock.async_sleep, monotonic=lambda: clock().timestamp())
    )  # fmt: skip
    assert again.claimed == len(domains)
    with write_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == total
        latest = session.scalar(select(func.max(Contact.last_seen_at)))
        earliest = session.scalar(select(func.min(Contact.first_seen_at)))
        assert (
            latest is not None
            and latest >= rerun_at
            and earliest is not None
            and earliest < rerun_at - timedelta(hours=23)
        )


def test_enrich_with_injected_http_client(engine: Engine, db_url: str) -> None:
    with write_scope(engine) as session:
        company = _company(session, "firma.ru")

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/":
            return httpx.Response(
                200, headers={"content-type": "text/html"}, text="<p>Тел. +7 495 111-22-33</p>"
            )
        return httpx.Response(404)

    async def resolver(host: str) -> list[str]:
        return ["93.184.216.34"]

    async def main() -> object:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            settings = Settings(_env_file=None, database_url=db_url, crawl_per_host_delay_seconds=0)  # type: ignore[call-arg]
            return await enrich_companies(engine, settings, limit=5, http=http, resolver=resolver)

    report = asyncio.run(main())
    assert (report.enriched, report.phones, report.emails) == (1, 1, 0)  # type: ignore[attr-defined]
    with write_scope(engine) as session:
        stored = session.get(Company, company.id)
        assert stored is not None and stored.status == CompanyStatus.ENRICHED


@pytest.mark.parametrize(
    ("website_url", "domain", "expected"),
    [
        ("https://firma.ru/catalog/item-5?utm=1", "firma.ru", "https://firma.ru/"),
        ("http://www.firma.ru:8080/spb/", "firma.ru", "http://www.firma.ru:8080/"),
        (None, "firma.ru", "firma.ru"),
        ("javascript:alert(1)", "firma.ru", "firma.ru"),
        (None, None, None),
    ],
)
def test_start_url(website_url: str | None, domain: str | None, expected: str | None) -> None:
    from leadgen.contacts.enrich import start_url

    assert start_url(Company(website_url=website_url, canonical_domain=domain)) == expected


def test_primary_email_follows_the_recipient_preference_and_says_why(session: Session) -> None:
    company = _company(session, "zavod.ru")
    upsert_contacts(
        session,
        company.id,
        [
            found("buh@zavod.ru", "mailto", 1.0),
            found("hr@zavod.ru", "mailto", 1.0),
            found("info@zavod.ru", "text", 0.8),
            found("sales@zavod.ru", "obfuscated", 0.7),
            found("web@studio.ru", "mailto", 1.0, web_studio=True),
        ],
        now=T0,
    )
    chosen = choose_primary(session, company.id)
    rows = {c.value: c for c in session.scalars(select(Contact).where(Contact.company_id == company.id))}
    assert chosen["email"] == rows["sales@zavod.ru"].id and rows["sales@zavod.ru"].is_primary
    assert rows["sales@zavod.ru"].meta["chosen"] == "preferred: sales@ (rank 2 of 11) among 4 addresses"
    assert not any("chosen" in rows[v].meta for v in rows if v != "sales@zavod.ru")
    # Another order moves the choice and its reason; the old reason is dropped.
    choose_primary(session, company.id, preference="info,other")
    session.expire_all()
    rows = {c.value: c for c in session.scalars(select(Contact).where(Contact.company_id == company.id))}
    assert [v for v in rows if rows[v].is_primary and "@" in v] == ["info@zavod.ru"]
    assert rows["info@zavod.ru"].meta["chosen"] == "preferred: info@ (rank 1 of 2) among 4 addresses"
    assert "chosen" not in rows["sales@zavod.ru"].meta


def test_punycode_and_unicode_forms_are_one_contact(session: Session) -> None:
    from leadgen.contacts.extract import extract_contacts

    company = _company(session, "xn--80aaaywbhiionmfd6l.xn--p1ai")
    first = extract_contacts(
        '<a href="mailto:%D0%B7%D0%B0%D0%BA%D0%B0%D0%B7@xn--80aaaywbhiionmfd6l.xn--p1ai">x</a>',
        base_url="https://уралстальмонтаж.рф/",
    )
    second = extract_contacts("<p>ЗАКАЗ@Уралстальмонтаж.РФ</p>", base_url="https://уралстальмонтаж.рф/")
    upsert_contacts(session, company.id, first, now=T0)
    upsert_contacts(session, company.id, second, now=T0 + timedelta(days=1))
    rows = session.execute(
        select(Contact.value, Contact.source).where(Contact.company_id == company.id)
    ).all()
    assert rows == [("заказ@уралстальмонтаж.рф", "mailto")]


def test_contacts_export_says_which_email_was_chosen_and_why(session: Session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import csv

    from leadgen.exports import export_contacts

    company = _company(session, "окна.рф", status=CompanyStatus.ENRICHED)
    upsert_contacts(
        session,
        company.id,
        [found("buh@окна.рф", "mailto", 1.0), found("продажи@окна.рф", "text", 0.8)],
        now=T0,
    )
    choose_primary(session, company.id)
    assert export_contacts(session, tmp_path / "c.csv") == 2
    with (tmp_path / "c.csv").open(encoding="utf-8") as fh:
        rows = {r["value"]: r for r in csv.DictReader(fh)}
    assert rows["продажи@окна.рф"]["is_primary"] == "1"
    assert rows["продажи@окна.рф"]["chosen"] == "preferred: sales: продажи@ (rank 2 of 11) among 2 addresses"
    assert rows["buh@окна.рф"]["chosen"] == ""
