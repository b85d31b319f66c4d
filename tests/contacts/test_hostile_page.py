"""A hostile page listing 60,000 addresses: enrichment keeps the best CRAWL_MAX_CONTACTS_PER_COMPANY, counts the
rest, writes in batches under the driver's bind-parameter limit, and never leaves the company claimed (issue 22)."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import Engine, func, select

from leadgen.contacts.cap import cap_contacts
from leadgen.contacts.enrich import EnrichReport, enrich_companies, short_error
from leadgen.contacts.extract import Contact as Found
from leadgen.contacts.store import upsert_contacts
from leadgen.db import Company, CompanyStatus, Contact, write_scope
from leadgen.settings import Settings

ADDRESSES = 60_000
CAP = 200


def hostile_page() -> str:
    """A spam-trap style page: a short real header with a sales mailbox and phone, then 60,000 made-up addresses
    as plain text lines (real extraction and quality scoring, no shortcut), about 1.3 MB."""
    rows = "<br>\n".join(f"user{n:05d}@trap{n % 97}.ru" for n in range(ADDRESSES))
    return f"""<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><title>ООО «Ловушка» — контакты</title></head>
<body><header><p>Отдел продаж: <a href="mailto:sales@lovushka.ru">sales@lovushka.ru</a>,
тел. <a href="tel:+74951112233">+7 (495) 111-22-33</a></p></header>
<div class="list">
{rows}
</div></body></html>"""


def run_enrich(engine: Engine, db_url: str, html: str, *, cap: int = CAP) -> EnrichReport:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/":
            return httpx.Response(200, headers={"content-type": "text/html; charset=utf-8"}, text=html)
        return httpx.Response(404)

    async def resolver(host: str) -> list[str]:
        return ["93.184.216.34"]

    async def main() -> EnrichReport:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            settings = Settings(  # type: ignore[call-arg]
                _env_file=None,
                database_url=db_url,
                crawl_per_host_delay_seconds=0,
                crawl_max_pages_per_company=1,
                crawl_max_contacts_per_company=cap,
            )
            return await enrich_companies(engine, settings, limit=5, http=http, resolver=resolver)

    return asyncio.run(main())


def test_hostile_page_is_capped_and_stored(engine: Engine, db_url: str) -> None:
    html = hostile_page()
    assert (
        len(html.encode()) < Settings.model_fields["crawl_max_body_bytes"].default
    )  # under the body-size cap
    with write_scope(engine) as session:
        company = Company(canonical_domain="lovushka.ru", website_url="http://lovushka.ru/", name="Ловушка")
        session.add(company)
        session.flush()
        company_id = company.id

    report = run_enrich(engine, db_url, html)

    assert report.errors == () and report.enriched == 1
    with write_scope(engine) as session:
        stored = session.get(Company, company_id)
        assert stored is not None
        assert stored.status == CompanyStatus.ENRICHED and stored.status_reason is None
        dropped = stored.meta["contacts_dropped"]
        assert dropped == ADDRESSES + 2 - CAP  # 60,000 + the sales mailbox + the phone, all distinct
        count = session.scalar(select(func.count()).where(Contact.company_id == company_id))
        assert count == CAP
        values = set(session.scalars(select(Contact.value).where(Contact.company_id == company_id)))
        assert "sales@lovushka.ru" in values  # the site's own mailbox outranks the trap's list
        primary = session.scalar(
            select(Contact.value).where(
                Contact.company_id == company_id, Contact.is_primary, Contact.kind == "email"
            )
        )
        assert primary == "sales@lovushka.ru"
        claimed = session.scalar(select(func.count()).where(Company.status == CompanyStatus.ENRICHING))
        assert claimed == 0


def test_upsert_writes_60000_rows_in_batches(engine: Engine) -> None:
    """Without the cap, the store alone takes 60,000 rows (12 columns each: 720,000 bind parameters)."""
    contacts = [
        Found("email", f"user{n:05d}@trap{n % 97}.ru", "text", 0.5, "http://lovushka.ru/")
        for n in range(ADDRESSES)
    ]
    with write_scope(engine) as session:
        company = Company(canonical_domain="lovushka.ru", website_url="http://lovushka.ru/", name="Ловушка")
        session.add(company)
        session.flush()
        written = upsert_contacts(session, company.id, contacts, now=company.created_at)
        assert written == ADDRESSES
        assert session.scalar(select(func.count()).where(Contact.company_id == company.id)) == ADDRESSES


def test_cap_keeps_quality_then_preference_then_order() -> None:
    def email(local: str, quality: float) -> Found:
        return Found("email", f"{local}@firma.ru", "text", quality, "http://firma.ru/")

    contacts = [
        email("hr", 0.8),
        email("ivanov", 0.8),
        email("sales", 0.8),
        email("abuse", 0.9),
        Found("phone", "+74951112233", "tel", 0.7, "http://firma.ru/"),
        email("SALES", 0.6),  # the same address again: not counted twice
    ]
    kept, dropped = cap_contacts(contacts, 2)
    assert [c.value for c in kept] == ["sales@firma.ru", "abuse@firma.ru"]  # crawler order kept
    assert dropped == 3
    assert cap_contacts(contacts, 10) == ([c for c in contacts[:5]], 0)


def test_failed_store_releases_the_claim_without_sql(engine: Engine, db_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The failure issue 22 saw: no cap and one 60,000-row INSERT (720,000 bind parameters) is refused by the
    driver (psycopg: "number of parameters must be between 0 and 65535"; SQLite: "too many SQL variables").
    The company goes back to `new` with a one-line reason; neither the report nor the reason carries the
    statement or its parameters."""
    monkeypatch.setattr("leadgen.contacts.store.UPSERT_BATCH", 1_000_000)
    with write_scope(engine) as session:
        company = Company(canonical_domain="lovushka.ru", website_url="http://lovushka.ru/", name="Ловушка")
        session.add(company)
        session.flush()
        company_id = company.id

    report = run_enrich(engine, db_url, hostile_page(), cap=1_000_000)

    assert report.enriched == 0 and len(report.errors) == 1
    (error,) = report.errors
    assert (error.item, error.id, error.outcome) == ("company", company_id, "released")
    reason = error.reason
    assert reason.startswith("storing failed: ") and "\n" not in reason and len(reason) < 300
    assert "user00" not in reason and "INSERT" not in reason and "[SQL" not in reason
    with write_scope(engine) as session:
        stored = session.get(Company, company_id)
        assert stored is not None and stored.status == CompanyStatus.NEW
        assert stored.status_reason == reason
        assert session.scalar(select(func.count()).where(Contact.company_id == company_id)) == 0


def test_short_error_keeps_the_first_line_only() -> None:
    assert short_error(ValueError("bad thing\nmore detail")) == "ValueError: bad thing"
    assert len(short_error(RuntimeError("x" * 5000))) == 300
