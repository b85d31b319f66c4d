"""The enrichment stage: claim `new` companies, crawl their sites, store contacts, record the outcome."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Engine
from sqlalchemy.exc import StatementError

from leadgen.clock import Clock, utc_now
from leadgen.contacts.cap import cap_contacts
from leadgen.contacts.crawler import Crawler, SiteCrawl
from leadgen.contacts.politeness import Monotonic, Sleep
from leadgen.contacts.ssrf import Resolver
from leadgen.contacts.store import (
    choose_primary,
    claim_companies,
    record_outcome,
    release_claim,
    upsert_contacts,
)
from leadgen.db.engine import write_scope
from leadgen.db.models import Company, CompanyStatus
from leadgen.owners import process_owner
from leadgen.settings import Settings
from leadgen.stage_report import ItemError

Progress = Callable[["CompanyOutcome"], None]
MAX_REASON = 300  # characters of an exception kept in reports and status_reason


@dataclass(frozen=True, slots=True)
class CompanyOutcome:
    """The outcome of one company, passed to the progress callback."""

    company_id: int
    domain: str | None
    status: str
    emails: int
    phones: int
    pages: int
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class EnrichReport:
    """Counts of one enrichment run plus per-company errors (item `company`, outcome `unreachable`, or `released`
    when its contacts could not be stored); JSON-serialisable with dataclasses.asdict."""

    claimed: int = 0
    enriched: int = 0
    no_contacts: int = 0
    unreachable: int = 0
    emails: int = 0
    phones: int = 0
    pages_fetched: int = 0
    errors: tuple[ItemError, ...] = ()


def short_error(exc: BaseException) -> str:
    """`Type: first line` of an exception; for a database error the driver's first line only, never the SQL
    statement or its parameters (SQLAlchemy appends both to its message)."""
    if isinstance(exc, StatementError) and exc.orig is not None:
        exc = exc.orig
    lines = str(exc).strip().splitlines()
    first = lines[0] if lines else ""
    return f"{type(exc).__name__}: {first}"[:MAX_REASON]


def start_url(company: Company) -> str | None:
    """Where to start crawling: the home page of the company's website URL (a SERP hit is often a deep page),
    else its canonical domain (tried as https, then http)."""
    if company.website_url and company.website_url.lower().startswith(("http://", "https://")):
        parts = urlsplit(company.website_url.strip())
        if parts.hostname:
            return f"{parts.scheme.lower()}://{parts.netloc}/"
    return company.canonical_domain


async def enrich_companies(
    engine: Engine,
    settings: Settings,
    *,
    limit: int,
    company_ids: Sequence[int] | None = None,
    now: Clock = utc_now,
    http: httpx.AsyncClient | None = None,
    resolver: Resolver | None = None,
    sleep: Sleep | None = None,
    monotonic: Monotonic | None = None,
    force: bool = False,
    progress: Progress | None = None,
    owner: str | None = None,
    batch_tag: str | None = None,
) -> EnrichReport:
    """Claim up to `limit` companies (status new → enriching), crawl them with bounded concurrency, and store
    contacts and the outcome (enriched / no_contacts / unreachable + reason) per company in its own
    transaction. Re-runnable: contacts are upserted, and only `new` companies are claimed (all listed
    `company_ids` with `force`). `http` (e.g. a client on a mock transport) replaces the production client.
    The claims record `owner` (default: this process; leadgen.owners). With `batch_tag`, only companies of
    that batch are claimed."""
    claimed = _claim(
        engine, limit=limit, now=now, company_ids=company_ids, force=force, owner=owner, batch_tag=batch_tag
    )
    if not claimed:
        return EnrichReport()
    if http is not None:
        crawler = Crawler(http, settings, resolver=resolver, sleep=sleep, monotonic=monotonic)
    else:
        crawler = Crawler.build(settings, resolver=resolver, sleep=sleep, monotonic=monotonic)
    outcomes: list[CompanyOutcome] = []
    errors: list[ItemError] = []
    semaphore = asyncio.Semaphore(settings.crawl_concurrency)

    async def one(company_id: int, domain: str | None, url: str | None) -> None:
        site, reason = await _crawl(crawler, semaphore, url)
        try:
            outcome = _store(engine, company_id, domain, site, reason, now, settings)
        except Exception as exc:
            failure = f"storing failed: {short_error(exc)}"
            errors.append(_company_error(company_id, domain, failure, "released"))
            _release(engine, company_id, failure, now)
            return
        outcomes.append(outcome)
        if outcome.status == CompanyStatus.UNREACHABLE:
            errors.append(_company_error(company_id, domain, outcome.reason or "unreachable", "unreachable"))
        if progress is not None:
            progress(outcome)

    try:
        await asyncio.gather(*(one(*item) for item in claimed))
    finally:
        await crawler.aclose()
    return _report(len(claimed), outcomes, errors)


def _company_error(company_id: int, domain: str | None, reason: str, outcome: str) -> ItemError:
    """A company the run could not enrich: `unreachable`, or `released` when its contacts could not be stored."""
    return ItemError("company", reason, id=company_id, key=domain, outcome=outcome)


def _claim(
    engine: Engine,
    *,
    limit: int,
    now: Clock,
    company_ids: Sequence[int] | None,
    force: bool,
    owner: str | None,
    batch_tag: str | None,
) -> list[tuple[int, str | None, str | None]]:
    """Claim the companies (owner: this process unless given); (id, canonical domain, start URL) of each."""
    with write_scope(engine) as session:
        companies = claim_companies(
            session,
            limit=limit,
            now=now(),
            company_ids=company_ids,
            force=force,
            owner=owner or process_owner(),
            batch_tag=batch_tag,
        )
        return [(c.id, c.canonical_domain, start_url(c)) for c in companies]


async def _crawl(
    crawler: Crawler, semaphore: asyncio.Semaphore, url: str | None
) -> tuple[SiteCrawl | None, str | None]:
    """Crawl one site under the concurrency bound: the crawl (None when it raised) and why it failed."""
    if not url:
        return None, "no website URL or domain"
    async with semaphore:
        try:
            site = await crawler.crawl(url)
        except Exception as exc:  # one company's failure must not stop the batch
            return None, short_error(exc)
        return site, site.error


def _report(claimed: int, outcomes: list[CompanyOutcome], errors: list[ItemError]) -> EnrichReport:
    return EnrichReport(
        claimed=claimed,
        enriched=sum(o.status == CompanyStatus.ENRICHED for o in outcomes),
        no_contacts=sum(o.status == CompanyStatus.NO_CONTACTS for o in outcomes),
        unreachable=sum(o.status == CompanyStatus.UNREACHABLE for o in outcomes),
        emails=sum(o.emails for o in outcomes),
        phones=sum(o.phones for o in outcomes),
        pages_fetched=sum(o.pages for o in outcomes),
        errors=tuple(errors),
    )


def _release(engine: Engine, company_id: int, reason: str, now: Clock) -> None:
    """Give the claim back after a failed store, so the company does not stay `enriching`."""
    # If the database is gone too, STALE_ENRICHING (or `release_stale`) re-claims the company later.
    with contextlib.suppress(Exception), write_scope(engine) as session:
        release_claim(session, company_id, reason=reason, now=now())


def _store(
    engine: Engine,
    company_id: int,
    domain: str | None,
    site: SiteCrawl | None,
    reason: str | None,
    now: Clock,
    settings: Settings,
) -> CompanyOutcome:
    preference = settings.outreach_recipient_preference
    moment = now()
    pages_ok = sum(1 for p in site.pages if p.error is None) if site else 0
    with write_scope(engine) as session:
        if site is None or not site.reachable:
            record_outcome(session, company_id, status=CompanyStatus.UNREACHABLE, reason=reason, now=moment)
            return CompanyOutcome(company_id, domain, CompanyStatus.UNREACHABLE.value, 0, 0, pages_ok, reason)
        contacts, dropped = cap_contacts(site.contacts, settings.crawl_max_contacts_per_company, preference)
        upsert_contacts(session, company_id, contacts, now=moment)
        chosen = choose_primary(session, company_id, preference=preference)
        useful = [c for c in contacts if not c.web_studio]
        emails = sum(c.kind == "email" for c in useful)
        phones = sum(c.kind == "phone" for c in useful)
        if chosen.get("email") or chosen.get("phone"):
            status, why = CompanyStatus.ENRICHED, None
        else:
            status, why = CompanyStatus.NO_CONTACTS, f"no contacts on {pages_ok} page(s)"
        meta = {
            "crawl": {
                "home_url": site.home_url,
                "pages": [p.final_url or p.url for p in site.pages if p.error is None],
                "page_errors": [f"{p.url}: {p.error}" for p in site.pages if p.error][:10],
                "at": moment.isoformat(),
            },
            "contacts_dropped": dropped,  # beyond CRAWL_MAX_CONTACTS_PER_COMPANY (0: none)
        }
        record_outcome(
            session, company_id, status=status, reason=why, now=moment, site_text=site.site_text, meta=meta
        )
    return CompanyOutcome(company_id, domain, status.value, emails, phones, pages_ok, why)
